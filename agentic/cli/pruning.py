"""`agentic prune`: remove what old runs leave behind (agentic.workspace.prune)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from agentic.reports.summary import inert
from agentic.workspace.prune import prune_evals, prune_orphans, prune_run

from .common import RepoOpt, out
from .runindex import open_store

app = typer.Typer(rich_markup_mode="rich")
DAY_S = 86_400


@app.command()
def prune(
    older_than: Annotated[float, typer.Option("--older-than", metavar="DAYS", min=0,
                          help="Only runs that ended at least this many days ago.")] = 14,
    journals: Annotated[bool, typer.Option("--journals", help="Also delete their journals (and forget the runs).")] = False,
    unapplied: Annotated[bool, typer.Option("--unapplied", help="Also delete the branch of an accepted run whose "
                         "commit is on no other branch.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be removed.")] = False,
    repo: RepoOpt = Path("."),
) -> None:
    """Remove the branches and worktrees of old runs (their journals only with --journals, and then also
    the state of evals untouched as long: what `agentic eval --resume` reads).

    A run in progress is never touched, nor one whose harness may still resume it ('running'), and the
    branch of an accepted run that was never applied stays unless --unapplied. A run's gate checkouts its
    harness was killed in go with it, and so does a worktree no run recorded (its harness stopped as it
    started).

    Example: agentic prune --older-than 30 --dry-run
    """
    info, store = open_store(repo)
    cutoff = time.time() - older_than * DAY_S
    known = store.run_ids()
    old = [row for row in store.list_runs(limit=1_000_000)
           if row["status"] != "running" and (row["ended_at"] or row["updated_at"]) <= cutoff]  # fmt: skip
    verb, total = ("would remove", "would be removed") if dry_run else ("removed", "removed")
    count = 0
    for row in reversed(old):  # oldest first
        done = prune_run(info.root, row, journals=journals, unapplied=unapplied, dry_run=dry_run)
        if done.busy:
            out().print(inert(f"{done.run_id}: in progress in another process, left alone"))
            continue
        for thing in done.removed:
            out().print(inert(f"{done.run_id}: {verb} {thing}"))
            count += 1
        for thing in done.kept:
            out().print(inert(f"{done.run_id}: kept {thing}"))
        if journals and not dry_run and any(t.startswith("journal ") for t in done.removed):
            store.delete_run(done.run_id)
    for done in prune_orphans(info.root, known, cutoff, dry_run=dry_run):
        for thing in done.removed:
            out().print(inert(f"{done.run_id}: {verb} {thing}"))
            count += 1
    if journals:
        for thing in prune_evals(info.root, cutoff, dry_run=dry_run):
            out().print(inert(f"{verb} {thing} (an eval's state: --resume, lost tries' journals)"))
            count += 1
    out().print(inert(f"{len(old)} runs ended at least {older_than:g} days ago; {count} {total}"))
