"""The repository's index of runs, and a run's row in it by id, prefix or `last`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentic.errors import UsageError
from agentic.journal.store import SQLiteStore
from agentic.run.resume import index_unlisted_runs
from agentic.workspace import RepoInfo, find_repo


def open_store(repo: Path) -> tuple[RepoInfo, SQLiteStore]:
    info = find_repo(repo)
    store = SQLiteStore(info.state_dir / "agentic.db")
    index_unlisted_runs(info.state_dir / "runs", store)
    return info, store


def get_run(store: SQLiteStore, run_id: str) -> dict[str, Any]:
    if run_id == "last":
        runs = store.list_runs(limit=1)
        if not runs:
            raise UsageError("there are no runs in this repository yet")
        return dict(runs[0])
    found = store.get_run(run_id)
    if found is None:
        raise UsageError(f"no run {run_id!r} in this repository", hint="list runs with `agentic runs`")
    return dict(found)
