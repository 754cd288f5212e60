"""Requests and tokens per minute per provider, shared by every run of one repository on this machine.

Configured in settings (`rate_limits:`), keyed like prices: `provider` or `provider:model-prefix`,
the longest matching key wins. Every run of the repository, including the concurrent runs of
`agentic eval`, books its model calls in one SQLite file (the repository's `.agentic/ratelimits.db`),
so together they stay under the provider's limits: a run that is ahead of the limit waits for
room rather than earning a 429. An eval on Ray books in its fleet's one actor instead (a `Book`,
agentic.eval.fleet), so every worker of the cluster shares the same window.

The window slides: a booking counts for 60 seconds after it was made. A call books one request
and its worst case in tokens (prompt estimate + output cap) before it is sent, and corrects the
tokens to what the provider reported once the answer is in (a failed call keeps its request and
frees its tokens).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agentic.util.sqlitefile import open_shared

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


class Book(Protocol):
    """Where bookings are kept: one SQLite file per repository (SqliteBook), or an eval fleet's actor."""

    def try_book(self, rate: Rate, tokens: int) -> tuple[int | None, float]:
        """Book one request of `tokens` now if the window has room: (booking id, 0); else (None, seconds
        until it will)."""
        ...

    def settle(self, rate: Rate, booking: int, tokens: int) -> None:
        """Correct a booking's tokens to what the call really used."""
        ...


def fits(rate: Rate, count: int, booked: int, tokens: int) -> bool:
    """Whether one more request of `tokens` fits beside `count` bookings of `booked` tokens in the
    window; a call larger than the whole per-minute budget goes alone rather than never."""
    rpm, tpm = rate.requests_per_minute, rate.tokens_per_minute
    return (rpm is None or count < rpm) and (tpm is None or booked + tokens <= tpm or count == 0)


def wait_for_room(rate: Rate, bookings: list[tuple[float, int]], tokens: int, now: float, window_s: float) -> float:
    """Seconds until a request of `tokens` fits, as the oldest of `bookings` (at, tokens) expire."""
    used = sum(t for _, t in bookings)
    for n, (at, booked) in enumerate(bookings, start=1):
        used -= booked
        if fits(rate, len(bookings) - n, used, tokens):
            return max(0.01, at + window_s - now)
    return window_s  # pragma: no cover - fits(rate, 0, 0, tokens) always holds


POLL_S = 1.0  # the longest a call waits for room before it asks its book again


class RateLimiter:
    """Waits for room under one rate, booking each model call in a Book (default: a SQLite file)."""

    def __init__(self, path: Path | None, rate: Rate, *, book: Book | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 window_s: float = WINDOW_S) -> None:  # fmt: skip
        if book is None:
            assert path is not None
            book = SqliteBook(path, clock=clock, window_s=window_s)
        self.rate, self.book, self.sleep = rate, book, sleep

    def close(self) -> None:
        close = getattr(self.book, "close", None)
        if close is not None:
            close()

    def acquire(self, tokens: int, max_wait_s: float) -> tuple[int, float]:
        """Book one request of `tokens`, waiting for room; returns (booking id, seconds waited).

        Raises TimeoutError when room would only come after `max_wait_s`.
        """
        waited = 0.0
        while True:
            booking, wait = self.book.try_book(self.rate, tokens)
            if booking is not None:
                return booking, waited
            if waited + wait > max_wait_s:
                raise TimeoutError(f"{self.rate.describe()}: no room for {wait:.1f}s")
            step = min(wait, POLL_S)  # asked again each POLL_S: a book may grant sooner (an eval cancelled)
            self.sleep(step)
            waited += step

    def settle(self, booking: int, tokens: int) -> None:
        self.book.settle(self.rate, booking, tokens)


class SqliteBook:
    """Bookings in a SQLite file shared between the processes of one machine."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time, window_s: float = WINDOW_S) -> None:
        self.path, self.clock, self.window_s = path, clock, window_s
        self._db = open_shared(path, timeout_s=60, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS bookings (id INTEGER PRIMARY KEY, bucket TEXT NOT NULL, "
                         "at REAL NOT NULL, tokens INTEGER NOT NULL)")  # fmt: skip
        self._db.execute("CREATE INDEX IF NOT EXISTS bookings_bucket_at ON bookings (bucket, at)")

    def close(self) -> None:
        self._db.close()

    def settle(self, rate: Rate, booking: int, tokens: int) -> None:
        self._db.execute("UPDATE bookings SET tokens = ? WHERE id = ?", (max(0, tokens), booking))

    def try_book(self, rate: Rate, tokens: int) -> tuple[int | None, float]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")  # one booker at a time across processes
        try:
            now = self.clock()
            db.execute("DELETE FROM bookings WHERE at <= ?", (now - self.window_s,))
            rows = db.execute("SELECT at, tokens FROM bookings WHERE bucket = ? ORDER BY at",
                              (rate.key,)).fetchall()  # fmt: skip
            if fits(rate, len(rows), sum(t for _, t in rows), tokens):
                cur = db.execute("INSERT INTO bookings (bucket, at, tokens) VALUES (?, ?, ?)",
                                 (rate.key, now, tokens))  # fmt: skip
                db.execute("COMMIT")
                return cur.lastrowid, 0.0
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return None, wait_for_room(rate, [(at, t) for at, t in rows], tokens, now, self.window_s)
