"""The eval's standalone HTML report (`agentic eval --html FILE`), rendered from `eval.html.j2` with
the shared frame, escaping and building blocks of `reports.htmlkit`: an overview, the comparison with
the baseline, a bar chart and a row per scenario with every attempt, the fingerprint and details."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentic.eval.compare import Comparison
from agentic.eval.stats import EvalSummary, ScenarioStats, Stats
from agentic.eval.text import (
    at_k,
    attempt_line,
    ci_text,
    comparison_line,
    headline,
    num,
    ordered,
    pct,
    secs,
    usd,
)
from agentic.reports.htmlkit import render
from agentic.reports.output import write_file

TEMPLATES = Path(__file__).resolve().parent / "templates"
ARGS_LIMIT = 4000  # characters of a fingerprint or meta value shown
COLOUR = {"pass": "#1a7f37", "fail": "#cf222e", "flaky": "#9a6700", "error": "#8250df", "cancelled": "#57606a"}


@dataclass(frozen=True)
class Bar:
    """One scenario's row of the pass-rate chart (coordinates as SVG attribute text)."""

    y: int
    name: str
    rate: str
    width: str | None  # of the coloured bar; None when nothing was measured
    colour: str
    title: str
    whisker: tuple[str, str, str] | None  # x1, x2, y of the 95% interval


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    label_w: int
    plot_w: int
    row_h: int
    bars: list[Bar]
    axis: list[tuple[str, str]]  # (x, label)
    axis_y: int


@dataclass(frozen=True)
class ScenarioRow:
    """A row of the scenarios' table."""

    stats: ScenarioStats
    regressed: bool
    attempts: list[tuple[int, str, str]]  # (number, verdict, one line about it)
    numbers: list[str]  # the figures, in the table's column order


def pass_rate_chart(scenarios: Sequence[ScenarioStats], width: int = 760) -> BarChart:
    """A bar per scenario: its pass rate, with the 95% interval as a whisker."""
    label_w, row_h, top = 220, 22, 8
    plot_w = width - label_w - 60
    bars = []
    for i, s in enumerate(scenarios):
        y = top + i * row_h
        whisker = None
        if s.ci_low is not None and s.ci_high is not None:
            ym = y + row_h / 2 - 1
            whisker = (f"{label_w + plot_w * s.ci_low:.1f}", f"{label_w + plot_w * s.ci_high:.1f}", f"{ym}")
        bars.append(Bar(
            y=y,
            name=s.scenario if len(s.scenario) <= 32 else s.scenario[:31] + "…",
            rate=pct(s.pass_rate),
            width=None if s.pass_rate is None else f"{plot_w * s.pass_rate:.1f}",
            colour=COLOUR[s.status],
            title=f"{s.scenario}: {s.passes}/{s.n}",
            whisker=whisker,
        ))  # fmt: skip
    axis = [(f"{label_w + plot_w * frac:.1f}", f"{frac:.0%}") for frac in (0.0, 0.5, 1.0)]
    height = top + row_h * len(scenarios) + 24
    return BarChart(width, height, label_w, plot_w, row_h, bars, axis, top + row_h * len(scenarios) + 14)


def overview_cards(summary: EvalSummary) -> list[tuple[str, str, str]]:
    o = summary.overall
    k = o.k
    return [
        (pct(o.pass_rate), f"pass rate over {o.n} attempts", ""),
        (ci_text(o), "95% interval (Wilson)", ""),
        (pct(o.pass_at_k[-1]) if k else "—", f"pass@{k}", ""),
        (pct(o.pass_hat_k[-1]) if k else "—", f"pass^{k} (all {k} pass)", ""),
        (f"{o.passing}/{o.scenarios}", "scenarios passing", "pass" if o.passing == o.scenarios else ""),
        (str(o.flaky), "flaky", "flaky" if o.flaky else ""),
        (str(o.failing), "failing", "fail" if o.failing else ""),
        (f"{o.errors}/{o.attempts}", "attempts errored", "error" if o.errors else ""),
        (usd(o.total_cost_usd, o.cost_complete), "total cost", ""),
        (secs(o.mean_duration_s), "mean duration", ""),
    ]


def k_rows(stats: Stats) -> dict[str, list[str]]:
    """pass@k and pass^k for k = 1..n, as percentages."""
    return {"at": [pct(v) for v in stats.pass_at_k], "hat": [pct(v) for v in stats.pass_hat_k]}


def scenario_numbers(s: ScenarioStats, comparison: Comparison | None) -> list[str]:
    numbers = [
        f"{s.passes}/{s.n}" + (f" +{s.errors} err" if s.errors else "") + (f" +{s.cancelled} cancelled" if s.cancelled else ""),
        pct(s.pass_rate),
        ci_text(s),
        at_k(s.pass_at_k),
        at_k(s.pass_hat_k),
        num(s.mean_steps),
        num(s.mean_tokens, 0),
        usd(s.mean_cost_usd, s.cost_complete),
        secs(s.mean_duration_s),
    ]
    if comparison is not None:
        numbers.append(pct(comparison.deltas[s.scenario][0]) if s.scenario in comparison.deltas else "new")
    return numbers


def comparison_lists(comparison: Comparison) -> list[tuple[str, str]]:
    lists = [
        ("fixed", comparison.fixed),
        ("new (not in the baseline)", comparison.new),
        ("missing (in the baseline, not run)", comparison.missing),
        ("unmeasured (all attempts errored)", comparison.unmeasured),
    ]
    rows = [(label, ", ".join(names)) for label, names in lists if names]
    if comparison.fingerprint_changed:
        rows.append(("fingerprint changed", ", ".join(comparison.fingerprint_diff)))
    return rows


def json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def eval_page(summary: EvalSummary, comparison: Comparison | None = None) -> str:
    """The HTML report of an eval: overview, comparison, scenarios with their attempts, fingerprint."""
    scenarios = ordered(summary, comparison)
    verdict = "" if comparison is None else ("no regressions · " if comparison.ok else "REGRESSED · ")
    rows = [
        ScenarioRow(
            s,
            comparison is not None and comparison.regressed(s.scenario),
            [(a.attempt, a.verdict, attempt_line(a)) for a in s.results],
            scenario_numbers(s, comparison),
        )
        for s in scenarios
    ]
    tables = [
        (anchor, title, [(k, json_text(v)) for k, v in sorted(values.items())])
        for anchor, title, values in (
            ("fingerprint", "Fingerprint", summary.fingerprint),
            ("meta", "Eval details", summary.meta),
        )
    ]
    return render(
        "eval.html.j2",
        [TEMPLATES],
        title="agentic eval",
        subtitle=verdict + headline(summary, comparison),
        cards=overview_cards(summary),
        overall=summary.overall,
        k_rows=k_rows(summary.overall),
        comparison=comparison,
        comparison_text=comparison_line(comparison) if comparison is not None else "",
        comparison_rows=comparison_lists(comparison) if comparison is not None else [],
        chart=pass_rate_chart(scenarios) if summary.scenarios else None,
        rows=rows,
        tables=tables,
        args_limit=ARGS_LIMIT,
    )


def write_html(summary: EvalSummary, path: str | Path, comparison: Comparison | None = None) -> None:
    """A standalone HTML page (no network assets): overview, per-scenario table with every attempt,
    the comparison with its regressions, and the fingerprint."""
    write_file(path, eval_page(summary, comparison))
