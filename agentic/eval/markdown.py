"""The eval as Markdown for a pull-request comment: a compact table, regressions first."""

from __future__ import annotations

import re
from pathlib import Path

from agentic.eval.compare import Comparison
from agentic.eval.stats import EvalSummary, ScenarioStats
from agentic.eval.text import at_k, ci_text, comparison_line, headline, num, ordered, pct, secs, usd
from agentic.reports.output import write_file

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]|#!~])")
STATUS_MARK = {"pass": "✅", "fail": "❌", "flaky": "⚠️", "error": "💥", "cancelled": "⏹️"}


def md(text: object) -> str:
    """Plain text for a Markdown table cell: no markup, no HTML, one line."""
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_row(stats: ScenarioStats, comparison: Comparison | None) -> str:
    mark = STATUS_MARK[stats.status]
    if comparison is not None and comparison.regressed(stats.scenario):
        mark += " **regression**"
    baseline = ""
    if comparison is not None:
        before = comparison.deltas.get(stats.scenario, (None, None))[0]
        baseline = f" {pct(before, 0)} |" if stats.scenario in comparison.deltas else " new |"
    cells = [
        mark,
        md(stats.scenario),
        f"{stats.passes}/{stats.n}" + (f" ({stats.errors} err)" if stats.errors else "")
        + (f" ({stats.cancelled} cancelled)" if stats.cancelled else ""),
        pct(stats.pass_rate, 0),
        ci_text(stats),
        at_k(stats.pass_hat_k),
        num(stats.mean_steps),
        num(stats.mean_tokens, 0),
        usd(stats.mean_cost_usd, stats.cost_complete),
        secs(stats.mean_duration_s),
    ]
    return "| " + " | ".join(cells) + " |" + baseline


def markdown(summary: EvalSummary, comparison: Comparison | None = None) -> str:
    o = summary.overall
    verdict = "" if comparison is None else ("✅ " if comparison.ok else "❌ ")
    lines = [f"### {verdict}agentic eval", "", md(headline(summary, comparison))]
    ks = f"pass@{o.k} {at_k(o.pass_at_k)} · pass^{o.k} {at_k(o.pass_hat_k)} · " if o.k else ""
    lines.append(f"{ks}cost {usd(o.total_cost_usd, o.cost_complete)}")
    if comparison is not None:
        lines += ["", *_md_comparison(comparison)]
    header = "| | scenario | passed | rate | 95% CI | pass^k | steps | tokens | cost | time |"
    rule = "|---|---|---|---|---|---|---|---|---|---|"
    if comparison is not None:
        header, rule = header + " baseline |", rule + "---|"
    lines += ["", header, rule, *(_md_row(s, comparison) for s in ordered(summary, comparison))]
    lines.append(
        f"| | **overall** | {o.passes}/{o.n} | {pct(o.pass_rate, 0)} | {ci_text(o)} | {at_k(o.pass_hat_k)} | "
        f"{num(o.mean_steps)} | {num(o.mean_tokens, 0)} | {usd(o.mean_cost_usd, o.cost_complete)} | "
        f"{secs(o.mean_duration_s)} |" + (" |" if comparison is not None else "")
    )
    lines += [
        "",
        "<sub>rates count passes and fails only; errored attempts are excluded. "
        "pass^k: all k attempts pass. Steps, tokens, cost and time are means per attempt.</sub>",
        "",
    ]
    return "\n".join(lines)


def _md_comparison(comparison: Comparison) -> list[str]:
    lines: list[str] = []
    if comparison.regressions:
        lines.append("**Regressions**")
        lines += [f"- {md(r.message)}" for r in comparison.regressions]
    line = comparison_line(comparison)
    lines.append(md(line[0].upper() + line[1:]) + ".")
    for label, names in (
        ("fixed", comparison.fixed),
        ("new", comparison.new),
        ("missing", comparison.missing),
        ("unmeasured (all attempts errored)", comparison.unmeasured),
    ):
        if names:
            lines.append(f"- {label}: " + ", ".join(md(n) for n in names))
    return lines


def write_markdown(summary: EvalSummary, path: str | Path, comparison: Comparison | None = None) -> None:
    """A compact table for a pull-request comment, regressions first."""
    write_file(path, markdown(summary, comparison))
