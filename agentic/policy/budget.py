"""Hard limits of a run, checked before the action that would break them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agentic.models.base import Usage
from agentic.models.pricing import Price
from agentic.policy.contract import Limits


class RunStopped(Exception):
    """Ends the agent loop with a final status (not an error of the person's)."""

    status = "failed"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LimitExceeded(RunStopped):
    status = "limit_exceeded"

    def __init__(self, limit: str, value: float, used: float, detail: str = "") -> None:
        super().__init__(f"limit {limit} reached: limit {value:g}, used {used:g}" + (f"; {detail}" if detail else ""))
        self.limit, self.value, self.used = limit, value, used


class Rejected(RunStopped):
    status = "rejected"


class Stuck(RunStopped):
    """The agent repeats itself: the same call, or the same error, too many times in a row."""

    status = "stuck"


@dataclass
class Budget:
    limits: Limits
    clock: Callable[[], float] = time.monotonic
    steps: int = 0
    tool_calls: int = 0
    usage: Usage = field(default_factory=Usage)
    gate_failures: int = 0
    started: float = 0.0
    price: Price | None = None  # of the run's model; None: unknown, cost is not counted
    output_cap: int = 4096  # output tokens a model call may use
    cost_usd: float = 0.0  # of the calls whose cost is known
    cost_known: bool = True  # every call so far had a known cost

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
        self.steps += 1

    def before_tool_call(self) -> None:
        self.check_time()
        if self.tool_calls >= self.limits.max_tool_calls:
            raise LimitExceeded("max_tool_calls", self.limits.max_tool_calls, self.tool_calls)
        self.tool_calls += 1

    def before_model_call(self, prompt_tokens: int) -> None:
        """Stop before a call whose worst case (its prompt, a full output) would break max_total_tokens
        or max_cost_usd."""
        tokens = self.limits.max_total_tokens
        worst_tokens = prompt_tokens + self.output_cap
        if tokens is not None and self.usage.total_tokens + worst_tokens > tokens:
            raise LimitExceeded("max_total_tokens", tokens, self.usage.total_tokens,
                                f"the next model call could use up to {worst_tokens} tokens")  # fmt: skip
        cap = self.limits.max_cost_usd
        if cap is None or self.price is None:
            return
        worst = self.price.cost(Usage(input_tokens=prompt_tokens, output_tokens=self.output_cap))
        if self.cost_usd + worst > cap:
            raise LimitExceeded("max_cost_usd", cap, round(self.cost_usd, 6),
                                f"the next model call could cost up to ${worst:.4f}")  # fmt: skip

    def charge(self, usage: Usage, cost_usd: float | None = None) -> None:
        self.usage = self.usage + usage
        if cost_usd is None:
            self.cost_known = False
        else:
            self.cost_usd += cost_usd

    def tool_timeout(self, configured: float | None, default: float = 300.0) -> float:
        """A command's timeout: its own, but never past the run's deadline."""
        return max(1.0, min(configured or default, self.remaining_s()))

    def to_dict(self) -> dict[str, object]:
        return {
            "steps": self.steps,
            "tool_calls": self.tool_calls,
            "usage": self.usage.to_dict(),
            "cost_usd": round(self.cost_usd, 6) if self.cost_known else None,
            "elapsed_s": round(self.elapsed, 3),
            "gate_failures": self.gate_failures,
        }
