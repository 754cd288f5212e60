"""Opening a SQLite file that several processes share, in write-ahead-log mode.

Switching a database to WAL takes an exclusive lock, and SQLite answers "database is locked" at
once, without waiting through the busy timeout, when another connection is switching the same new
file at the same moment (two runs of one repository starting together, two processes sharing a
rate limit). The switch is asked again, with a short random pause, until the timeout has passed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_shared(path: Path, *, timeout_s: float, check_same_thread: bool = True) -> sqlite3.Connection:
    """A connection to `path` (made, with its directory, if missing) in WAL mode and autocommit, whose
    statements wait up to `timeout_s` for another process's lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=timeout_s, isolation_level=None, check_same_thread=check_same_thread)
    try:
        db.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as exc:
        if not _locked(exc):
            db.close()
            raise
        _switch_when_free(db, timeout_s)
    return db


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _switch_when_free(db: sqlite3.Connection, timeout_s: float) -> None:
    import tenacity  # lazy: only a start that met another one at the same moment pays for it

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(_locked), stop=tenacity.stop_after_delay(timeout_s),
        wait=tenacity.wait_random(0.005, 0.05), reraise=True,
    )  # fmt: skip
    try:
        retrying(db.execute, "PRAGMA journal_mode=WAL")
    except BaseException:
        db.close()
        raise
