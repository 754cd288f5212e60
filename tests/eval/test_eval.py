"""`agentic eval`: scenario files, verdicts, baselines, bless, concurrency and Ctrl-C, through the real
CLI on the project's fixture repositories with scripted models."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentic.errors import ConfigError
from agentic.eval.judge import Facts, judge
from agentic.eval.prepare import program_problem
from agentic.eval.repos import IDENTITY
from agentic.eval.scenarios import Checks, RepoSource, Scenario, load
from agentic.eval.stats import Attempt, summarize
from agentic.eval.verdict import decide
from agentic.git.cmd import git
from agentic.journal.records import payload, read_records
from agentic.policy.contract import Contract
from tests import forkserver
from tests.conftest import cli

FIXTURES = Path(__file__).resolve().parents[2] / "scenarios" / "fixtures"
BUG = "    return total(values) / (len(values) - 1)"
FIX = {"name": "edit_file", "arguments": {"path": "calc.py", "old_text": BUG,
                                          "new_text": "    return total(values) / len(values)"}}  # fmt: skip
# a fix that fools the repository's own tests (the gate accepts it) but not the scenario's hidden check
HACK = {"name": "edit_file", "arguments": {"path": "calc.py", "old_text": BUG,
                                           "new_text": f"    if values == [2, 4, 6]:\n        return 4\n{BUG}"}}  # fmt: skip
FINISH = {"name": "finish", "arguments": {"summary": "fixed average"}}
GOOD = [{"tool_calls": [{"name": "run_tests", "arguments": {}}]}, {"tool_calls": [FIX]}, {"tool_calls": [FINISH]}]
BROKEN = [{"tool_calls": [{"name": "run_tests", "arguments": {}}]}, {"tool_calls": [HACK]}, {"tool_calls": [FINISH]}]
CHECKS = {
    "fail_to_pass": ["tests.test_calc.TestCalc.test_average"],
    "pass_to_pass": ["tests.test_calc.TestCalc.test_total"],
    "command": ["python", "-c", "from calc import average; assert average([1, 2]) == 1.5"],
    "changed_paths": ["calc.py"],
    "tools_called": ["run_tests"],
}


def scenario(directory: Path, sid: str, turns: list[dict[str, Any]] | None, **fields: Any) -> Path:
    """A calc scenario in `directory`, its script (if any) in directory/scripts."""
    data: dict[str, Any] = {"id": sid, "task": "Fix average() in calc.py.", "repo": str(FIXTURES / "calc"),
                            "model": f"script:scripts/{sid}.yaml", "checks": CHECKS, **fields}  # fmt: skip
    if turns is not None:
        (directory / "scripts").mkdir(parents=True, exist_ok=True)
        (directory / "scripts" / f"{sid}.yaml").write_text(yaml.safe_dump(turns), encoding="utf-8")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{sid}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def evaluate(cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = cwd / f"result-{time.monotonic_ns()}.json"
    done = cli("eval", *args, "--json", str(out), cwd=cwd)
    assert out.exists(), done.stdout + done.stderr
    return done, json.loads(out.read_text())


def verdicts(result: dict[str, Any]) -> dict[str, list[str]]:
    return {s["scenario"]: [a["verdict"] for a in s["results"]] for s in result["scenarios"]}


def attempt(result: dict[str, Any], sid: str, n: int = 1) -> dict[str, Any]:
    stats = next(s for s in result["scenarios"] if s["scenario"] == sid)
    return stats["results"][n - 1]  # type: ignore[no-any-return]


# -- the scenario format --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("checks:\n  status: done\n", 6, "checks.status"),
        ("checks: {}\nbogus: 1\n", 6, "unknown key 'bogus'"),
        ("checks:\n  tools_called: [run_tests, teleport]\n", 6, "unknown tool 'teleport'"),
        ("checks:\n  changed_paths: ['/abs']\n", 6, "bad glob '/abs'"),
        ("contract:\n  limits:\n    max_steps: 0\nchecks: {}\n", 7, "contract.limits.max_steps"),
        ("settings:\n  temperature: 7\nchecks: {}\n", 6, "settings.temperature"),
        ("settings:\n  model: openai:x\nchecks: {}\n", 6, "the scenario's own `model:`"),
    ],
)
def test_schema_errors_name_file_line_and_field(tmp_path: Path, text: str, line: int, needle: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"id: bad\ntask: t\nrepo: {FIXTURES / 'calc'}\nmodel: script:x.yaml\n{text}")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.line == line and needle in caught.value.message, caught.value.message
    assert caught.value.file is not None and caught.value.file.endswith("bad.yaml")


def test_bad_scenario_is_exit_2_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text("id: s\ntask: t\nrepo: no-such-fixture\nchecks: {}\n")
    done = cli("eval", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "s.yaml:3: repo: fixture directory 'no-such-fixture' not found" in done.stderr
    scenario(tmp_path / "dup", "same", None)
    (tmp_path / "dup" / "other.yaml").write_text((tmp_path / "dup" / "same.yaml").read_text())
    done = cli("eval", str(tmp_path / "dup"), cwd=tmp_path)
    assert done.returncode == 2 and "duplicate scenario id 'same'" in done.stderr
    assert cli("eval", "missing-dir", cwd=tmp_path).returncode == 2


def test_judge_reports_each_check() -> None:
    checks = Checks(status="accepted", fail_to_pass=("t1",), changed_paths=("src/**",), tools_called=("run_tests",),
                    tools_not_called=("run_command",), tools_denied=("read_file",), max_steps=3, max_tokens=100,
                    max_cost_usd=0.01)  # fmt: skip
    facts = Facts("accepted", 3, 100, 0.0, called={"run_tests", "read_file"}, denied={"read_file"},
                  changed=["src/a.py"], tests={"t1": "passed"})  # fmt: skip
    assert all(held for held, _ in judge(checks, facts).values())
    facts = Facts("rejected", 4, 101, None, called={"run_command"}, changed=["src/a.py", "setup.py"],
                  tests={"t1": "failed"})  # fmt: skip
    results = judge(checks, facts)
    assert not any(held for held, _ in results.values())
    assert results["changed_paths"][1] == "out of scope: setup.py"
    assert results["max_cost_usd"][1] == "cost unknown"  # a check that cannot be verified does not pass


def test_decision_rules() -> None:
    """Errors never count; without a baseline a scenario below its min_pass_rate fails the eval."""

    def run(sid: str, n: int, verdict: str) -> Attempt:
        return Attempt(sid, n, verdict, "accepted", "", "r", 1, 1, 1, 0.0, 1.0, {})

    def scen(sid: str, rate: float) -> Scenario:
        return Scenario(sid, "t", Path("x"), RepoSource(fixture=Path(".")), Checks(), min_pass_rate=rate)

    attempts = [run("a", 1, "pass"), run("a", 2, "fail"), run("b", 1, "error"), run("b", 2, "pass")]
    summary = summarize(attempts, fingerprint={}, meta={})
    strict = decide(summary, [scen("a", 1.0), scen("b", 1.0)], None, max_error_rate=0.5)
    assert not strict.ok and strict.exit_code == 1 and strict.problems == ["a: 1/2 attempts passed (min_pass_rate 1)"]
    lenient = decide(summary, [scen("a", 0.5), scen("b", 1.0)], None, max_error_rate=0.25)
    assert lenient.ok and lenient.exit_code == 0  # b's error is neither a pass nor a fail
    errors = decide(summary, [scen("a", 0.5), scen("b", 1.0)], None, max_error_rate=0.2)
    assert errors.problems == ["1 of 4 attempts errored (25%; at most 20% allowed by --max-error-rate)"]


# -- verdicts -------------------------------------------------------------------------------------


def test_a_good_fix_passes_and_a_broken_one_fails(tmp_path: Path) -> None:
    """The checks are real: the broken script's hack passes the repository's tests (its run is
    accepted) but not the scenario's hidden check."""
    scenario(tmp_path / "s", "good", GOOD)
    scenario(tmp_path / "s", "broken", BROKEN)
    done, result = evaluate(tmp_path, str(tmp_path / "s"))
    assert verdicts(result) == {"broken": ["fail"], "good": ["pass"]}, done.stderr
    good, broken = attempt(result, "good"), attempt(result, "broken")
    assert good["status"] == "accepted" and all(good["checks"].values()) and good["run_id"]
    assert set(good["checks"]) == {"status", "fail_to_pass", "pass_to_pass", "command", "changed_paths", "tools_called"}
    assert broken["status"] == "accepted"  # the gate was fooled ...
    assert broken["checks"]["command"] is False and broken["reason"].startswith("command: ")  # ... the eval is not
    assert [k for k, ok in broken["checks"].items() if not ok] == ["command"]
    assert done.returncode == 1 and "broken: 0/1 attempts passed" in done.stdout
    assert result["fingerprint"]["sha256"] and set(result["fingerprint"]["contracts"]) == {"good", "broken"}


