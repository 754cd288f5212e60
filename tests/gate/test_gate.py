"""The gate cannot be gamed: clean checkout, a report the harness owns, no test may go missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentic.gate.counting import count_collected
from agentic.gate.reports import read_junit
from agentic.git.cmd import git
from agentic.journal.records import payload, read_records
from agentic.policy.contract import is_pytest
from tests.conftest import CONTRACT, FINISH, FIX, cli, make_repo, write, write_script

PYTESTS = '''\
from calc import average


def test_average():
    assert average([2, 4, 6]) == 4


def test_empty():
    assert average([]) == 0.0


def test_single():
    assert average([5]) == 5
'''


@pytest.fixture
def pyrepo(tmp_path: Path) -> Path:
    """A pytest repository whose contract does not protect the tests (so the gate must)."""
    contract = {**CONTRACT, "test_command": ["python", "-m", "pytest", "-q"], "protected": ["policies/**"],
                "tools": {**CONTRACT["tools"], "write_file": {"allow": ["*.py", "tests/**"]}}}  # fmt: skip
    root = make_repo(tmp_path / "repo", contract)
    (root / "tests" / "test_calc.py").write_text(PYTESTS)
    write(root / ".gitignore", "conftest.py\n")
    git(["add", "-A"], root)
    git(["commit", "-qm", "pytest"], root)
    return root


def run(repo: Path, turns: list[dict[str, Any]]) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
    script = write_script(repo.parent / "t.yaml", turns)
    done = cli("run", "fix it", "--model", f"script:{script}", "--json", cwd=repo)
    summary = json.loads(done.stdout.splitlines()[-1])
    path = Path(summary["journal"])
    verdicts = [payload(r, path.parent) for r in read_records(path) if r["kind"] == "gate.verdict"]
    return done.returncode, summary, verdicts


def write_call(path: str, content: str) -> dict[str, Any]:
    return {"tool_calls": [{"name": "write_file", "arguments": {"path": path, "content": content}}]}


def test_honest_fix_passes_with_report_and_baseline(pyrepo: Path) -> None:
    code, summary, verdicts = run(pyrepo, [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    assert code == 0, verdicts
    detail = verdicts[0]["checks"][0]["detail"]
    assert "report: 3 tests, 0 failures, 0 errors" in detail and "(base collects 3)" in detail
    baseline = [payload(r, Path(summary["journal"]).parent) for r in read_records(Path(summary["journal"]))
                if r["kind"] == "gate.baseline"]  # fmt: skip
    assert baseline == [{"argv": ["python", "-m", "pytest", "-q"], "collected": 3, "configfile": "", "rootdir": "."}]


def test_deleting_tests_is_caught(pyrepo: Path) -> None:
    fewer = PYTESTS.split("\n\n\ndef test_empty")[0] + "\n"
    turns = [{"tool_calls": [FIX]}, write_call("tests/test_calc.py", fewer), {"tool_calls": [FINISH]},
             {"tool_calls": [FINISH]}]  # fmt: skip
    code, summary, verdicts = run(pyrepo, turns)
    assert code == 1 and summary["status"] == "rejected"
    detail = verdicts[0]["checks"][0]["detail"]
    assert "the base commit collects 3 tests: 2 went missing" in detail


def test_exit_zero_at_import_is_not_a_pass(pyrepo: Path) -> None:
    hack = "import os\nos._exit(0)\n\n\ndef average(values):\n    return 0\n"
    turns = [write_call("calc.py", hack), {"tool_calls": [FINISH]}, {"tool_calls": [FINISH]}]
    code, _, verdicts = run(pyrepo, turns)
    assert code == 1
    assert "no test report was written" in verdicts[0]["checks"][0]["detail"]


FORCE_PASS = """\
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().outcome = "passed"
"""


def test_ignored_files_in_the_worktree_do_not_reach_the_gate(pyrepo: Path) -> None:
    # conftest.py is git-ignored: it stays in the agent's worktree, where it turns every failure into a
    # pass; the gate runs in a clean checkout of the snapshot, which does not have it
    turns = [write_call("conftest.py", FORCE_PASS),
             {"tool_calls": [{"name": "run_tests", "arguments": {}}]},
             {"tool_calls": [FINISH]}, {"tool_calls": [FINISH]}]  # fmt: skip
    code, summary, verdicts = run(pyrepo, turns)
    assert code == 1
    in_worktree = [payload(r, Path(summary["journal"]).parent) for r in read_records(Path(summary["journal"]))
                   if r["kind"] == "tool.result" and r.get("data", {}).get("tool") != "finish"]  # fmt: skip
    assert "3 passed" in json.dumps(in_worktree)  # the hack works where the agent runs tests…
    assert "report: 3 tests, 2 failures" in verdicts[0]["checks"][0]["detail"]  # …not in the gate


def test_helpers(tmp_path: Path) -> None:
    assert is_pytest(["python", "-m", "pytest", "-q"]) and is_pytest(["/usr/bin/pytest"])
    assert not is_pytest(["python", "-m", "unittest"]) and not is_pytest([])
    assert count_collected("tests/test_a.py::test_x\ntests/test_a.py::test_y[1]\n\n2 tests collected in 0.01s\n") == 2
    assert count_collected("tests/test_a.py: 3\ntests/b/test_b.py: 2\n") == 5
    assert count_collected("\nno tests collected in 0.01s\n") == 0
    assert count_collected("ERROR: file not found\n") is None
    report = tmp_path / "r.xml"
    report.write_text('<testsuites><testsuite tests="4" failures="1" errors="0" skipped="1"/></testsuites>')
    got = read_junit(report)
    assert got is not None and (got.tests, got.failures, got.skipped) == (4, 1, 1)
    assert read_junit(tmp_path / "missing.xml") is None
    (tmp_path / "bad.xml").write_text("<not-closed")
    assert read_junit(tmp_path / "bad.xml") is None


# --- unittest: the same guarantees through the harness's own test program -------------------------

UNITTESTS = '''\
import unittest

from calc import average


class TestCalc(unittest.TestCase):
    def test_average(self):
        self.assertEqual(average([2, 4, 6]), 4)

    def test_empty(self):
        self.assertEqual(average([]), 0.0)

    def test_single(self):
        self.assertEqual(average([5]), 5)
'''


@pytest.fixture
def unitrepo(tmp_path: Path) -> Path:
    """A unittest repository whose contract does not protect the tests (so the gate must)."""
    contract = {**CONTRACT, "protected": ["policies/**"],
                "tools": {**CONTRACT["tools"], "write_file": {"allow": ["*.py", "tests/**"]}}}  # fmt: skip
    root = make_repo(tmp_path / "repo", contract)
    (root / "tests" / "test_calc.py").write_text(UNITTESTS)
    git(["add", "-A"], root)
    git(["commit", "-qm", "three tests"], root)
    return root


def test_unittest_passes_by_its_report_and_the_base_count(unitrepo: Path) -> None:
    code, summary, verdicts = run(unitrepo, [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    assert code == 0, verdicts
    detail = verdicts[0]["checks"][0]["detail"]
    assert detail.startswith("$ python -m unittest discover") and "UNITTEST" not in detail
    assert "report: 3 tests, 0 failures, 0 errors, 0 skipped (base collects 3)" in detail
    baseline = [payload(r, Path(summary["journal"]).parent) for r in read_records(Path(summary["journal"]))
                if r["kind"] == "gate.baseline"]  # fmt: skip
    assert baseline == [{"argv": CONTRACT["test_command"], "collected": 3}]


def test_unittest_tests_that_went_missing_are_caught(unitrepo: Path) -> None:
    fewer = UNITTESTS.split("\n    def test_empty")[0] + "\n"
    turns = [{"tool_calls": [FIX]}, write_call("tests/test_calc.py", fewer), {"tool_calls": [FINISH]},
             {"tool_calls": [FINISH]}]  # fmt: skip
    code, _, verdicts = run(unitrepo, turns)
    assert code == 1 and "the base commit collects 3 tests: 2 went missing" in verdicts[0]["checks"][0]["detail"]


def test_unittest_exit_zero_at_import_is_not_a_pass(unitrepo: Path) -> None:
    hack = "import os\nos._exit(0)\n\n\ndef average(values):\n    return 0\n"
    code, _, verdicts = run(unitrepo, [write_call("calc.py", hack), {"tool_calls": [FINISH]}, {"tool_calls": [FINISH]}])
    assert code == 1 and "no test report was written" in verdicts[0]["checks"][0]["detail"]


def test_other_runners_are_judged_by_exit_status_and_say_so(tmp_path: Path) -> None:
    contract = {**CONTRACT, "invariants": [{"id": "lint", "check": {"command": ["python", "-c", "print('ok')"]}}]}
    repo = make_repo(tmp_path / "repo", contract)
    code, _, verdicts = run(repo, [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    assert code == 0 and "judged by its exit status" in verdicts[0]["checks"][0]["detail"]


JUNIT_WRITER = """\
import sys
from calc import average
ok = average([2, 4, 6]) == 4
with open("build/junit.xml", "w") as fh:
    fh.write('<testsuite tests="1" failures="%d" errors="0" skipped="0"/>' % (0 if ok else 1))
