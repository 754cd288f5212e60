"""Statistics of an evaluation.

An eval runs every scenario several times; each attempt ends with a verdict:

    pass   the run's checks all held
    fail   a check did not hold
    error  infrastructure or provider trouble: the attempt measured nothing
    cancelled  the eval was stopped (Ctrl-C, its budget reached) before the attempt ended

Errors and cancelled attempts never count as passes or as fails: every rate below is over
n = passes + fails; the error rate is over the attempts that were not cancelled.

Per scenario and overall this module computes the pass rate with its 95% Wilson score interval,
pass@k and pass^k for k = 1..n with the unbiased estimators of the Codex paper and tau-bench,

    pass@k = 1 - C(n-c, k) / C(n, k)     at least one of k attempts passes
    pass^k = C(c, k) / C(n, k)            all k attempts pass

(n counted attempts, c passes), whether the scenario is flaky (some but not all passed), and the mean
steps, tokens, cost and duration of the attempts that produced a run. `eval.compare` sets a result
against a baseline; `eval.summaryfile` writes and reads the versioned JSON, and `eval.junit`,
`eval.markdown`, `eval.table` and `eval.html` the other reports.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

VERDICTS = ("pass", "fail", "error", "cancelled")
Z95 = 1.959963984540054  # the 0.975 quantile of the standard normal distribution


@dataclass(frozen=True)
class Attempt:
    """One run of one scenario and its verdict."""

    scenario: str
    attempt: int  # 1-based
    verdict: str  # "pass" | "fail" | "error" | "cancelled"
    status: str  # the run's final status, or "" when no run was made
    reason: str
    run_id: str | None
    steps: int
    tool_calls: int
    tokens: int
    cost_usd: float | None
    duration_s: float
    checks: dict[str, bool]  # check id -> passed
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Stats:
    """Counts, rates and means over a set of attempts. Rates are None when n (passes + fails) is 0."""

    attempts: int
    passes: int
    fails: int
    errors: int
    cancelled: int  # written to the summary only when there are some (older summaries have none)
    pass_rate: float | None
    ci_low: float | None  # 95% Wilson score interval of the pass rate
    ci_high: float | None
    pass_at_k: tuple[float, ...]  # index k-1, k = 1..n
    pass_hat_k: tuple[float, ...]  # pass^k, index k-1
    mean_steps: float | None  # the means are over attempts that produced a run
    mean_tokens: float | None
    mean_cost_usd: float | None  # over the attempts whose cost is known
    total_cost_usd: float | None  # summed over every attempt whose cost is known
    cost_complete: bool  # every attempt with a run knows its cost
    mean_duration_s: float | None

    @property
    def n(self) -> int:
        """The attempts that count for rates: passes + fails."""
        return self.passes + self.fails

    @property
    def k(self) -> int:
        """The largest k with pass@k and pass^k."""
        return len(self.pass_at_k)


@dataclass(frozen=True)
class ScenarioStats(Stats):
    scenario: str
    status: str  # "pass" (all counted attempts passed), "fail" (none), "flaky" (some), "error" (none counted),
    # "cancelled" (every attempt cancelled)
    tags: tuple[str, ...]
    results: tuple[Attempt, ...]  # ordered by attempt number

    @property
    def flaky(self) -> bool:
        return self.status == "flaky"


@dataclass(frozen=True)
class Overall(Stats):
    """Over every attempt. pass_rate and its interval pool the attempts; pass@k and pass^k are the mean
    over the scenarios with a counted attempt of their pass@k and pass^k (as in the Codex paper), for k
    up to the smallest n among them."""

    scenarios: int
    passing: int
    failing: int
    flaky: int
    errored: int  # scenarios none of whose attempts counted

    @property
    def error_rate(self) -> float:
        ended = self.attempts - self.cancelled
        return self.errors / ended if ended else 0.0


@dataclass(frozen=True)
class EvalSummary:
    fingerprint: dict[str, Any]
    meta: dict[str, Any]
    overall: Overall
    scenarios: tuple[ScenarioStats, ...]  # ordered by scenario id

    def scenario(self, scenario_id: str) -> ScenarioStats | None:
        return next((s for s in self.scenarios if s.scenario == scenario_id), None)

    @property
    def attempts(self) -> list[Attempt]:
        return [a for s in self.scenarios for a in s.results]


# -- the statistics -------------------------------------------------------------------------------


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k: the chance that at least one of k attempts drawn from the n passes."""
    if not 0 < k <= n or not 0 <= c <= n:
        raise ValueError(f"pass@k needs 0 < k <= n and 0 <= c <= n (n={n}, c={c}, k={k})")
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Unbiased pass^k: the chance that all k attempts drawn from the n pass."""
    if not 0 < k <= n or not 0 <= c <= n:
        raise ValueError(f"pass^k needs 0 < k <= n and 0 <= c <= n (n={n}, c={c}, k={k})")
    return math.comb(c, k) / math.comb(n, k)


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95% by default)."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(
            f"the Wilson interval needs n > 0 and 0 <= successes <= n (n={n}, successes={successes})"
        )
    p = successes / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact at the ends, not 1e-17 off
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _counts(attempts: Sequence[Attempt]) -> dict[str, Any]:
    """The fields of Stats that do not depend on how pass@k is aggregated."""
    passes = sum(1 for a in attempts if a.verdict == "pass")
    fails = sum(1 for a in attempts if a.verdict == "fail")
    cancelled = sum(1 for a in attempts if a.verdict == "cancelled")
    n = passes + fails
    low, high = wilson_interval(passes, n) if n else (None, None)
    ran = [a for a in attempts if a.run_id is not None]
    costs = [a.cost_usd for a in attempts if a.cost_usd is not None]
    known = [a.cost_usd for a in ran if a.cost_usd is not None]
    return {
        "attempts": len(attempts),
        "passes": passes,
        "fails": fails,
        "errors": len(attempts) - n - cancelled,
        "cancelled": cancelled,
        "pass_rate": passes / n if n else None,
        "ci_low": low,
        "ci_high": high,
        "mean_steps": _mean([a.steps for a in ran]),
        "mean_tokens": _mean([a.tokens for a in ran]),
        "mean_cost_usd": _mean(known),
        "total_cost_usd": sum(costs) if costs else None,
        "cost_complete": len(known) == len(ran),
        "mean_duration_s": _mean([a.duration_s for a in ran]),
    }


def _status(passes: int, n: int, cancelled: bool = False) -> str:
    if n == 0:
        return "cancelled" if cancelled else "error"
    return "pass" if passes == n else "fail" if passes == 0 else "flaky"


# The JSON types of an attempt's fields (the file holds tags as a list).
ATTEMPT_TYPES: dict[str, tuple[type, ...]] = {
    "scenario": (str,),
    "attempt": (int,),
    "verdict": (str,),
    "status": (str,),
    "reason": (str,),
    "run_id": (str, type(None)),
    "steps": (int,),
    "tool_calls": (int,),
    "tokens": (int,),
    "cost_usd": (int, float, type(None)),
    "duration_s": (int, float),
    "checks": (dict,),
    "tags": (list,),
}


def _check(attempt: Attempt) -> None:
    """An attempt must be what its JSON will be read back as: a wrong type is caught here, at the eval,
    not later when the summary is loaded as a baseline."""
    where = f"{attempt.scenario} attempt {attempt.attempt}"
    for name, types in ATTEMPT_TYPES.items():
        value = getattr(attempt, name)
        types = (tuple, list) if name == "tags" else types
        if isinstance(value, bool) or not isinstance(value, types):
            raise ValueError(
                f"{where}: {name} must be {' or '.join(t.__name__ for t in types)}, not {value!r}"
            )
    if attempt.verdict not in VERDICTS:
        raise ValueError(f"{where}: verdict {attempt.verdict!r} is not one of {', '.join(VERDICTS)}")


def scenario_stats(scenario: str, attempts: Iterable[Attempt]) -> ScenarioStats:
    runs = tuple(sorted(attempts, key=lambda a: a.attempt))
    for attempt in runs:
        _check(attempt)
    counts = _counts(runs)
    n, c = counts["passes"] + counts["fails"], counts["passes"]
    tags = tuple(sorted({t for a in runs for t in a.tags}))
    return ScenarioStats(
        **counts,
        pass_at_k=tuple(pass_at_k(n, c, k) for k in range(1, n + 1)),
        pass_hat_k=tuple(pass_hat_k(n, c, k) for k in range(1, n + 1)),
        scenario=scenario,
        status=_status(c, n, bool(runs) and counts["cancelled"] == len(runs)),
        tags=tags,
        results=runs,
    )


def _overall(scenarios: Sequence[ScenarioStats]) -> Overall:
    attempts = [a for s in scenarios for a in s.results]
    measured = [s for s in scenarios if s.n]
    k = min((s.n for s in measured), default=0)
    statuses = [s.status for s in scenarios]
    return Overall(
        **_counts(attempts),
        pass_at_k=tuple(sum(s.pass_at_k[i] for s in measured) / len(measured) for i in range(k)),
        pass_hat_k=tuple(sum(s.pass_hat_k[i] for s in measured) / len(measured) for i in range(k)),
        scenarios=len(scenarios),
        passing=statuses.count("pass"),
        failing=statuses.count("fail"),
        flaky=statuses.count("flaky"),
        errored=statuses.count("error"),
    )


def summarize(attempts: list[Attempt], *, fingerprint: dict, meta: dict) -> EvalSummary:
    """Per-scenario and overall statistics of an eval's attempts. `fingerprint` and `meta` are kept
    as given (JSON values: they are written to the summary file)."""
    by_scenario: dict[str, list[Attempt]] = {}
    for attempt in attempts:
        by_scenario.setdefault(attempt.scenario, []).append(attempt)
    scenarios = tuple(scenario_stats(name, by_scenario[name]) for name in sorted(by_scenario))
    return EvalSummary(
        fingerprint=dict(fingerprint), meta=dict(meta), overall=_overall(scenarios), scenarios=scenarios
    )
