"""`agentic prune`: the worktrees and branches of old runs go, their journals only when asked; a run
in progress and an accepted change that lives nowhere else stay (issue 16, point 3)."""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

from agentic.git import linked
from agentic.git.cmd import git
from tests.conftest import FINISH, FIX, cli, write_script


def run(repo: Path, name: str, turns: list[dict[str, object]]) -> str:
    script = write_script(repo.parent / f"{name}.yaml", turns)
    done = cli("run", "fix the average", "--model", f"script:{script}", "--json", cwd=repo)
    return str(json.loads(done.stdout.splitlines()[-1])["run_id"])


def branches(repo: Path) -> set[str]:
    return set(git(["branch", "--list", "agentic/*", "--format=%(refname:short)"], repo).split())


def worktrees(repo: Path) -> set[str]:
    found = repo / ".agentic" / "worktrees"
    return {p.name for p in found.iterdir()} if found.is_dir() else set()


def test_prune_removes_what_old_runs_leave_and_keeps_what_matters(repo: Path) -> None:
    accepted = run(repo, "accepted", [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    failed = run(repo, "failed", [{"tool_calls": [FIX]}])  # then the provider fails: resumable, worktree kept
    applied = run(repo, "applied", [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    assert cli("apply", applied, cwd=repo).returncode == 0
    assert branches(repo) == {f"agentic/{r}" for r in (accepted, failed, applied)} and worktrees(repo) == {failed}

    recent = cli("prune", cwd=repo)  # they ended moments ago, not 14 days ago
    assert recent.returncode == 0 and recent.stdout.strip().endswith("0 runs ended at least 14 days ago; 0 removed")
    dry = cli("prune", "--older-than", "0", "--dry-run", cwd=repo).stdout
    assert f"{failed}: would remove worktree .agentic/worktrees/{failed}" in dry
    assert f"{accepted}: kept branch agentic/{accepted}" in dry
    assert len(branches(repo)) == 3 and worktrees(repo) == {failed}  # nothing moved

    with open(repo / ".agentic" / "runs" / failed / "journal.jsonl", "a") as held:  # as a live harness holds it
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        busy = cli("prune", "--older-than", "0", cwd=repo).stdout
    assert f"{failed}: in progress in another process, left alone" in busy and worktrees(repo) == {failed}
    assert branches(repo) == {f"agentic/{accepted}", f"agentic/{failed}"}  # the applied run's branch went

    done = cli("prune", "--older-than", "0", cwd=repo).stdout
    assert f"{failed}: removed branch agentic/{failed}" in done
    assert branches(repo) == {f"agentic/{accepted}"} and worktrees(repo) == set()
    assert cli("show", failed, cwd=repo).returncode == 0  # the journal stays

    cli("prune", "--older-than", "0", "--unapplied", "--journals", cwd=repo)
    assert branches(repo) == set() and not (repo / ".agentic" / "runs" / accepted).exists()
    assert cli("runs", "--json", cwd=repo).stdout.strip() == ""
    assert git(["log", "-1", "--format=%s"], repo).strip() != ""  # the person's branch untouched


def test_prune_with_journals_removes_the_state_of_old_evals(repo: Path) -> None:
    evals = repo / ".agentic" / "evals"
    old, new = evals / "eval-20200101-000000-aaaaaa", evals / "eval-20991231-000000-bbbbbb"
    for directory in (old, new):
        (directory / "lost").mkdir(parents=True)
        (directory / "eval.json").write_text("{}")
        (directory / "attempts.jsonl").write_text("")
    os.utime(old / "eval.json", (1_000_000, 1_000_000))
    os.utime(old / "attempts.jsonl", (1_000_000, 1_000_000))
    assert "evals" not in cli("prune", "--older-than", "1", cwd=repo).stdout  # only with --journals
    dry = cli("prune", "--older-than", "1", "--journals", "--dry-run", cwd=repo).stdout
    assert f"would remove .agentic/evals/{old.name}" in dry and new.name not in dry and old.is_dir()
    done = cli("prune", "--older-than", "1", "--journals", cwd=repo)
    assert done.returncode == 0 and f"removed .agentic/evals/{old.name}" in done.stdout
    assert not old.exists() and new.is_dir()


def test_prune_removes_the_gate_checkouts_of_killed_harnesses_and_worktrees_no_run_recorded(repo: Path) -> None:
    """What a harness killed at the wrong moment leaves: a gate's checkout (as if killed mid-gate, its
    records still locked as unfinished), and a run's worktree and branch made just before the run's first
    record. Both go with `agentic prune`; an unrecorded worktree younger than an hour stays (a run may be
    starting), and so does one beside a journal."""
    failed = run(repo, "failed", [{"tool_calls": [FIX]}])
    head = git(["rev-parse", "HEAD"], repo).strip()
    checkout = repo / ".agentic" / "checkouts" / f"{failed}-0badc0de"
    linked.add(repo, checkout, head)
    (repo / ".git" / "worktrees" / checkout.name / "locked").write_text("initializing")
    old = time.time() - 3 * 86_400
    orphan, young = "20200101-000000-abcdef", time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-123456"
    for run_id in (orphan, young, "20200101-000000-fedcba"):
        linked.add(repo, repo / ".agentic" / "worktrees" / run_id, head, branch=f"agentic/{run_id}")
        os.utime(repo / ".agentic" / "worktrees" / run_id, (old, old))
    (repo / ".agentic" / "runs" / "20200101-000000-fedcba").mkdir()  # a journal's directory: a run
    (repo / ".agentic" / "worktrees" / "20201399-999999-abcdef").mkdir()  # shaped like an id, no time: not ours

    dry = cli("prune", "--older-than", "0", "--dry-run", cwd=repo).stdout
    assert f"{failed}: would remove gate checkout .agentic/checkouts/{checkout.name}" in dry
    assert f"{orphan}: would remove worktree .agentic/worktrees/{orphan} (no run recorded it" in dry
    assert f"{orphan}: would remove branch agentic/{orphan}" in dry and young not in dry and "fedcba" not in dry
    assert checkout.is_dir() and worktrees(repo) == {failed, orphan, young, "20200101-000000-fedcba",
                                                     "20201399-999999-abcdef"}

    done = cli("prune", "--older-than", "0", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert not checkout.exists() and worktrees(repo) == {young, "20200101-000000-fedcba", "20201399-999999-abcdef"}
    assert branches(repo) == {f"agentic/{young}", "agentic/20200101-000000-fedcba"}
    listed = git(["worktree", "list", "--porcelain"], repo)
    assert checkout.name not in listed and orphan not in listed and not (repo / ".git" / "worktrees" / orphan).exists()
