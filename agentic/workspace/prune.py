"""What old runs leave in the person's repository, removed on request (`agentic prune`): the worktree
of a run that could still be resumed, the run's branch, and, when asked, its journal. A run in
progress (its journal locked by a live harness) is never touched, and the branch of an accepted run
whose commit is on no other branch stays unless asked: it is the only place that change lives."""

from __future__ import annotations

import calendar
import contextlib
import fcntl
import glob
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentic.git.cmd import git, run_git
from agentic.workspace.repo import STATE_DIR
from agentic.workspace.worktree import remove_worktree


@dataclass
class Pruned:
    run_id: str
    removed: list[str] = field(default_factory=list)  # what was removed (with --dry-run: would be)
    kept: list[str] = field(default_factory=list)  # what stays, and why
    busy: bool = False  # in progress in another process: nothing was touched


@contextlib.contextmanager
def _unless_in_progress(journal: Path) -> Iterator[bool]:
    """Hold the run's journal lock (as a harness does) while pruning it; False when a live harness has it."""
    if not journal.is_file():
        yield True
        return
    with open(journal, "a", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def _only_on_its_branch(root: Path, commit: str) -> bool:
    """True when no branch but agentic's own holds `commit` (the accepted change was never applied)."""
    refs = git(["for-each-ref", "--contains", commit, "--format=%(refname)", "refs/heads/"], root, check=False)
    return not [ref for ref in refs.split() if not ref.startswith("refs/heads/agentic/")]


def prune_run(root: Path, row: dict[str, Any], *, journals: bool, unapplied: bool, dry_run: bool) -> Pruned:
    run_id = str(row["id"])
    done = Pruned(run_id)
    if "/" in run_id or run_id in ("", ".", ".."):  # not an id the harness made: the index was edited
        done.kept.append("everything: not a run id agentic makes")
        return done
    directory = root / STATE_DIR / "runs" / run_id  # where the harness keeps it; the index row is not trusted
    with _unless_in_progress(directory / "journal.jsonl") as free:
        if not free:
            done.busy = True
            return done
        worktree = root / STATE_DIR / "worktrees" / run_id
        if worktree.exists():
            done.removed.append(f"worktree {STATE_DIR}/worktrees/{run_id}")
            if not dry_run:
                remove_worktree(root, worktree)
        for checkout in sorted((root / STATE_DIR / "checkouts").glob(f"{glob.escape(run_id)}-*")):
            # a gate's checkout its harness was killed in (a run resumed removes its own)
            done.removed.append(f"gate checkout {STATE_DIR}/checkouts/{checkout.name}")
            if not dry_run:
                remove_worktree(root, checkout)
        branch = f"agentic/{run_id}"
        if run_git(["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], root).returncode == 0:
            commit = row.get("commit_sha")
            if row.get("status") == "accepted" and commit and not unapplied and _only_on_its_branch(root, commit):
                done.kept.append(f"branch {branch}: its accepted commit is on no other branch "
                                 f"(agentic apply {run_id}, or prune with --unapplied)")  # fmt: skip
            else:
                done.removed.append(f"branch {branch}")
                if not dry_run:
                    git(["branch", "-D", "--quiet", branch], root)
        if journals and directory.is_dir() and not directory.is_symlink():
            done.removed.append(f"journal {STATE_DIR}/runs/{run_id}")
            if not dry_run:
                shutil.rmtree(directory, ignore_errors=True)
    return done


RUN_ID = re.compile(r"(\d{8}-\d{6})-[0-9a-f]{6}")  # agentic.run.request.new_run_id: its start, UTC
STARTING_S = 3600.0  # a run's worktree is made a moment before its record: younger ones are never orphans


def prune_orphans(root: Path, known: set[str], cutoff: float, *, dry_run: bool) -> list[Pruned]:
    """The worktrees no run recorded (the harness killed after making a run's worktree and before its
    first record, so the run database never had it, and no journal), started before `cutoff` and an
    hour ago at least; each with its branch, which holds nothing but the base."""
    found = root / STATE_DIR / "worktrees"
    if not found.is_dir() or found.is_symlink():
        return []
    pruned = []
    for path in sorted(found.iterdir()):
        started = RUN_ID.fullmatch(path.name)
        if started is None or path.name in known or path.is_symlink() or not path.is_dir():
            continue
        if os.path.lexists(root / STATE_DIR / "runs" / path.name):  # a journal: a run, whatever the database says
            continue
        try:
            when = calendar.timegm(time.strptime(started.group(1), "%Y%m%d-%H%M%S"))
        except ValueError:  # shaped like a run id, but no time: not one the harness made
            continue
        if max(when, path.lstat().st_mtime) > min(cutoff, time.time() - STARTING_S):
            continue
        done = Pruned(path.name)
        done.removed.append(f"worktree {STATE_DIR}/worktrees/{path.name} (no run recorded it: stopped as it started)")
        branch = f"agentic/{path.name}"
        listed = run_git(["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], root).returncode == 0
        if listed:
            done.removed.append(f"branch {branch}")
        if not dry_run:
            remove_worktree(root, path)
            if listed:
                git(["branch", "-D", "--quiet", branch], root, check=False)
        pruned.append(done)
    return pruned


def prune_evals(root: Path, cutoff: float, *, dry_run: bool) -> list[str]:
    """The state of evals (`.agentic/evals/<EVAL>/`: what `eval --resume` reads, lost tries' journals)
    untouched since `cutoff`; removed unless `dry_run`. What was (or would be) removed."""
    evals = root / STATE_DIR / "evals"
    if not evals.is_dir() or evals.is_symlink():
        return []
    removed = []
    for directory in sorted(evals.iterdir()):
        if directory.is_symlink() or not directory.is_dir() or not directory.name.startswith("eval-"):
            continue
        touched = max((p.stat().st_mtime for p in directory.iterdir() if p.is_file()), default=directory.stat().st_mtime)
        if touched <= cutoff:
            removed.append(f"{STATE_DIR}/evals/{directory.name}")
            if not dry_run:
                shutil.rmtree(directory, ignore_errors=True)
    return removed
