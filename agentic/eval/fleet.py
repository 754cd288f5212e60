"""What an eval's attempts share, wherever they run: the provider rate limits, the eval-wide budget,
the cancel flag, and where each try of an attempt runs.

One `Fleet` per eval. The local executor shares the object between its threads; the Ray executor
makes it one actor (agentic.eval.onray) that every worker of the cluster calls, so the limits hold
across machines, not per process:

    rate limits  the same sliding window as the SQLite limiter (agentic.models.ratelimit), one bucket
                 per settings key: a call books its worst case before it is sent, settles after.
    budget       --max-cost-usd and --max-total-tokens over every attempt. Each model call is charged
                 once its answer is in; once the budget is reached the fleet is cancelled, so no
                 further call is sent (calls already in flight end and are charged: the overshoot is
                 bounded by one call per attempt in flight).
    cancel       Ctrl-C, or the budget: no new attempt starts; running ones stop at their next model
                 call; they are recorded as cancelled, not failed.
    order        attempts go out scenario-major within each model, the models interleaved, so that no
                 provider's bucket is emptied first (fleet_order).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from agentic.eval.scenarios import Scenario
from agentic.models.ratelimit import WINDOW_S, Rate, fits, wait_for_room


class Limits(Protocol):
    """What an attempt's model asks of its fleet: the Fleet itself, or on Ray a try's view of its
    actor (the rate limits are a separate seam: agentic.models.ratelimit.Book)."""

    def charge(self, tokens: int, cost_usd: float | None) -> None: ...
    def cancelled(self) -> str | None: ...


class Fleet:
    """The shared state of one eval; thread-safe (a threaded Ray actor calls it concurrently)."""

    def __init__(self, *, max_cost_usd: float | None = None, max_total_tokens: int | None = None,
                 clock: Callable[[], float] = time.time, window_s: float = WINDOW_S) -> None:  # fmt: skip
        self.max_cost_usd, self.max_total_tokens = max_cost_usd, max_total_tokens
        self.clock, self.window_s = clock, window_s
        self._lock = threading.Lock()
        self._bookings: dict[str, dict[int, list[float]]] = {}  # bucket -> booking id -> [at, tokens]
        self._next = 1
        self._cost = 0.0
        self._tokens = 0
        self._cost_unknown = 0  # calls whose cost is not known (no price): not counted in the cost
        self._cancelled: str | None = None
        self._tries: dict[str, dict[str, Any]] = {}  # "scenario#n#try" -> where it runs
        self._trees: dict[str, Any] = {}  # a tree's check results, once per distinct tree of a scenario
        self._claims: dict[str, float] = {}  # tree key -> when a try claimed to check it

    # -- rate limits --

    def try_book(self, rate: Rate, tokens: int) -> tuple[int | None, float]:
        """A booking, or None and how long until there is room. A cancelled eval books nothing and
        keeps no call waiting (booking 0): the call goes on, and its run finds the eval cancelled."""
        with self._lock:
            if self._cancelled:
                return 0, 0.0
            now = self.clock()
            bucket = self._bookings.setdefault(rate.key, {})
            for booking in [b for b, (at, _) in bucket.items() if at <= now - self.window_s]:
                del bucket[booking]
            rows = sorted((at, int(t)) for at, t in bucket.values())
            if fits(rate, len(rows), sum(t for _, t in rows), tokens):
                booking, self._next = self._next, self._next + 1
                bucket[booking] = [now, tokens]
                return booking, 0.0
            return None, wait_for_room(rate, rows, tokens, now, self.window_s)

    def settle(self, rate: Rate, booking: int, tokens: int) -> None:
        with self._lock:
            held = self._bookings.get(rate.key, {}).get(booking)
            if held is not None:
                held[1] = max(0, tokens)

    # -- the eval-wide budget and the cancel flag --

    def charge(self, tokens: int, cost_usd: float | None) -> None:
        with self._lock:
            self._tokens += tokens
            if cost_usd is None:
                self._cost_unknown += 1
            else:
                self._cost += cost_usd
            if self._cancelled is None:
                if self.max_cost_usd is not None and self._cost >= self.max_cost_usd:
                    self._cancelled = f"the eval's budget of ${self.max_cost_usd:g} was reached (${self._cost:.4f})"
                elif self.max_total_tokens is not None and self._tokens >= self.max_total_tokens:
                    self._cancelled = f"the eval's budget of {self.max_total_tokens} tokens was reached ({self._tokens})"

    def cancel(self, reason: str) -> None:
        with self._lock:
            self._cancelled = self._cancelled or reason

    def cancelled(self) -> str | None:
        """Why the eval was cancelled, or None while it goes on."""
        with self._lock:
            return self._cancelled

    def totals(self) -> dict[str, Any]:
        with self._lock:
            return {"tokens": self._tokens, "cost_usd": round(self._cost, 6), "calls_without_price": self._cost_unknown,
                    "cancelled": self._cancelled}  # fmt: skip

    # -- check results shared: a tree that several attempts delivered is checked once --

    def tree_claim(self, key: str, lease_s: float) -> tuple[str, Any]:
        """("done", results) when the tree was checked; ("run", None): the caller checks it (and calls
        tree_done or tree_release); ("wait", None): another try is checking it (its claim expires
        after `lease_s`, so a try lost with its worker does not hold the others)."""
        with self._lock:
            if key in self._trees:
                return "done", self._trees[key]
            now = self.clock()
            if key in self._claims and now - self._claims[key] < lease_s:
                return "wait", None
            self._claims[key] = now
            return "run", None

    def tree_done(self, key: str, results: Any) -> None:
        with self._lock:
            self._trees[key] = results
            self._claims.pop(key, None)

    def tree_release(self, key: str) -> None:
        with self._lock:
            self._claims.pop(key, None)

    # -- where tries run (for the driver: salvage a lost try's journal; for tests: kill one) --

    def started(self, key: str, where: dict[str, Any]) -> bool:
        """A try started `where`; whether the eval has a budget (its model calls are then charged)."""
        with self._lock:
            self._tries[key] = dict(where)
            return self.max_cost_usd is not None or self.max_total_tokens is not None

    def tries(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: dict(v) for k, v in self._tries.items()}


def fleet_order(todo: list[tuple[Scenario, int]], model_of: Callable[[Scenario], str]) -> list[tuple[Scenario, int]]:
    """Scenario-major within each model, the models interleaved: m1 s1#1, m2 s3#1, m1 s1#2, …"""
    by_model: dict[str, collections.deque[tuple[Scenario, int]]] = {}
    for scenario, n in sorted(todo, key=lambda a: (a[0].id, a[1])):
        by_model.setdefault(model_of(scenario), collections.deque()).append((scenario, n))
    order: list[tuple[Scenario, int]] = []
    while any(by_model.values()):
        for queue in by_model.values():
            if queue:
                order.append(queue.popleft())
    return order