sys.exit(0)  # the runner's exit status says nothing: the report decides
"""


def test_another_runner_is_judged_by_the_junit_report_the_contract_names(tmp_path: Path) -> None:
    check = {"command": ["python", "check.py"], "junit_report": "build/junit.xml"}
    contract = {**CONTRACT, "invariants": [{"id": "suite", "check": check}]}
    repo = make_repo(tmp_path / "repo", contract)
    write(repo / "check.py", JUNIT_WRITER)
    write(repo / "build" / "junit.xml", '<testsuite tests="9" failures="0" errors="0" skipped="0"/>')  # stale
    git(["add", "-A"], repo)
    git(["commit", "-qm", "runner"], repo)
    code, _, verdicts = run(repo, [{"tool_calls": [FINISH]}, {"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    first, second = (v["checks"][0]["detail"] for v in verdicts)
    assert "report: 1 tests, 1 failures" in first  # exit 0, but the report says it failed
    assert code == 0 and "report: 1 tests, 0 failures" in second
    bad = {**CONTRACT, "invariants": [{"id": "x", "check": {"tests": True, "junit_report": "../out.xml"}}]}
    (repo / "policies" / "contract.yaml").write_text(yaml.safe_dump(bad))
    done = cli("contract", "check", cwd=repo)
    assert done.returncode == 2 and "junit_report is a path inside the repository" in done.stderr


def test_a_tests_check_needs_a_report_the_gate_can_read(tmp_path: Path) -> None:
    contract = {**CONTRACT, "test_command": ["make", "test"]}
    repo = make_repo(tmp_path / "repo", contract)
    done = cli("contract", "check", cwd=repo)
    assert done.returncode == 2 and "never from an exit status alone" in done.stderr
    assert "contract.yaml:" in done.stderr and "invariants[0].check" in done.stderr
    fixed = {**contract, "invariants": [{"id": "tests", "check": {"tests": True, "junit_report": "out.xml"}}]}
    (repo / "policies" / "contract.yaml").write_text(yaml.safe_dump(fixed))
    assert cli("contract", "check", cwd=repo).returncode == 0


def test_checks_that_run_nothing_need_no_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A contract whose invariants only read the change (paths, size, protected files, secrets): the
    gate judges it without checking the candidate out or starting a sandbox, in a run and in `agentic
    gate`; a failing one still fails."""
    from agentic.gate.hook import GateRequest, run_gate
    from agentic.workspace import Workspace
    from tests import inproc

    def no_checkout(*_: Any, **__: Any) -> Any:
        raise AssertionError("a checkout was made")

    monkeypatch.setattr(Workspace, "checkout", no_checkout)
    cheap = [i for i in CONTRACT["invariants"] if i["id"] != "tests-pass"]
    repo = make_repo(tmp_path / "repo", {**CONTRACT, "invariants": cheap})
    outcome = inproc.run(repo, [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    [verdict] = inproc.records(outcome, "gate.verdict")
    assert outcome.status == "accepted" and [c["id"] for c in verdict["checks"]] == ["protected-unchanged", "small"]
    for n in range(4):  # more files than the contract's "small" allows: the person's gate fails
        write(repo / f"new{n}.py", "x = 1\n")
    result = run_gate(GateRequest(repo))
    assert not result.verdict.passed and result.verdict.failed[0].detail == "4 files changed (at most 3)"
