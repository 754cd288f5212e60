"""Processes that open one new shared SQLite file at the same moment all get it in WAL mode."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

from agentic.util.sqlitefile import open_shared

OPENERS = 4


def _open(path: str, ready: multiprocessing.synchronize.Barrier) -> str:
    ready.wait()  # all of them at once: the switch to WAL meets another one
    try:
        db = open_shared(Path(path), timeout_s=10)
    except sqlite3.OperationalError as exc:
        return str(exc)
    mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    db.execute("CREATE TABLE IF NOT EXISTS t (x)")
    db.close()
    return mode


def test_openers_racing_on_a_new_file_all_get_it_in_wal_mode(tmp_path: Path) -> None:
    # 20 rounds of 4: without the retry about one opener in ten failed with "database is locked"
    context = multiprocessing.get_context("fork")
    with context.Manager() as manager, context.Pool(OPENERS) as pool:
        for round_ in range(20):
            path = str(tmp_path / f"{round_}" / "shared.db")
            ready = manager.Barrier(OPENERS)
            assert pool.starmap(_open, [(path, ready)] * OPENERS) == ["wal"] * OPENERS


def test_another_error_is_not_retried(tmp_path: Path) -> None:
    (tmp_path / "not-a-db").write_bytes(b"this is not a database, and not empty" * 100)
    try:
        open_shared(tmp_path / "not-a-db", timeout_s=10)
    except sqlite3.DatabaseError as exc:
        assert "not a database" in str(exc)
    else:
        raise AssertionError("a file that is not a database was opened")