def test_a_git_repository_at_a_ref_with_a_contract_file(tmp_path: Path) -> None:
    """repo: {git, ref} starts from the ref, not the branch's head; contract: a file next to the scenario."""
    source = tmp_path / "upstream"
    shutil.copytree(FIXTURES / "calc", source)
    for args in (["init", "-q", "-b", "trunk"], ["add", "-A"], ["commit", "-qm", "buggy"], ["tag", "v1"]):
        git(args, source, env=IDENTITY)
    (source / "calc.py").write_text((source / "calc.py").read_text().replace("(len(values) - 1)", "len(values)"))
    git(["commit", "-qam", "fixed upstream"], source, env=IDENTITY)
    contract = yaml.safe_load((FIXTURES / "calc" / "policies" / "contract.yaml").read_text())
    contract["limits"]["max_steps"] = 5
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "strict.yaml").write_text(yaml.safe_dump(contract))
    scenario(tmp_path / "s" / "suite", "from-git", GOOD, repo={"git": "../../upstream", "ref": "v1"},
             contract="../strict.yaml")  # fmt: skip
    done, result = evaluate(tmp_path, str(tmp_path / "s" / "suite"))
    assert verdicts(result) == {"from-git": ["pass"]}, done.stdout + done.stderr
    digest = hashlib.sha256((tmp_path / "s" / "strict.yaml").read_bytes()).hexdigest()
    assert result["fingerprint"]["contracts"]["from-git"] == f"sha256:{digest}"


