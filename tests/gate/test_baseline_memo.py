"""The base commit's test count is taken once per process for one base tree, test command and sandbox
identity (agentic.gate.counting.REMEMBERED): the second run from a commit of that tree journals it as
remembered and checks out nothing for it; another tree, another sandbox environment or a project
virtual environment in the person's checkout take it afresh."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentic.gate.counting import REMEMBERED, Baseline, Remembered
from agentic.git.cmd import git
from agentic.policy.contract import load_contract
from tests import inproc
from tests.conftest import CONTRACT, FINISH, FIX, make_repo, write

FIXED = [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}]


@pytest.fixture(autouse=True)
def forget() -> Iterator[None]:
    REMEMBERED.clear()
    yield
    REMEMBERED.clear()


def baseline(outcome: inproc.RunOutcome) -> dict[str, object]:
    [found] = inproc.records(outcome, "gate.baseline")
    return found


def copy(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest, symlinks=True)
    return dest


def test_a_second_run_from_the_same_commit_remembers_the_base_count(tmp_path: Path) -> None:
    template = make_repo(tmp_path / "template")
    first = inproc.run(copy(template, tmp_path / "a" / "repo"), FIXED)
    second = inproc.run(copy(template, tmp_path / "b" / "repo"), FIXED)
    assert first.status == second.status == "accepted"
    assert baseline(first) == {"kind": "gate.baseline", "argv": baseline(first)["argv"], "collected": 2}
    assert baseline(second) == {**baseline(first), "remembered": True}
    [verdict] = inproc.records(second, "gate.verdict")
    assert "(base collects 2)" in verdict["checks"][0]["detail"]


def test_another_commit_of_the_same_tree_is_remembered(tmp_path: Path) -> None:
    first = inproc.run(make_repo(tmp_path / "a" / "repo"), FIXED)
    other = make_repo(tmp_path / "b" / "repo")  # the same files, committed apart
    git(["commit", "-q", "--amend", "-m", "the same tree, another commit"], other)
    second = inproc.run(other, FIXED)
    assert inproc.records(first, "run.start")[0]["base_commit"] != inproc.records(second, "run.start")[0]["base_commit"]
    assert baseline(second) == {**baseline(first), "remembered": True}


def test_another_tree_is_counted_afresh_and_a_missing_test_is_still_caught(tmp_path: Path) -> None:
    open_tests = {**CONTRACT, "protected": ["policies/**"],
                  "tools": {**CONTRACT["tools"], "write_file": {"allow": ["*.py", "tests/**"]}}}  # fmt: skip
    template = make_repo(tmp_path / "template", open_tests)
    inproc.run(copy(template, tmp_path / "a" / "repo"), FIXED)
    more = copy(template, tmp_path / "b" / "repo")
    tests = more / "tests" / "test_calc.py"
    tests.write_text(tests.read_text() + "\n    def test_one(self):\n        self.assertEqual(average([5]), 5)\n")
    git(["commit", "-qam", "a third test"], more)
    drop = {"name": "write_file", "arguments": {"path": "tests/test_calc.py", "content": "import unittest\n"}}
    outcome = inproc.run(more, [{"tool_calls": [FIX, drop]}, {"tool_calls": [FINISH]}, {"tool_calls": [FINISH]}])
    assert baseline(outcome) == {"kind": "gate.baseline", "argv": baseline(outcome)["argv"], "collected": 3}
    assert outcome.status == "rejected"
    verdict = inproc.records(outcome, "gate.verdict")[0]
    assert "the base commit collects 3 tests: 3 went missing" in verdict["checks"][0]["detail"]


def test_another_sandbox_environment_is_counted_afresh(tmp_path: Path) -> None:
    template = make_repo(tmp_path / "template")
    inproc.run(copy(template, tmp_path / "a" / "repo"), FIXED)
    other = copy(template, tmp_path / "b" / "repo")
    contract = load_contract("policies/contract.yaml", other)
    contract = dataclasses.replace(contract, env={**contract.env, "AGENTIC_TEST_MARK": "1"})
    assert "remembered" not in baseline(inproc.run(other, FIXED, contract=contract))


def test_a_project_virtual_environment_is_never_remembered(tmp_path: Path) -> None:
    template = make_repo(tmp_path / "template")
    for name in ("a", "b"):
        repo = copy(template, tmp_path / name / "repo")
        write(repo / ".venv" / "pyvenv.cfg", "home = /usr/bin\n")
        write(repo / ".git" / "info" / "exclude", ".venv/\n")
        assert "remembered" not in baseline(inproc.run(repo, FIXED))


def test_the_memory_keeps_read_counts_only_and_forgets_the_oldest() -> None:
    memo = Remembered(size=2)
    memo.put(("c0", ("pytest",), "id"), Baseline(None))
    assert memo.get(("c0", ("pytest",), "id")) is None
    for n in range(3):
        memo.put((f"c{n}", ("pytest",), "id"), Baseline(n))
    assert memo.get(("c0", ("pytest",), "id")) is None
    assert memo.get(("c2", ("pytest",), "id")) == Baseline(2)
