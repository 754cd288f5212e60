"""Hard limits of a run, checked before the action that would break them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agentic.contract import Limits
from agentic.models.base import Usage


class RunStopped(Exception):
    """Ends the agent loop with a final status (not an error of the person's)."""

    status = "failed"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LimitExceeded(RunStopped):
    status = "limit_exceeded"

    def __init__(self, limit: str, value: float, used: float) -> None:
        super().__init__(f"limit {limit} reached: limit {value:g}, used {used:g}")
        self.limit, self.value, self.used = limit, value, used


class Rejected(RunStopped):
    status = "rejected"


@dataclass
class Budget:
    limits: Limits
    clock: Callable[[], float] = time.monotonic
    steps: int = 0
    tool_calls: int = 0
    usage: Usage = field(default_factory=Usage)
    gate_failures: int = 0
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = self.clock()

    @property
    def elapsed(self) -> float:
        return self.clock() - self.started

    def remaining_s(self) -> float:
        return self.limits.timeout_s - self.elapsed

    def check_time(self) -> None:
        if self.elapsed >= self.limits.timeout_s:
            raise LimitExceeded("timeout_s", self.limits.timeout_s, round(self.elapsed, 1))

    def before_step(self) -> None:
        self.check_time()
        if self.steps >= self.limits.max_steps:
            raise LimitExceeded("max_steps", self.limits.max_steps, self.steps)
        cap = self.limits.max_total_tokens
        if cap is not None and self.usage.total_tokens >= cap:
            raise LimitExceeded("max_total_tokens", cap, self.usage.total_tokens)
        self.steps += 1

    def before_tool_call(self) -> None:
        self.check_time()
        if self.tool_calls >= self.limits.max_tool_calls:
            raise LimitExceeded("max_tool_calls", self.limits.max_tool_calls, self.tool_calls)
        self.tool_calls += 1

    def charge(self, usage: Usage) -> None:
        self.usage = self.usage + usage

    def tool_timeout(self, configured: float | None, default: float = 300.0) -> float:
        """A command's timeout: its own, but never past the run's deadline."""
        return max(1.0, min(configured or default, self.remaining_s()))

    def to_dict(self) -> dict[str, object]:
        return {
            "steps": self.steps,
            "tool_calls": self.tool_calls,
            "usage": self.usage.to_dict(),
            "elapsed_s": round(self.elapsed, 3),
            "gate_failures": self.gate_failures,
        }
