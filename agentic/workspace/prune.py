"""What old runs leave in the person's repository, removed on request (`agentic prune`): the worktree
of a run that could still be resumed, the run's branch, and, when asked, its journal. A run in
progress (its journal locked by a live harness) is never touched, and the branch of an accepted run
whose commit is on no other branch stays unless asked: it is the only place that change lives."""

from __future__ import annotations

import contextlib
import fcntl
import shutil
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
