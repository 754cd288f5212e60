"""The words and figures every eval report shares: percentages, intervals, money, one line per attempt,
the headline, the comparison sentence and the order scenarios are listed in."""

from __future__ import annotations

from agentic.eval.compare import Comparison
from agentic.eval.stats import Attempt, EvalSummary, ScenarioStats, Stats


def pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def ci_text(stats: Stats) -> str:
    if stats.ci_low is None or stats.ci_high is None:
        return "—"
    return f"{stats.ci_low * 100:.0f}-{stats.ci_high * 100:.0f}%"


def num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if digits == 0 else f"{value:,.{digits}f}"


def usd(value: float | None, complete: bool = True) -> str:
    if value is None:
        return "—"
    return ("" if complete else "≥") + f"${value:.4f}"


def secs(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}s"


def at_k(values: tuple[float, ...]) -> str:
    """The last value (k = n) as a percentage, or — when there is none."""
    return pct(values[-1], 0) if values else "—"


def attempt_line(attempt: Attempt) -> str:
    """One line about an attempt: verdict, status, reason, run, usage and the checks that failed."""
    parts = [attempt.verdict]
    if attempt.status:
        parts.append(attempt.status)
    if attempt.reason:
        parts.append(attempt.reason)
    if attempt.run_id:
        parts.append(f"run {attempt.run_id}")
    parts.append(
        f"{attempt.steps} steps, {attempt.tool_calls} tool calls, {attempt.tokens} tokens, "
        f"{usd(attempt.cost_usd)}, {attempt.duration_s:.1f}s"
    )
    failed = [name for name, ok in attempt.checks.items() if not ok]
    if failed:
        parts.append("failed checks: " + ", ".join(failed))
    return " · ".join(parts)


def comparison_line(comparison: Comparison) -> str:
    """The aggregate against the baseline in one sentence."""
    rates = f"{pct(comparison.baseline_rate)} → {pct(comparison.current_rate)}"
    text = (
        f"against the baseline: mean scenario pass rate {rates} over the {comparison.common} scenarios "
        f"in both (allowed drop {pct(comparison.max_drop)})"
    )
    if comparison.fingerprint_changed:
        text += " · fingerprint changed: " + ", ".join(comparison.fingerprint_diff)
    return text


def ordered(summary: EvalSummary, comparison: Comparison | None = None) -> list[ScenarioStats]:
    """Scenarios for a report: regressions first, then failing, erroring, flaky, passing; by id within."""
    rank = {"fail": 1, "error": 2, "cancelled": 2, "flaky": 3, "pass": 4}

    def key(stats: ScenarioStats) -> tuple[int, str]:
        first = 0 if comparison is not None and comparison.regressed(stats.scenario) else rank[stats.status]
        return first, stats.scenario

    return sorted(summary.scenarios, key=key)


def headline(summary: EvalSummary, comparison: Comparison | None = None) -> str:
    o = summary.overall
    text = (
        f"{o.passing}/{o.scenarios} scenarios passing · pass rate {pct(o.pass_rate)} "
        f"(95% CI {ci_text(o)}) over {o.n} attempts"
    )
    if o.flaky:
        text += f" · {o.flaky} flaky"
    if o.errors:
        text += f" · {o.errors} errored"
    if o.cancelled:
        text += f" · {o.cancelled} cancelled"
    if comparison is not None:
        text += " · no regressions" if comparison.ok else f" · {len(comparison.regressions)} regressions"
    return text
