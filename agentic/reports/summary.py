"""Readable views of a run: the timeline of a finished run, and the terminal-safety helpers every view
uses. What a run shows while it works is in `agentic.progress`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from agentic.journal.events import (
    Checkpoint,
    Commit,
    ContextTrim,
    Entry,
    Envelope,
    GateBaseline,
    GateVerdict,
    JournalEvent,
    ModelRequest,
    ModelResponse,
    ModelRetry,
    ModelWait,
    PolicyDecision,
    RunEnd,
    RunResume,
    RunStart,
    ToolCall,
    ToolEffect,
    ToolReconcile,
    ToolResult,
    Who,
    entry,
)
from agentic.journal.records import payload, read_records
from agentic.policy.decision import Decision

# What never reaches a terminal from text agentic did not write itself (model text, paths, tool output,
# journal fields): whole escape sequences first (CSI, OSC such as an 8;; hyperlink or a title, DCS/PM/APC
# strings, their 8-bit C1 forms), then every C0/C1 control but newline and tab (carriage return and
# backspace overwrite what was printed), and the invisible characters that hide or reorder text:
# Unicode format characters (bidi embeddings, overrides and isolates, zero-width space and joiners,
# word joiner and invisible operators, soft hyphen, BOM, interlinear annotations, tags), the line and
# paragraph separators, Hangul fillers and variation selectors.
ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC … BEL/ST (hyperlinks, titles, clipboard)
    r"|\x1b[P^_X][^\x1b\x9c]*(?:\x1b\\|\x9c)?"  # DCS, PM, APC, SOS … ST
    r"|\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI (cursor movement, erasing, colours)
    r"|\x1b[ -/]*[0-~]?"  # any other escape sequence
    r"|\x9d[^\x07\x9c]*[\x07\x9c]?|[\x90\x98\x9e\x9f][^\x9c]*\x9c?|\x9b[0-?]*[ -/]*[@-~]?"  # 8-bit forms
)
INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160"
    "\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff]"
)
UNSAFE = re.compile(f"{ESCAPES.pattern}|{INVISIBLE.pattern}")  # kept for callers that match one pattern


def clean(text: str, limit: int | None = None) -> str:
    """Text made inert for a terminal: no escape sequence, control character (but newline and tab) or
    invisible character survives. It is still *markup* to rich's `Console.print(str)`: print it through
    `inert()` (a rich Text, never parsed for markup or emoji), or `rich.markup.escape` it."""
    text = INVISIBLE.sub("", ESCAPES.sub("", str(text)))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def inert(value: object, limit: int | None = None, style: str | None = None) -> Text:
    """The one way text agentic did not write reaches a terminal: cleaned (see `clean`) and held in a
    rich Text, so `[link=…]`, `[/]` or `:emoji:` in it print as they are and never as markup."""
    return Text(clean("" if value is None else str(value), limit), style=style or "")


def one_line(text: str, limit: int = 100) -> str:
    return clean(" ".join(str(text).split()), limit)


def call_label(tool: str, raw_args: str) -> str:
    try:
        args = json.loads(raw_args)
    except (json.JSONDecodeError, TypeError, RecursionError):
        return f"{tool} (invalid arguments)"
    if not isinstance(args, dict):
        return f"{tool} (invalid arguments)"
    for key in ("path", "command", "target", "pattern", "summary"):
        if args.get(key):
            return f"{tool} {one_line(str(args[key]), 70)}"
    return tool


def entries(journal_path: Path) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(record, data) in order, for views that must cope with a damaged journal: reading stops at a
    line that is not JSON, and a record whose blob is missing or unreadable has empty data
    (`agentic journal verify` names the problem)."""
    records = read_records(journal_path)
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except ValueError:  # a line that is not JSON: nothing after it can be placed in the chain
            return
        if not isinstance(record, dict):
            continue
        try:
            data = payload(record, journal_path.parent)
        except (OSError, ValueError):
            data = {}
        yield record, data if isinstance(data, dict) else {}


def events(journal_path: Path) -> Iterator[Entry]:
    """`entries`, typed: each record's envelope and event."""
    for record, data in entries(journal_path):
        yield entry(record, data)


def _who(who: Who | None) -> str:
    who = who if isinstance(who, dict) else {}
    return f"{who.get('os_user', '?')}@{who.get('host', '?')}"


