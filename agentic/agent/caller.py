"""One model call under the run's limits: the provider's shared rate respected, failures retried.

Retries and waits are journaled (`model.retry`, `model.wait`) as they happen, so a run that
spent a minute waiting on a provider shows where the minute went.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from agentic.errors import ProviderError
from agentic.journal.records import Journal
from agentic.models.base import Message, Model, ToolSpec, Turn
from agentic.models.ratelimit import RateLimiter
from agentic.policy.budget import Budget, LimitExceeded
from agentic.util.retry import Retrier


@dataclass
class Caller:
    model: Model
    journal: Journal
    budget: Budget
    max_retries: int
    limiter: RateLimiter | None = None
    request_timeout_s: float = 120.0  # the settings' request timeout
    sleep: Callable[[float], None] = time.sleep

    def complete(self, messages: list[Message], specs: list[ToolSpec], step: int, prompt_tokens: int) -> Turn:
        """The model's answer, after waiting for room under the rate limit and retrying what can be."""

        def on_retry(retry: int, exc: ProviderError, wait_s: float) -> None:
            self.journal.append("model.retry", {
                "retry": retry, "of": self.max_retries, "wait_s": round(wait_s, 3), "error": exc.message,
                "status": getattr(exc, "status", None), "retry_after": getattr(exc, "retry_after", None),
            }, step=step)  # fmt: skip

        def attempt() -> Turn:
            booking = self._book(step, prompt_tokens + self.budget.output_cap)
            try:
                try:
                    turn = self.model.complete(messages, specs, timeout_s=self.call_timeout())
                except RecursionError:  # JSON nested past what Python parses, in the SDK or the adapter
                    raise ProviderError("the model's answer nests too deeply to be read") from None
            except BaseException as exc:
                self._settle(booking, 0)  # the request counts; its tokens were not spent
                if isinstance(exc, ProviderError) and self.budget.remaining_s() <= 0:
                    self.budget.check_time()  # cut at the run's deadline: the limit, not the provider
                raise
            self._settle(booking, turn.usage.total_tokens)
            return turn

        retrier = Retrier(self.max_retries, on_retry=on_retry, remaining_s=self.budget.remaining_s, sleep=self.sleep)
        return retrier.call(attempt)

    def call_timeout(self) -> float | None:
        """The run's remaining time when it is shorter than the request timeout: timeout_s binds a call
        in flight too. None: the adapter's own request timeout."""
        remaining = self.budget.remaining_s()
        if remaining >= self.request_timeout_s:
            return None
        if remaining <= 0:
            self.budget.check_time()
        return max(1.0, remaining)

    def _book(self, step: int, tokens: int) -> int | None:
        if self.limiter is None:
            return None
        try:
            booking, waited = self.limiter.acquire(tokens, max_wait_s=max(0.0, self.budget.remaining_s()))
        except TimeoutError as exc:
            raise LimitExceeded("timeout_s", self.budget.limits.timeout_s, round(self.budget.elapsed, 1),
                                f"waiting for room under the rate limit ({exc})") from None  # fmt: skip
        if waited > 0:
            self.journal.append("model.wait", {"wait_s": round(waited, 3), "rate": self.limiter.rate.describe()},
                                step=step)  # fmt: skip
        return booking

    def _settle(self, booking: int | None, tokens: int) -> None:
        if booking is not None and self.limiter is not None:
            self.limiter.settle(booking, tokens)
