"""The harness's retry policy: which failures are retried, how long it waits, when it gives up."""

from __future__ import annotations

import email.utils
import random

import pytest

from agentic.errors import ProviderRequestError, RetriesExhausted
from agentic.util.retry import Backoff, GaveUp, Outcome, Retrier, RetryLoop, parse_retry_after


def failing(*errors: ProviderRequestError, answer: str = "ok") -> tuple[list[int], object]:
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return answer

    return calls, fn


def busy(retry_after: float | None = None, status: int = 429) -> ProviderRequestError:
    return ProviderRequestError(f"HTTP {status}", status=status, retryable=True, retry_after=retry_after)


def test_retry_after_in_seconds_milliseconds_and_as_a_date() -> None:
    assert parse_retry_after({"Retry-After": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25  # the finer one wins
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=1_000_000) == 30.0
    assert parse_retry_after({"retry-after": "soon"}) is None and parse_retry_after(None) is None
    assert parse_retry_after({"retry-after": "-5"}) == 0.0


def test_backoff_doubles_within_jitter_and_is_capped() -> None:
    rng, backoff = random.Random(1), Backoff(initial_s=0.5, max_s=4.0)
    for retry, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        waits = [backoff.wait(retry, rng) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert max(waits) - min(waits) > ceiling / 4  # jittered, not fixed


def test_the_server_wait_is_honoured_and_each_retry_reported() -> None:
    slept: list[float] = []
    told: list[tuple[int, float]] = []
    calls, fn = failing(busy(3.0), busy(status=503))
    retrier = Retrier(2, on_retry=lambda n, exc, wait: told.append((n, wait)), sleep=slept.append,
                      rng=random.Random(0))  # fmt: skip
    assert retrier.call(fn) == "ok" and len(calls) == 3
    assert slept[0] == 3.0 and 0.5 <= slept[1] <= 1.0
    assert [n for n, _ in told] == [1, 2] and [w for _, w in told] == slept


def test_retries_run_out_into_a_resumable_failure() -> None:
    calls, fn = failing(busy(), busy(), busy())
    with pytest.raises(RetriesExhausted) as info:
        Retrier(2, sleep=lambda s: None).call(fn)
    assert len(calls) == 3 and "gave up after 2 retries" in info.value.message
    assert info.value.status == 429 and not info.value.retryable and "agentic resume" in (info.value.hint or "")


def test_what_cannot_help_is_not_retried() -> None:
    calls, fn = failing(ProviderRequestError("HTTP 401", status=401, retryable=False))
    with pytest.raises(ProviderRequestError) as info:
        Retrier(5, sleep=lambda s: None).call(fn)
    assert len(calls) == 1 and not isinstance(info.value, RetriesExhausted)


def test_no_wait_outlasts_the_run_or_a_sane_pause() -> None:
    calls, fn = failing(busy(10.0))
    with pytest.raises(RetriesExhausted, match=r"no time left in the run to wait 10\.0s"):
        Retrier(3, remaining_s=lambda: 5.0, sleep=lambda s: None).call(fn)
    calls, fn = failing(busy(3600.0))
    with pytest.raises(RetriesExhausted, match="the server asked to wait 3600s"):
        Retrier(3, sleep=lambda s: None).call(fn)
    assert len(calls) == 1


def test_each_retry_is_told_before_its_wait_and_other_exceptions_pass_at_once() -> None:
    events: list[str] = []
    calls, fn = failing(busy(1.0), busy(2.0))
    retrier = Retrier(3, on_retry=lambda n, exc, wait: events.append(f"told {n} {wait}"),
                      sleep=lambda s: events.append(f"slept {s}"))  # fmt: skip
    assert retrier.call(fn) == "ok"
    assert events == ["told 1 1.0", "slept 1.0", "told 2 2.0", "slept 2.0"]  # journaled, then waited

    def interrupted() -> str:
        calls.append(1)
        raise KeyboardInterrupt

    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        Retrier(3, sleep=lambda s: None).call(interrupted)
    assert calls == [1]


def test_a_loop_over_answers_retries_them_and_says_why_it_gave_up() -> None:
    answers = iter([503, 429, 429, 200])
    asked = {503: None, 429: 90.0}
    waits: list[float] = []
    why: list[GaveUp] = []

    def give_up(outcome: Outcome[int], reason: GaveUp) -> int:
        why.append(reason)
        return -1 if outcome.value is None else -outcome.value

    loop: RetryLoop[int] = RetryLoop(5, should_retry=lambda o: o.value != 200, asked_s=lambda o: asked[o.value or 0],
                                     on_give_up=give_up, max_asked_s=60.0, sleep=waits.append,
                                     rng=random.Random(3))  # fmt: skip
    assert loop.call(lambda: next(answers)) == -429  # the 2nd answer asked for 90 s, over the cap of 60
    assert why == [GaveUp(1, asked_s=90.0)] and len(waits) == 1 and 0.25 <= waits[0] <= 0.5
    answers, waits[:] = iter([503, 503, 200]), []
    assert RetryLoop(1, should_retry=lambda o: o.value != 200, asked_s=lambda o: None, on_give_up=give_up,
                     sleep=waits.append).call(lambda: next(answers)) == -503  # fmt: skip
    assert why[-1] == GaveUp(1) and len(waits) == 1
