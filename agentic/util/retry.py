"""Retrying provider calls: which failures are worth another try, how long to wait, when to give up.

The harness retries, not the SDKs (their clients are built with `max_retries=0`), so that every
retry is bounded by the contract's `max_retries` and the run's deadline, and journaled.

- 429 and overload (529, 503) honour the server's `Retry-After` / `retry-after-ms`;
- otherwise, and for 5xx, connection resets and read timeouts: exponential backoff with jitter;
- anything else (401, 400, 404, ...) is not retried: the same request would fail the same way.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from agentic.errors import ProviderError, RetriesExhausted

T = TypeVar("T")

MAX_RETRY_AFTER_S = 300.0  # a server asking for a longer pause ends the run (resumable) rather than hang it


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with "equal jitter": the n-th wait lies in [d/2, d], d = initial·2^(n-1), capped."""

    initial_s: float = 0.5
    max_s: float = 30.0

    def wait(self, retry: int, rng: random.Random) -> float:
        ceiling = min(self.max_s, self.initial_s * 2 ** (retry - 1))
        return ceiling / 2 + rng.random() * ceiling / 2


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait as the server asked: `retry-after-ms`, else `retry-after` (seconds or an HTTP date)."""
    if not headers:
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        raw = lowered.get("retry-after")
        if raw is None:
            return None
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(lowered["retry-after"])
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class Retrier:
    """Calls a function until it succeeds, a failure is not retryable, or retries or time run out.

    `on_retry(retry, error, wait_s)` is told before each wait (the harness journals it);
    `remaining_s()` is the time left in the run: no wait is started that would outlast it.
    """

    max_retries: int
    backoff: Backoff = Backoff()
    on_retry: Callable[[int, ProviderError, float], None] | None = None
    remaining_s: Callable[[], float] = lambda: float("inf")
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random | None = None

    def call(self, fn: Callable[[], T]) -> T:
        rng = self.rng or random.Random()
        retry = 0
        while True:
            try:
                return fn()
            except ProviderError as exc:
                if not getattr(exc, "retryable", False):
                    raise
                retry += 1
                if retry > self.max_retries:
                    raise _exhausted(exc, self.max_retries) from exc
                wait = self.wait_for(exc, retry, rng)
                if wait > self.remaining_s():
                    raise _exhausted(exc, retry - 1, f"no time left in the run to wait {wait:.1f}s") from exc
                if self.on_retry is not None:
                    self.on_retry(retry, exc, wait)
                self.sleep(wait)

    def wait_for(self, exc: ProviderError, retry: int, rng: random.Random) -> float:
        asked = getattr(exc, "retry_after", None)
        if asked is not None:
            if asked > MAX_RETRY_AFTER_S:
                raise _exhausted(exc, retry - 1, f"the server asked to wait {asked:.0f}s") from exc
            return float(asked)
        return self.backoff.wait(retry, rng)


def _exhausted(exc: ProviderError, retries: int, why: str = "") -> RetriesExhausted:
    """The last error, saying how many retries it took; the run ends as failed and can be resumed."""
    done = f"gave up after {retries} {'retry' if retries == 1 else 'retries'}" + (f" ({why})" if why else "")
    hint = "; ".join(h for h in (exc.hint, "`agentic resume RUN` goes on from here later") if h)
    return RetriesExhausted(f"{exc.message}; {done}", hint=hint, status=getattr(exc, "status", None),
                            request_id=getattr(exc, "request_id", None))  # fmt: skip
