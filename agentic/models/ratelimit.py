"""Requests and tokens per minute per provider, shared by every run of one repository on this machine.

Configured in settings (`rate_limits:`), keyed like prices: `provider` or `provider:model-prefix`,
the longest matching key wins. Every run of the repository, including the concurrent runs of
`agentic eval`, books its model calls in one SQLite file (the repository's `.agentic/ratelimits.db`),
so together they stay under the provider's limits: a run that is ahead of the limit waits for
room rather than earning a 429.

The window slides: a booking counts for 60 seconds after it was made. A call books one request
and its worst case in tokens (prompt estimate + output cap) before it is sent, and corrects the
tokens to what the provider reported once the answer is in (a failed call keeps its request and
frees its tokens).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WINDOW_S = 60.0


@dataclass(frozen=True)
class Rate:
    key: str  # the settings key that matched, which is also the bucket shared by runs
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None

    def describe(self) -> str:
        parts = [f"{self.requests_per_minute} requests" if self.requests_per_minute else "",
                 f"{self.tokens_per_minute} tokens" if self.tokens_per_minute else ""]  # fmt: skip
        return f"{self.key}: " + " and ".join(p for p in parts if p) + " per minute"


def rate_for(model: str, table: dict[str, Any] | None) -> Rate | None:
    """The rate limit that applies to `provider:model`, or None. `openai-responses:` shares `openai`'s."""
    if not table:
        return None
    prefix, _, model_id = model.partition(":")
    family = "openai" if prefix == "openai-responses" else prefix
    names = [family, f"{family}:{model_id}"] if prefix != family else [prefix, model]
    matches = [k for k in table if k == names[0] or (":" in k and names[1].startswith(k))]
    if not matches:
        return None
    key = max(matches, key=len)
    value = table[key] or {}
    return Rate(key, value.get("requests_per_minute"), value.get("tokens_per_minute"))


class RateLimiter:
    """Books model calls against one rate in a SQLite file shared between processes."""

    def __init__(self, path: Path, rate: Rate, *, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, window_s: float = WINDOW_S) -> None:  # fmt: skip
        self.path, self.rate, self.clock, self.sleep, self.window_s = path, rate, clock, sleep, window_s
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS bookings (id INTEGER PRIMARY KEY, bucket TEXT NOT NULL, "
                         "at REAL NOT NULL, tokens INTEGER NOT NULL)")  # fmt: skip
        self._db.execute("CREATE INDEX IF NOT EXISTS bookings_bucket_at ON bookings (bucket, at)")

    def close(self) -> None:
        self._db.close()

    def acquire(self, tokens: int, max_wait_s: float) -> tuple[int, float]:
        """Book one request of `tokens`, waiting for room; returns (booking id, seconds waited).

        Raises TimeoutError when room would only come after `max_wait_s`.
        """
        waited = 0.0
        while True:
            booking, wait = self._try(tokens)
            if booking is not None:
                return booking, waited
            if waited + wait > max_wait_s:
                raise TimeoutError(f"{self.rate.describe()}: no room for {wait:.1f}s")
            self.sleep(wait)
            waited += wait

    def settle(self, booking: int, tokens: int) -> None:
        """Correct a booking's tokens to what the call really used."""
        self._db.execute("UPDATE bookings SET tokens = ? WHERE id = ?", (max(0, tokens), booking))

    def _try(self, tokens: int) -> tuple[int | None, float]:
        """Book now if the window has room (booking id, 0); else (None, seconds until it will)."""
        rpm, tpm = self.rate.requests_per_minute, self.rate.tokens_per_minute
        db = self._db
        db.execute("BEGIN IMMEDIATE")  # one booker at a time across processes
        try:
            now = self.clock()
            db.execute("DELETE FROM bookings WHERE at <= ?", (now - self.window_s,))
            rows = db.execute("SELECT at, tokens FROM bookings WHERE bucket = ? ORDER BY at",
                              (self.rate.key,)).fetchall()  # fmt: skip
            used = sum(t for _, t in rows)

            def fits(count: int, booked: int) -> bool:
                # a call larger than the whole per-minute budget goes alone rather than never
                return (rpm is None or count < rpm) and (tpm is None or booked + tokens <= tpm or count == 0)

            if fits(len(rows), used):
                cur = db.execute("INSERT INTO bookings (bucket, at, tokens) VALUES (?, ?, ?)",
                                 (self.rate.key, now, tokens))  # fmt: skip
                db.execute("COMMIT")
                return cur.lastrowid, 0.0
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        for n, (at, booked) in enumerate(rows, start=1):  # room comes as the oldest bookings expire
            used -= booked
            if fits(len(rows) - n, used):
                return None, max(0.01, at + self.window_s - now)
        return None, self.window_s  # pragma: no cover - fits(0, 0) always holds
