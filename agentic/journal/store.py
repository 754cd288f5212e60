"""The SQLite index of runs (`.agentic/agentic.db`). It changes only through numbered migrations.

The journal is the source of truth; this index answers "which runs, in what state" quickly.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from agentic.util.sqlitefile import open_shared

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_runs(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            task TEXT NOT NULL,
            status TEXT NOT NULL,
            model TEXT NOT NULL,
            contract TEXT NOT NULL,
            base_commit TEXT NOT NULL,
            branch TEXT NOT NULL,
            commit_sha TEXT,
            worktree TEXT NOT NULL,
            journal TEXT NOT NULL,
            started_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            ended_at REAL,
            steps INTEGER NOT NULL DEFAULT 0,
            tool_calls INTEGER NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cached_input_tokens INTEGER NOT NULL DEFAULT 0,
            reason TEXT
        )
        """
    )
    db.execute("CREATE INDEX runs_status ON runs(status)")
    db.execute("CREATE INDEX runs_started ON runs(started_at)")


@migration
def m002_tool_switches(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE tool_switches (
            tool TEXT PRIMARY KEY,
            disabled_by TEXT NOT NULL,
            disabled_at REAL NOT NULL,
            reason TEXT NOT NULL DEFAULT ''
        )
        """
    )


@migration
def m003_journal_heads(db: sqlite3.Connection) -> None:
    """Each run's journal head (seq, hash), kept as records are appended, and its HMAC (agentic.anchor).
    Runs recorded before this migration are anchored at their journal's head as it is now (origin
    'backfill': trust on first use, no HMAC)."""
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta (key, value) VALUES ('repository_id', ?)", (os.urandom(16).hex(),))
    db.execute(
        """
        CREATE TABLE journal_heads (
            run TEXT PRIMARY KEY,
            seq INTEGER NOT NULL,
            hash TEXT NOT NULL,
            mac TEXT,
            origin TEXT NOT NULL DEFAULT 'run',
            updated_at REAL NOT NULL
        )
        """
    )
    for run_id, journal in db.execute("SELECT id, journal FROM runs").fetchall():
        seq, head = 0, None
        try:
            with open(journal, encoding="utf-8") as fh:
                for line in fh:
                    if line.endswith("\n"):
                        record = json.loads(line)
                        seq, head = int(record["seq"]), str(record["hash"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if head is not None:
            db.execute("INSERT INTO journal_heads (run, seq, hash, origin, updated_at) VALUES (?, ?, ?, 'backfill', ?)",
                       (run_id, seq, head, time.time()))  # fmt: skip


@migration
def m004_run_cost(db: sqlite3.Connection) -> None:
    """Each run's cost in US dollars (NULL when some model call's price is unknown), filled in for the
    runs recorded before from their journal's last run.end."""
    db.execute("ALTER TABLE runs ADD COLUMN cost_usd REAL")
    for run_id, journal in db.execute("SELECT id, journal FROM runs").fetchall():
        cost = None
        try:
            with open(journal, "rb") as fh:
                for line in fh:
                    if line.endswith(b"\n") and b'"run.end"' in line:
                        record = json.loads(line)
                        if record.get("kind") == "run.end":
                            cost = ((record.get("data") or {}).get("budget") or {}).get("cost_usd")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(cost, (int, float)):
            db.execute("UPDATE runs SET cost_usd = ? WHERE id = ?", (float(cost), run_id))


class Store(Protocol):
    def add_run(self, **fields: Any) -> None: ...
    def update_run(self, run_id: str, **fields: Any) -> None: ...
    def get_run(self, run_id: str) -> dict[str, Any] | None: ...
    def list_runs(self, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]: ...
    def run_ids(self) -> set[str]: ...
    def delete_run(self, run_id: str) -> None: ...
    def disabled_tools(self) -> dict[str, dict[str, Any]]: ...
    def tool_switch(self, tool: str) -> dict[str, Any] | None: ...
    def disable_tool(self, tool: str, by: str, reason: str = "") -> None: ...
    def enable_tool(self, tool: str) -> bool: ...
    def repository_id(self) -> str: ...
    def set_journal_head(self, run_id: str, seq: int, head: str, mac: str | None) -> None: ...
    def journal_head(self, run_id: str) -> dict[str, Any] | None: ...


RUN_COLUMNS = {
    "id", "task", "status", "model", "contract", "base_commit", "branch", "commit_sha", "worktree",
    "journal", "started_at", "updated_at", "ended_at", "steps", "tool_calls", "input_tokens",
    "output_tokens", "cached_input_tokens", "reason", "cost_usd",
}  # fmt: skip


