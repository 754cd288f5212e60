"""The eval as a rich table for the terminal, coloured by status."""

from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text

from agentic.eval.compare import Comparison
from agentic.eval.stats import EvalSummary, Stats
from agentic.eval.text import at_k, ci_text, comparison_line, headline, num, ordered, pct, secs, usd
from agentic.reports.summary import clean

STATUS_STYLE = {"pass": "green", "fail": "red", "flaky": "yellow", "error": "magenta", "cancelled": "dim"}


def _plain(text: object) -> Text:
    return Text(clean(str(text)))


NUMBERS = ("rate", "95% CI", "pass@k", "pass^k", "steps", "tokens", "cost", "time")
NARROW = ("rate", "pass@k", "steps", "cost")  # what a terminal under WIDE columns shows
WIDE = 120


def render_table(summary: EvalSummary, comparison: Comparison | None = None, width: int | None = None) -> Table:
    """Per-scenario rows and an overall row, coloured by status (pass green, fail red, flaky yellow,
    error magenta); with a comparison, a baseline column and regressions marked and listed first.
    Under WIDE columns only the NARROW figures are shown, so the scenario names stay readable."""
    o = summary.overall
    shown = NUMBERS if width is None or width >= WIDE else NARROW
    keep = [i for i, name in enumerate(NUMBERS) if name in shown]
    table = Table(title=_plain(headline(summary, comparison)), box=box.SIMPLE_HEAD, padding=(0, 1))
    table.add_column("scenario", overflow="fold", min_width=16)
    table.add_column("status", no_wrap=True)
    for name in ("passed", *shown):
        table.add_column(name, justify="right", no_wrap=True)
    if comparison is not None:
        table.add_column("baseline", justify="right", no_wrap=True)
    for stats in ordered(summary, comparison):
        label = stats.status
        if comparison is not None and comparison.regressed(stats.scenario):
            label += " ▼ regression"
        cells: list[Text | str] = [
            _plain(stats.scenario),
            Text(label, style=f"bold {STATUS_STYLE[stats.status]}"),
            f"{stats.passes}/{stats.n}" + (f" +{stats.errors}err" if stats.errors else "")
            + (f" +{stats.cancelled}cxl" if stats.cancelled else ""),
            *[_numbers(stats)[i] for i in keep],
        ]
        if comparison is not None:
            cells.append(
                pct(comparison.deltas[stats.scenario][0], 0) if stats.scenario in comparison.deltas else "new"
            )
        table.add_row(*cells, style=STATUS_STYLE[stats.status] if stats.status != "pass" else None)
    table.add_section()
    overall: list[Text | str] = [
        "overall",
        f"{o.passing}/{o.scenarios} pass",
        f"{o.passes}/{o.n}",
        *[_numbers(o)[i] for i in keep],
    ]
    if comparison is not None:
        overall.append("")
        table.caption = _plain(comparison_line(comparison))
    table.add_row(*overall, style="bold")
    return table


def _numbers(stats: Stats) -> list[str]:
    k = f"@{stats.k}" if stats.k else ""
    return [
        pct(stats.pass_rate, 0),
        ci_text(stats),
        at_k(stats.pass_at_k) + k,
        at_k(stats.pass_hat_k) + k,
        num(stats.mean_steps),
        num(stats.mean_tokens, 0),
        usd(stats.mean_cost_usd, stats.cost_complete),
        secs(stats.mean_duration_s),
    ]
