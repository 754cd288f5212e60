"""The run lifecycle in process (runner.execute, RunResources, the recorded-turns model and the
recorded-results dispatcher): what a resume reuses, what a replay compares, what a run that never
started leaves behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentic.errors import SandboxUnavailable
from agentic.git.cmd import git
from agentic.policy.contract import command_env
from agentic.run import resources
from agentic.run.replay import replay
from agentic.run.resume import open_tape
from agentic.run.runner import execute
from agentic.sandbox import Sandbox, make_sandbox
from agentic.workspace import find_repo
from tests import inproc
from tests.conftest import FINISH, FIX

READ: dict[str, Any] = {"tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]}


def test_a_failed_run_resumes_reusing_its_recorded_turns_and_results(repo: Path) -> None:
    first = inproc.run(repo, [READ, {"tool_calls": [FIX]}])
    assert first.status == "failed" and "no turn left" in first.reason
    worktree = find_repo(repo).state_dir / "worktrees" / first.run_id
    assert worktree.is_dir()  # kept for the resume
    done = inproc.resume(repo, first, [READ, {"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    assert (done.status, done.run_id) == ("accepted", first.run_id), done.reason
    assert [r["tool"] for r in inproc.tool_results(done)] == ["read_file", "edit_file", "finish"]
    assert len(inproc.records(done, "model.response")) == 3  # the two recorded turns are not journaled again
    assert len(inproc.records(done, "tool.effect")) == 1  # nor is the edit made again
    assert [r["after_status"] for r in inproc.records(done, "run.resume")] == ["failed"]
    assert [r["status"] for r in inproc.records(done, "run.end")] == ["failed", "accepted"]
    assert done.commit and git(["rev-parse", f"agentic/{done.run_id}"], repo).strip() == done.commit
    assert not worktree.exists()  # the run is over: its worktree goes, its branch stays


def test_replay_reexecutes_the_recorded_turns_and_compares_every_result(repo: Path) -> None:
    done = inproc.run(repo, [READ, {"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    assert done.status == "accepted", done.reason
    info = find_repo(repo)
    contract = inproc.request(repo, []).contract
    env = command_env(contract)

    def sandbox_for(root: Path) -> Sandbox:
        return make_sandbox(root, [], fallback=True, env=env)

    report = replay(info, open_tape(done.journal, done.run_id), contract, sandbox_for)
    assert report.identical and report.ended == "the gate accepted the change, as recorded"
    assert report.steps == 3 and report.compared == 4  # three tool results and the gate's verdict
    (repo / "calc.py").write_text("def average(values):\n    return 0\n", encoding="utf-8")
    git(["commit", "-qam", "another base"], repo)  # the recorded read now differs from the base's file...
    tape = open_tape(done.journal, done.run_id)  # ...but a replay starts from the recorded base: identical
    assert replay(info, tape, contract, sandbox_for).identical


def test_a_run_whose_sandbox_cannot_start_leaves_nothing_behind(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Sandbox:
        raise SandboxUnavailable("no sandbox in this test")

    monkeypatch.setattr(resources, "make_sandbox", refuse)
    with pytest.raises(SandboxUnavailable):
        execute(inproc.request(repo, [{"tool_calls": [FINISH]}]))
    state = find_repo(repo).state_dir
    for made in (state / "worktrees", state / "runs"):
        assert not made.exists() or not any(made.iterdir()), made
    assert git(["branch", "--list", "agentic/*"], repo).strip() == ""