def _dicts(items: list[Any] | None) -> list[dict[str, Any]]:
    """The objects of a list read from a journal (a damaged one may hold anything)."""
    return [item for item in items or [] if isinstance(item, dict)]


Row = dict[str, Any]


class _Timeline:
    """Folds journal events into rows: a tool call's tool.call, policy.decision and tool.result are
    one row (same span), a model call's request and response one row (same step), a gate's
    checkpoint and verdict one row. Each row starts when its first record was written."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.start: float | None = None
        self.calls: dict[str, Row] = {}  # span → the row of a tool call awaiting its result
        self.requests: dict[int, Row] = {}  # step → the row of a model call awaiting its response
        self.checkpoint: Row | None = None  # the row of a gate awaiting its verdict

    def row(self, head: Envelope, kind: str, detail: str = "", tool: str | None = None) -> Row:
        ts = head.ts or 0.0
        row = {"seq": head.seq, "step": head.step, "ts": ts,
               "t": round(ts - (self.start or ts), 3), "duration_s": None, "kind": kind, "tool": tool,
               "decision": None, "tokens": None, "cost_usd": None, "error": False, "detail": detail}  # fmt: skip
        self.rows.append(row)
        return row

    @staticmethod
    def ends(row: Row, head: Envelope) -> None:
        row["duration_s"] = round(max(0.0, (head.ts or 0.0) - row["ts"]), 3)

    def add(self, head: Envelope, event: JournalEvent) -> None:
        if self.start is None:
            self.start = head.ts or 0.0
        match event:
            case RunStart():
                self.row(head, "run.start", f"task: {one_line(event.task or '', 80)} · model {event.model} · "
                         f"by {_who(event.who)}")  # fmt: skip
            case RunResume():
                self.row(head, "run.resume", f"resumed after {event.after_status or '?'} · by {_who(event.who)}")
            case ModelRequest():
                self.requests[head.step] = self.row(head, "model.request", "no response recorded")
            case ModelResponse():
                self.model_response(head, event)
            case ModelRetry():
                row = self.row(head, "model.retry", f"retry {event.retry} of {event.of} in {event.wait_s}s: "
                               f"{one_line(str(event.error or ''), 80)}")  # fmt: skip
                row["error"] = True
            case ModelWait():
                self.row(head, "model.wait", f"waited {event.wait_s}s for room under {event.rate}")
            case ContextTrim():
                self.row(head, "context.trim", f"elided {len(event.elided or [])} older messages for the "
                         f"{event.window}-token window: ~{event.before_tokens} → ~{event.after_tokens} tokens")  # fmt: skip
            case ToolCall():
                tool = event.tool or ""
                self.calls[str(head.span)] = self.row(head, "tool.call", call_label(tool, event.arguments or ""),
                                                      tool=tool)  # fmt: skip
            case PolicyDecision():
                row = self._call_row(head, event.tool, "policy.decision", event.action or "")
                row["decision"] = {"verdict": event.verdict, "by": event.by, "rule": event.rule, "reason": event.reason}
                row["error"] = row["error"] or event.verdict != "allow"
            case ToolReconcile():
                row = self._call_row(head, None, "tool.reconcile", "")
                row["detail"] += f" · reconciled after a crash: {event.outcome}"
            case ToolResult():
                self.tool_result(head, event)
            case Checkpoint():
                changes = event.changes or []
                self.checkpoint = self.row(head, "checkpoint",
                                           f"{len(changes)} files changed · tree {(event.tree or '')[:12]}")  # fmt: skip
            case GateVerdict():
                self.gate_verdict(head, event)
            case Commit():
                self.row(head, "commit", f"commit {(event.commit or '')[:12]}")
            case RunEnd():
                budget = event.budget if isinstance(event.budget, dict) else {}
                row = self.row(head, "run.end", f"{event.status} · {event.reason} · {budget.get('steps')} steps, "
                               f"{budget.get('tool_calls')} tool calls, {budget.get('elapsed_s')} s")  # fmt: skip
                row["error"] = event.status != "accepted"
            case ToolEffect() | GateBaseline():
                pass  # shown through the rows they belong to
            case _:  # a kind this harness does not know (or does not show): listed, not interpreted
                self.row(head, one_line(event.kind, 40))

    def model_response(self, head: Envelope, event: ModelResponse) -> None:
        row = self.requests.pop(head.step, None)
        if row is None:
            row = self.row(head, "model.response")
        else:
            row["kind"] = "model.response"
            self.ends(row, head)
        usage = event.usage if isinstance(event.usage, dict) else {}
        row["tokens"] = int(usage.get("input_tokens") or 0) + int(usage.get("output_tokens") or 0)
        row["cost_usd"] = event.cost_usd
        row["cached"] = int(usage.get("cached_input_tokens") or 0)
        names = ", ".join(str(c.get("name")) for c in _dicts(event.tool_calls))
        text = one_line(event.text or "", 60)
        parts = [text] if text else []
        parts += [f"calls {names}"] if names else []
        parts += [f"recorded in run {event.recorded}"] if event.recorded else []
        row["detail"] = " · ".join(parts)

    def _call_row(self, head: Envelope, tool: str | None, kind: str, detail: str) -> Row:
        row = self.calls.get(str(head.span))
        return row if row is not None else self.row(head, kind, detail, tool=tool)

    def tool_result(self, head: Envelope, event: ToolResult) -> None:
        row = self.calls.pop(str(head.span), None)
        if row is None:
            row = self.row(head, "tool.result", event.tool or "", tool=event.tool)
        else:
            self.ends(row, head)
        extra = event.data or {}
        if "exit_code" in extra:
            row["detail"] += " → timed out" if extra.get("timed_out") else f" → exit {extra['exit_code']}"
        if event.is_error:
            row["error"] = True
            refused = (row["decision"] or {}).get("verdict") not in (None, "allow")
            if refused:
                row["detail"] += " · refused"
            elif "exit_code" not in extra:
                row["detail"] += " · " + one_line(event.content or "", 80)

    def gate_verdict(self, head: Envelope, event: GateVerdict) -> None:
        row, self.checkpoint = self.checkpoint, None
        if row is None:
            row = self.row(head, "gate.verdict")
        else:
            self.ends(row, head)
        row["kind"] = "gate.verdict"
        failed = [str(c.get("id")) for c in _dicts(event.checks) if not c.get("passed")]
        verdict = "passed" if event.passed else "failed: " + ", ".join(failed)
        row["detail"] = verdict + (f" · {row['detail']}" if row["detail"] else "")
        row["error"] = not event.passed

    def finish(self) -> list[Row]:
        for row in self.calls.values():
            row["detail"] += " · no result recorded"
        if self.checkpoint is not None:
            self.checkpoint["detail"] += " · no verdict recorded"
        return self.rows


def timeline(journal_path: Path) -> list[dict[str, Any]]:
    """The run's events as rows: seq, step, ts, t (seconds since the start), duration_s, kind, tool,
    decision (verdict, by, rule, reason), tokens and cost_usd (model calls), error, detail."""
    builder = _Timeline()
    for head, event in events(journal_path):
        builder.add(head, event)
    return builder.finish()


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Sums over a timeline: model calls, tool calls, errors, tokens, and the cost the journal knows
    (`cost_complete` is false when some model call has no cost)."""
    models = [row for row in rows if row["tokens"] is not None]
    costs = [row["cost_usd"] for row in models if row["cost_usd"] is not None]
    return {
        "model_calls": len(models),
        "tool_calls": sum(1 for row in rows if row["kind"] == "tool.call"),
        "errors": sum(1 for row in rows if row["error"]),
        "tokens": sum(row["tokens"] for row in models),
        "cached_tokens": sum(row.get("cached", 0) for row in models),
        "cost_usd": round(sum(costs), 6) if costs else None,
        "cost_complete": bool(models) and len(costs) == len(models),
    }