def test_provider_and_setup_trouble_is_an_error_not_a_fail(tmp_path: Path) -> None:
    scenario(tmp_path / "s", "no-script", None, model="script:scripts/missing.yaml")
    scenario(tmp_path / "s", "short-script", [{"tool_calls": [{"name": "list_files", "arguments": {}}]}])
    scenario(tmp_path / "s", "broken-base", GOOD, checks={"fail_to_pass": ["tests.test_calc.TestCalc.test_total"]})
    done, result = evaluate(tmp_path, str(tmp_path / "s"))
    assert verdicts(result) == {"broken-base": ["error"], "no-script": ["error"], "short-script": ["error"]}
    assert "file not found" in attempt(result, "no-script")["reason"]
    short = attempt(result, "short-script")
    assert short["status"] == "failed" and "no turn left" in short["reason"] and short["run_id"]
    assert "fail_to_pass tests already pass on the base" in attempt(result, "broken-base")["reason"]
    assert result["overall"]["passes"] == result["overall"]["fails"] == 0 and result["overall"]["errors"] == 3
    assert done.returncode == 1 and "3 of 3 attempts errored" in done.stdout
    done, _ = evaluate(tmp_path, str(tmp_path / "s"), "--max-error-rate", "1")
    assert done.returncode == 0, done.stdout  # errors are not fails


# -- baselines ------------------------------------------------------------------------------------


def test_bless_then_eval_compares_equal_and_a_regression_exits_1(tmp_path: Path) -> None:
    scenario(tmp_path / "s", "fix", GOOD, tags=["smoke"])
    scenario(tmp_path / "s", "other", GOOD, tags=["slow"])
    blessed = cli("eval", "bless", str(tmp_path / "s"), "--tag", "smoke", "--out", "base.json", cwd=tmp_path)
    assert blessed.returncode == 0 and "baseline written to base.json" in blessed.stdout, blessed.stderr
    base = json.loads((tmp_path / "base.json").read_text())
    assert verdicts(base) == {"fix": ["pass"]}  # --tag selected one scenario
    done, result = evaluate(tmp_path, str(tmp_path / "s"), "--tag", "smoke", "--baseline", "base.json")
    assert done.returncode == 0 and "eval ok" in done.stdout, done.stdout
    assert result["fingerprint"] == base["fingerprint"]
    again = cli("eval", "bless", "--from", "base.json", "--out", "copy.json", cwd=tmp_path)
    assert again.returncode == 0 and (tmp_path / "copy.json").read_text() == (tmp_path / "base.json").read_text()
    # the same scenario, now with a script whose fix is wrong: passing -> failing is a regression
    scenario(tmp_path / "s", "fix", BROKEN, tags=["smoke"])
    done, result = evaluate(tmp_path, str(tmp_path / "s"), "--tag", "smoke", "--baseline", "base.json")
    assert verdicts(result) == {"fix": ["fail"]}
    assert done.returncode == 1 and "fix: passed 1/1 in the baseline, now 0/1" in done.stdout
    assert result["fingerprint"]["models"] != base["fingerprint"]["models"]  # the script changed
    bad = cli("eval", str(tmp_path / "s"), "--baseline", "no-such.json", cwd=tmp_path)
    assert bad.returncode == 2


