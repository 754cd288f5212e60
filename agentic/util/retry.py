"""Retrying provider calls: which failures are worth another try, how long to wait, when to give up.

The harness retries, not the SDKs (their clients are built with `max_retries=0`), so that every
retry is bounded by the contract's `max_retries` and the run's deadline, and journaled.

- 429 and overload (529, 503) honour the server's `Retry-After` / `retry-after-ms`;
- otherwise, and for 5xx, connection resets and read timeouts: exponential backoff with jitter;
- anything else (401, 400, 404, ...) is not retried: the same request would fail the same way.

tenacity runs the attempts (`RetryLoop`); this module says what to retry, how long to wait, and
when to give up, and tells the caller of each retry before its wait so it can be journaled.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, NoReturn, TypeVar

from agentic.errors import ProviderError, ProviderRequestError, RetriesExhausted

if TYPE_CHECKING:
    from tenacity import RetryCallState

T = TypeVar("T")

MAX_RETRY_AFTER_S = 300.0  # a server asking for a longer pause ends the run (resumable) rather than hang it


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with "equal jitter": the n-th wait lies in [d/2, d], d = initial·2^(n-1), capped."""

    initial_s: float = 0.5
    max_s: float = 30.0

    def wait(self, retry: int, rng: random.Random) -> float:
        ceiling = min(self.max_s, self.initial_s * 2.0 ** (retry - 1))
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


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """One attempt's end: the value it returned, or the exception it raised."""

    value: T | None = None
    error: BaseException | None = None


@dataclass(frozen=True)
class GaveUp:
    """Why the retries stopped: `retries` were made; then the retries ran out (neither field set), the
    server asked for a pause over the cap (`asked_s`), or the wait would outlast the run (`no_time_for_s`)."""

    retries: int
    asked_s: float | None = None
    no_time_for_s: float | None = None


@dataclass
class RetryLoop(Generic[T]):
    """Calls a function through tenacity until it succeeds, an outcome is not worth retrying, or
    retries, the server's patience or the run's time run out.

    `should_retry(outcome)` picks what is retried; `asked_s(outcome)` is the pause the server asked
    for (None: exponential backoff with jitter); `on_retry(retry, outcome, wait_s)` is told before
    each wait; `on_give_up(outcome, why)` returns (or raises) what the call ends with when it stops
    retrying a failure. An outcome not worth retrying ends the call as it is (returned or raised).
    """

    max_retries: int
    should_retry: Callable[[Outcome[T]], bool]
    asked_s: Callable[[Outcome[T]], float | None]
    on_give_up: Callable[[Outcome[T], GaveUp], T]
    max_asked_s: float = MAX_RETRY_AFTER_S
    backoff: Backoff = Backoff()
    on_retry: Callable[[int, Outcome[T], float], None] | None = None
    remaining_s: Callable[[], float] = lambda: float("inf")
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def call(self, fn: Callable[[], T]) -> T:
        import tenacity  # lazy: about 10 ms that `agentic --help` and read-only commands need not pay

        why: list[GaveUp] = []
        waits: dict[int, float] = {}  # by attempt: stop needs the wait, whichever tenacity asks for first

        def wait(state: RetryCallState) -> float:
            retry = state.attempt_number
            if retry not in waits:
                asked = self.asked_s(_outcome(state))
                waits[retry] = self.backoff.wait(retry, self.rng) if asked is None else asked
            return waits[retry]

        def stop(state: RetryCallState) -> bool:
            retry, asked, wait_s = state.attempt_number, self.asked_s(_outcome(state)), wait(state)
            if retry > self.max_retries:
                why.append(GaveUp(retry - 1))
            elif asked is not None and asked > self.max_asked_s:
                why.append(GaveUp(retry - 1, asked_s=asked))
            elif wait_s > self.remaining_s():
                why.append(GaveUp(retry - 1, no_time_for_s=wait_s))
            else:
                return False
            return True

        def before_sleep(state: RetryCallState) -> None:
            if self.on_retry is not None:
                self.on_retry(state.attempt_number, _outcome(state), wait(state))

        retrying = tenacity.Retrying(
            retry=lambda state: self.should_retry(_outcome(state)),
            wait=wait,
            stop=stop,
            before_sleep=before_sleep,
            retry_error_callback=lambda state: self.on_give_up(_outcome(state), why[-1]),
            sleep=lambda wait_s: self.sleep(float(wait_s)),
        )
        result: T = retrying(fn)
        return result


def _outcome(state: RetryCallState) -> Outcome[T]:
    future = state.outcome
    assert future is not None, "tenacity asks about an attempt only once it has ended"
    error = future.exception()
    return Outcome(error=error) if error is not None else Outcome(value=future.result())


@dataclass
class Retrier:
    """Calls a provider until it answers, a failure is not retryable, or retries or time run out.

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
        loop: RetryLoop[T] = RetryLoop(
            self.max_retries,
            should_retry=lambda outcome: isinstance(outcome.error, ProviderRequestError) and outcome.error.retryable,
            asked_s=lambda outcome: _provider_error(outcome).retry_after,
            on_give_up=_give_up,
            backoff=self.backoff,
            on_retry=self._told,
            remaining_s=self.remaining_s,
            sleep=self.sleep,
            rng=self.rng or random.Random(),
        )
        return loop.call(fn)

    def _told(self, retry: int, outcome: Outcome[T], wait_s: float) -> None:
        if self.on_retry is not None:
            self.on_retry(retry, _provider_error(outcome), wait_s)


def _provider_error(outcome: Outcome[T]) -> ProviderRequestError:
    assert isinstance(outcome.error, ProviderRequestError), "only failed provider requests are retried"
    return outcome.error


def _give_up(outcome: Outcome[T], why: GaveUp) -> NoReturn:
    """The last error, saying how many retries it took; the run ends as failed and can be resumed."""
    exc = _provider_error(outcome)
    reason = ""
    if why.asked_s is not None:
        reason = f"the server asked to wait {why.asked_s:.0f}s"
    elif why.no_time_for_s is not None:
        reason = f"no time left in the run to wait {why.no_time_for_s:.1f}s"
    raise _exhausted(exc, why.retries, reason) from exc


def _exhausted(exc: ProviderRequestError, retries: int, why: str = "") -> RetriesExhausted:
    done = f"gave up after {retries} {'retry' if retries == 1 else 'retries'}" + (f" ({why})" if why else "")
    hint = "; ".join(h for h in (exc.hint, "`agentic resume RUN` goes on from here later") if h)
    return RetriesExhausted(f"{exc.message}; {done}", hint=hint, status=exc.status, request_id=exc.request_id)
