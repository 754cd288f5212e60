"""A run's standalone HTML report (`agentic show RUN --html FILE`), rendered from `run.html.j2`.

This module gathers what the page shows (the folded journal, the usage chart, the final change's
diff, the gates, the event log); the template lays it out. Escaping, the CSP and the frame are
`reports.htmlkit`'s.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentic.git.cmd import run_git_bytes
from agentic.journal.events import RunStart
from agentic.reports.charts import LineChart, Series, line_chart
from agentic.reports.htmlkit import render, trim, when
from agentic.reports.output import write_file
from agentic.reports.runview import Call, Gate, RunView, read_run
from agentic.reports.summary import money, row_detail, timeline, totals
from agentic.util.redact import Redactor

TEXT_LIMIT = 8000  # characters of a model message shown
ARGS_LIMIT = 4000  # of a tool call's arguments
RESULT_LIMIT = 3000  # of a tool result or a gate check's output
DIFF_LIMIT = 400_000  # of the final change's diff
LIMITS = {"text": TEXT_LIMIT, "args": ARGS_LIMIT, "result": RESULT_LIMIT}


def change_diff(repo: Path, base: str, target: str) -> str:
    """`git diff base target` in the repository (hardened as the harness's own git; binary-safe)."""
    args = ["diff", "--no-color", "--no-ext-diff", "--no-textconv", "--stat", "--patch", base, target, "--"]
    done = run_git_bytes(args, repo)
    if done.returncode != 0:
        raise OSError(done.stderr.decode("utf-8", "replace").strip() or f"git diff exited {done.returncode}")
    return done.stdout.decode("utf-8", "replace")


def diff_lines(diff: str) -> tuple[list[tuple[str, str]], int]:
    """(css class, line) for each line of the diff shown, and how many characters were cut."""
    shown, cut = trim(diff, DIFF_LIMIT)
    lines = []
    for line in shown.splitlines():
        if line.startswith(("diff --git", "+++ ", "--- ")):
            cls = "file"
        elif line.startswith(("+", "-")):
            cls = "add" if line.startswith("+") else "del"
        else:
            cls = "hunk" if line.startswith("@@") else ""
        lines.append((cls, line))
    return lines, cut


def pretty_arguments(raw: str) -> str:
    try:
        return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return raw


def call_class(call: Call) -> str:
    if call.decision is not None and call.decision.verdict not in (None, "allow"):
        return "refused"
    return "failed" if call.result is not None and call.result.is_error else ""


def gate_checks(gate: Gate) -> list[dict[str, Any]]:
    checks = gate.verdict.checks if gate.verdict is not None else None
    return [dict(c) for c in checks or [] if isinstance(c, dict)]


def failed_checks(gate: Gate) -> list[str]:
    return [str(c.get("id")) for c in gate_checks(gate) if not c.get("passed")]


def sandbox_label(start: RunStart | None) -> str:
    """The run's sandbox as its run.start names it: "None" when it ran without one (the record says null,
    next to unsafe_no_sandbox), "?" when the record says nothing about it (a journal from before both)."""
    if start is None or (start.sandbox is None and start.unsafe_no_sandbox is None):
        return "?"
    return str(start.sandbox)


def gate_title(number: int, gate: Gate) -> str:
    return f"gate {number} · step {gate.step} · tree {gate.tree[:12]} · {len(gate.changes)} files changed"


def gate_changes(gate: Gate) -> str:
    return ", ".join(" ".join(map(str, c)) if isinstance(c, list) else str(c) for c in gate.changes)


def usage_chart(view: RunView) -> LineChart | None:
    """Cumulative tokens (and cost, when known) per model call since the run started."""
    if not view.usage:
        return None
    tokens, cost, t_total, c_total, known = [], [], 0, 0.0, False
    for t, tok, c in view.usage:
        t_total += tok
        tokens.append((t, float(t_total)))
        if c is not None:
            c_total, known = c_total + c, True
        cost.append((t, c_total))
    series = [Series("cumulative tokens", tokens, "", "#0969da")]
    if known and c_total > 0:
        series.append(Series("cumulative cost", cost, "$", "#bf3989"))
    return line_chart(series)


def usage_cards(view: RunView, rows: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    sums = totals(rows)
    end_budget = (view.ends[-1].budget if view.ends else None) or {}
    return [
        (str(end_budget.get("steps", len(view.steps))), "steps", ""),
        (str(sums["tool_calls"]), "tool calls", ""),
        (str(sums["model_calls"]), "model calls", ""),
        (f"{sums['tokens']:,}", "tokens (in + out)", ""),
        (money(sums["cost_usd"], sums["cost_complete"]), "cost", ""),
        (str(sums["errors"]), "errors and refusals", "fail" if sums["errors"] else ""),
    ]


@dataclass(frozen=True)
class FinalChange:
    """The final change: what it is (`label`), and its diff or why there is none (`problem`)."""

    base: str
    label: str
    problem: str
    lines: list[tuple[str, str]]
    cut: int


def final_change(view: RunView, repo: Path | None) -> FinalChange:
    base = (view.start.base_commit if view.start is not None else None) or ""
    target, label = "", ""
    if view.commit is not None and view.commit.commit:
        target, label = view.commit.commit, f"the run's commit {view.commit.commit[:12]}"
    elif view.gates:
        target = view.gates[-1].tree
        label = f"the tree of the last gate {view.gates[-1].tree[:12]} (not committed)"
    if not target or not base:
        return FinalChange(base, label, "no change was recorded", [], 0)
    if repo is None:
        return FinalChange(base, label, f"{label}: no repository given to diff it", [], 0)
    try:
        diff = Redactor.for_repository(repo)(change_diff(repo, base, target))
    except (OSError, subprocess.SubprocessError) as exc:
        return FinalChange(base, label, f"cannot diff {label}: {exc}", [], 0)
    lines, cut = diff_lines(diff) if diff.strip() else ([], 0)
    return FinalChange(base, label, "", lines, cut)


@dataclass(frozen=True)
class EventRow:
    """A row of the event log, formatted."""

    step: object
    t: str
    duration: str
    event: str
    tokens: str
    detail: str
    error: bool


def events(rows: list[dict[str, Any]]) -> list[EventRow]:
    """The event log's rows (reports.summary.timeline), formatted."""
    return [
        EventRow(
            step=row["step"],
            t=f"{row['t']:.2f}",
            duration="" if row["duration_s"] is None else f"{row['duration_s']:.2f}",
            event=str(row["tool"] or row["kind"]),
            tokens="" if row["tokens"] is None else f"{row['tokens']:,}",
            detail=row_detail(row),
            error=bool(row["error"]),
        )
        for row in rows
    ]


def run_page(journal: Path, *, repo: Path | None = None, run: dict[str, Any] | None = None) -> str:
    """The HTML report of a run from its journal. `repo` (the repository's root) is needed for the diff
    of the final change; `run` is the index row, used where the journal says nothing (no run.start)."""
    view = read_run(journal)
    rows = timeline(journal)
    run = run or {}
    run_id = view.run_id or str(run.get("id", journal.parent.name))
    status = view.status if view.ends else str(run.get("status") or "running")
    reason = (view.ends[-1].reason if view.ends else "") or ""
    return render(
        "run.html.j2",
        title=f"agentic run {run_id}",
        subtitle=f"{view.status if view.ends else run.get('status', 'running')} · {reason}",
        view=view,
        run=run,
        status=status,
        end=view.ends[-1] if view.ends else None,
        first_seen=when(view.first_ts),
        last_seen=when(view.last_ts),
        cards=usage_cards(view, rows),
        chart=usage_chart(view),
        change=final_change(view, repo),
        events=events(rows),
        limits=LIMITS,
        money=money,
        pretty_arguments=pretty_arguments,
        call_class=call_class,
        gate_checks=gate_checks,
        failed_checks=failed_checks,
        gate_title=gate_title,
        sandbox_label=sandbox_label,
        gate_changes=gate_changes,
    )


def write_run_html(
    journal: Path, path: Path, *, repo: Path | None = None, run: dict[str, Any] | None = None
) -> None:
    write_file(path, run_page(journal, repo=repo, run=run))