def money(cost: float | None, complete: bool = True) -> str:
    if cost is None:
        return "—"
    return ("" if complete else "≥") + f"${cost:.4f}"


def decision_label(decision: dict[str, Any] | None) -> str:
    if not decision:
        return ""
    return f"{decision.get('verdict')} ({decision.get('by')}) {decision.get('rule')}"


def row_detail(row: dict[str, Any]) -> str:
    """A timeline row's detail, led by its decision when it has one."""
    decision = decision_label(row["decision"])
    return f"{decision} · {row['detail']}" if decision else str(row["detail"])


def timeline_table(rows: list[dict[str, Any]], title: str) -> Table:
    """The timeline for a terminal: a tool call's row names the tool, its detail starts with the
    decision; the detail column folds, so the table stays readable at 80 columns."""
    table = Table(title=inert(title), box=box.SIMPLE_HEAD, expand=False, padding=(0, 1))
    for name in ("step", "t (s)", "dur (s)"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("event", no_wrap=True, max_width=16, overflow="ellipsis")
    table.add_column("tokens", justify="right", no_wrap=True)
    table.add_column("cost", justify="right", no_wrap=True)
    table.add_column("decision · detail", overflow="fold", min_width=28, ratio=1)
    for row in rows:
        duration = "" if row["duration_s"] is None else f"{row['duration_s']:.2f}"
        is_model = row["tokens"] is not None
        detail = row_detail(row)
        table.add_row(
            inert(row["step"]), f"{row['t']:.2f}", duration, inert(row["tool"] or row["kind"]),
            inert(row["tokens"]) if is_model else "", money(row["cost_usd"]) if is_model else "",
            inert(detail), style="red" if row["error"] else None,
        )  # fmt: skip
    sums = totals(rows)
    table.add_section()
    table.add_row("", "", "", "total", str(sums["tokens"]), money(sums["cost_usd"], sums["cost_complete"]),
                  f"{sums['model_calls']} model calls · {sums['cached_tokens']} prompt tokens from the cache · "
                  f"{sums['tool_calls']} tool calls · {sums['errors']} errors",
                  style="bold")  # fmt: skip
    return table


WIDE = 110  # columns from which the timeline is a table; below, two lines a row


def timeline_lines(rows: list[dict[str, Any]], title: str) -> Text:
    """The timeline for a narrow terminal: a heading line per row, its detail indented below."""
    out = Text(clean(title) + "\n", style="bold")
    for row in rows:
        duration = "" if row["duration_s"] is None else f" {row['duration_s']:.2f}s"
        head = f"{row['step']:>3} {row['t']:>7.2f}s{duration}  {clean(row['tool'] or row['kind'])}"
        if row["tokens"] is not None:
            head += f"  {row['tokens']} tokens" + (f" {money(row['cost_usd'])}" if row["cost_usd"] is not None else "")
        detail = row_detail(row)
        style = "red" if row["error"] else None
        out.append(head + "\n", style=style or "bold")
        if detail:
            out.append("      " + clean(detail) + "\n", style=style)
    sums = totals(rows)
    out.append(f"total: {sums['tokens']} tokens ({sums['cached_tokens']} cached), "
               f"{money(sums['cost_usd'], sums['cost_complete'])}, "
               f"{sums['model_calls']} model calls, {sums['tool_calls']} tool calls, {sums['errors']} errors",
               style="bold")  # fmt: skip
    return out


def timeline_view(rows: list[dict[str, Any]], title: str, console: Console) -> Table | Text:
    """A table on a display at least WIDE columns wide; lines elsewhere: narrow, or output of no known
    width (a pipe, a log), which the CLI's consoles print without wrapping (agentic.cli.common)."""
    wide = console.width >= WIDE and not console.soft_wrap
    return timeline_table(rows, title) if wide else timeline_lines(rows, title)


VERDICT_STYLE = {"allow": "green", "ask": "yellow", "deny": "red"}


def render_decision(console: Console, decision: Decision) -> None:
    """A decision as `agentic contract explain` prints it: the verdict, then each part of a script."""
    style = VERDICT_STYLE[decision.verdict]
    console.print(Text.assemble((f"{decision.verdict:<5}", f"bold {style}"), "  ", clean(decision.rule)), soft_wrap=True)
    if decision.reason:
        console.print(Text("       " + clean(decision.reason), style="dim"), soft_wrap=True)
    for part in decision.parts:
        line = Text.assemble("  ", (f"{part.verdict:<5}", VERDICT_STYLE[part.verdict]), "  ",
                             (f"{part.kind:<7}", "dim"), " ", clean(one_line(part.text, 80)), "  ",
                             (clean(part.rule), "cyan"))  # fmt: skip
        if part.reason and part.verdict != "allow":
            line.append(f" — {clean(part.reason)}", style="dim")
        console.print(line, soft_wrap=True)