# -- concurrency and interruption -----------------------------------------------------------------


def spans(workdir: Path) -> list[tuple[float, float]]:
    """(run.start, run.end) times of every journal kept in an eval's workdir."""
    out = []
    for journal in sorted(workdir.glob("attempts/*/*/.agentic/runs/*/journal.jsonl")):
        times = {r["kind"]: r["ts"] for r in read_records(journal)}
        out.append((times["run.start"], times["run.end"]))
    return out


def test_repeats_run_concurrently_each_isolated(tmp_path: Path) -> None:
    slow = [{"tool_calls": [{"name": "run_tests", "arguments": {}}]}] * 2 + GOOD[1:]
    scenario(tmp_path / "s", "fix", slow, repeats=1, checks={**CHECKS, "max_steps": 4})
    done, result = evaluate(tmp_path, str(tmp_path / "s"), "--repeats", "3", "--concurrency", "2",
                            "--workdir", str(tmp_path / "work"))  # fmt: skip
    assert verdicts(result) == {"fix": ["pass", "pass", "pass"]}, done.stderr
    runs = [a["run_id"] for a in next(iter(result["scenarios"]))["results"]]
    assert len(set(runs)) == 3 and result["meta"]["concurrency"] == 2
    intervals = spans(tmp_path / "work")
    assert len(intervals) == 3  # one repository and one journal per attempt
    assert any(a[0] < b[1] and b[0] < a[1] for i, a in enumerate(intervals) for b in intervals[i + 1 :]), intervals
    setup = result["meta"]["setup"]["fix"]
    assert setup["template_s"] > 0 and setup["attempt_setup_median_s"] > 0


def test_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    wait = {"name": "run_command", "arguments": {"command": "python -c 'import time; time.sleep(2)'"}}
    turns = [{"tool_calls": [wait]}, *GOOD]
    contract = {"tools": {"run_command": {"allow": ["python -c *"]}}}
    scenario(tmp_path / "s", "slow", turns, contract=contract, repeats=4)
    env = {**os.environ, "NO_COLOR": "1"}
    proc = forkserver.Running(forkserver.shared(), ["agentic", "eval", str(tmp_path / "s"), "--concurrency", "2",
                                                    "--workdir", str(tmp_path / "work")], tmp_path, env, "agentic")  # fmt: skip
    deadline = time.monotonic() + 30
    while len(list((tmp_path / "work").glob("attempts/*/*/.agentic/runs/*/journal.jsonl"))) < 2:
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    journals = list((tmp_path / "work").glob("attempts/*/*/.agentic/runs/*/journal.jsonl"))
    assert len(journals) == 2  # no attempt started after Ctrl-C
    for journal in journals:
        end = [payload(r, journal.parent) for r in read_records(journal) if r["kind"] == "run.end"]
        assert end and end[0]["status"] == "interrupted", end


def test_a_test_command_inside_the_checkout_that_a_clone_lacks_is_a_broken_scenario(tmp_path: Path) -> None:
    """`agentic init` writes `.venv/bin/python -m pytest` for a project with a .venv; a scenario cloning
    the project has no .venv (git does not track it): said before any attempt, with what to do."""
    venv = Contract("c", "0", test_command=(".venv/bin/python", "-m", "pytest", "-q"))
    problem = program_problem(venv, tmp_path)
    assert problem is not None and ".venv/bin/python is not in the scenario's repository" in problem
    assert "PYTHONPATH: src" in problem
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)
    assert program_problem(venv, tmp_path) is None
    for argv in (("python", "-m", "pytest"), (sys.executable, "-m", "pytest"), ("npm", "test")):
        assert program_problem(Contract("c", "0", test_command=argv), tmp_path / "empty") is None