def _bound(value: Any) -> tuple[str, Any]:
    """A value's placeholder and parameter. Text Python holds with surrogate escapes (a path under a
    directory whose name is not UTF-8, as the OS gives it) goes in as its bytes, cast to TEXT: sqlite3
    encodes a str strictly and would refuse it; `_text` reads those bytes back to the same str."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return "CAST(? AS TEXT)", value.encode("utf-8", "surrogateescape")
    return "?", value


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


class SQLiteStore:
    def __init__(self, path: Path) -> None:
        self.state_dir = path.parent
        self.db = open_shared(path, timeout_s=30)
        self.db.row_factory = sqlite3.Row
        self.db.text_factory = _text
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.migrate()

    def migrate(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
                step(self.db)
                self.db.execute(f"PRAGMA user_version = {number}")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        self.db.close()

    def add_run(self, **fields: Any) -> None:
        fields.setdefault("updated_at", time.time())
        cols = [c for c in fields if c in RUN_COLUMNS]
        marks, values = zip(*(_bound(fields[c]) for c in cols), strict=True)
        self.db.execute(f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join(marks)})", values)

    def update_run(self, run_id: str, **fields: Any) -> None:
        fields["updated_at"] = time.time()
        cols = [c for c in fields if c in RUN_COLUMNS and c != "id"]
        bound = [_bound(fields[c]) for c in cols]
        assignments = ", ".join(f"{c} = {mark}" for c, (mark, _) in zip(cols, bound, strict=True))
        self.db.execute(f"UPDATE runs SET {assignments} WHERE id = ?", [*(v for _, v in bound), run_id])

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            rows = self.db.execute(
                "SELECT * FROM runs WHERE id LIKE ? ORDER BY started_at DESC LIMIT 2", (run_id + "%",)
            ).fetchall()
            row = rows[0] if len(rows) == 1 else None
        return self._here(dict(row)) if row else None

    def run_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT id FROM runs")}

    def delete_run(self, run_id: str) -> None:
        """Forget a run (its row and its journal's anchor): `agentic prune --journals` removed its journal."""
        self.db.execute("DELETE FROM journal_heads WHERE run = ?", (run_id,))
        self.db.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    def list_runs(self, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        query, params = "SELECT * FROM runs", list[Any]()
        if status:
            query += " WHERE status = ?"
            params.append(status)
        query += " ORDER BY started_at DESC LIMIT ?"
        params.append(limit)
        return [self._here(dict(r)) for r in self.db.execute(query, params)]

    def _here(self, run: dict[str, Any]) -> dict[str, Any]:
        """A run's row with its journal and worktree where they are now. A row keeps the absolute paths
        it was written with, under the state directory of that time (`<state>/runs/<id>/journal.jsonl`,
        `<state>/worktrees/<id>`): a repository moved or copied since has them under this database's."""
        for column, parts in (("journal", ("runs", str(run["id"]), "journal.jsonl")), ("worktree", ("worktrees", str(run["id"])))):
            stored = run.get(column)
            if not stored or Path(stored).parts[-len(parts):] != parts:
                continue
            then = Path(stored).parents[len(parts) - 1]
            if os.path.realpath(then) != os.path.realpath(self.state_dir):
                run[column] = str(self.state_dir.joinpath(*parts))
        return run

    # The kill switch: read before every tool call, so a switch thrown by another process binds at once.
    def disabled_tools(self) -> dict[str, dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM tool_switches").fetchall()
        return {r["tool"]: dict(r) for r in rows}

    def tool_switch(self, tool: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM tool_switches WHERE tool = ?", (tool,)).fetchone()
        return dict(row) if row else None

    def disable_tool(self, tool: str, by: str, reason: str = "") -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO tool_switches (tool, disabled_by, disabled_at, reason) VALUES (?, ?, ?, ?)",
            (tool, by, time.time(), reason),
        )

    def enable_tool(self, tool: str) -> bool:
        return self.db.execute("DELETE FROM tool_switches WHERE tool = ?", (tool,)).rowcount > 0

    # The journal's anchor (agentic.anchor): one row per run, rewritten on every append.
    def repository_id(self) -> str:
        return str(self.db.execute("SELECT value FROM meta WHERE key = 'repository_id'").fetchone()[0])

    def set_journal_head(self, run_id: str, seq: int, head: str, mac: str | None) -> None:
        self.db.execute(
            "INSERT INTO journal_heads (run, seq, hash, mac, origin, updated_at) VALUES (?, ?, ?, ?, 'run', ?) "
            "ON CONFLICT(run) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac, "
            "origin = 'run', updated_at = excluded.updated_at",
            (run_id, seq, head, mac, time.time()),
        )

    def journal_head(self, run_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM journal_heads WHERE run = ?", (run_id,)).fetchone()
        return dict(row) if row else None
