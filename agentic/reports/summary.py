"""Readable views of a run: the timeline of a finished run, and the terminal-safety helpers every view
uses. What a run shows while it works is in `agentic.progress`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

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


def tokens_of(data: dict[str, Any]) -> int:
    """Input + output tokens of a model.response payload."""
    usage = data.get("usage") or {}
    return int(usage.get("input_tokens") or 0) + int(usage.get("output_tokens") or 0)


def cost_of(data: dict[str, Any]) -> float | None:
    """The `cost_usd` of a model.response payload, or None when the journal does not know it."""
    value = data.get("cost_usd")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _who(data: dict[str, Any]) -> str:
    who = data.get("who") or {}
    return f"{who.get('os_user', '?')}@{who.get('host', '?')}"


class _Timeline:
    """Folds journal records into rows: a tool call's tool.call, policy.decision and tool.result are
    one row (same span), a model call's request and response one row (same step), a gate's
    checkpoint and verdict one row. Each row starts when its first record was written."""

    SKIPPED = ("tool.effect", "gate.baseline")  # shown through the rows they belong to

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.start: float | None = None
        self.calls: dict[str, dict[str, Any]] = {}  # span → the row of a tool call awaiting its result
        self.requests: dict[int, dict[str, Any]] = {}  # step → the row of a model call awaiting its response
        self.checkpoint: dict[str, Any] | None = None  # the row of a gate awaiting its verdict

    def row(self, record: dict[str, Any], kind: str, detail: str = "", tool: str | None = None) -> dict[str, Any]:
        ts = float(record.get("ts") or 0.0)
        row = {"seq": record.get("seq"), "step": record.get("step", 0), "ts": ts,
               "t": round(ts - (self.start or ts), 3), "duration_s": None, "kind": kind, "tool": tool,
               "decision": None, "tokens": None, "cost_usd": None, "error": False, "detail": detail}  # fmt: skip
        self.rows.append(row)
        return row

    @staticmethod
    def ends(row: dict[str, Any], record: dict[str, Any]) -> None:
        row["duration_s"] = round(max(0.0, float(record.get("ts") or 0.0) - row["ts"]), 3)

    def add(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        kind = str(record.get("kind"))
        if self.start is None:
            self.start = float(record.get("ts") or 0.0)
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, record, data)
        elif kind not in self.SKIPPED:
            self.row(record, one_line(kind, 40))  # a kind this harness does not know: listed, not interpreted

    def run_start(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        self.row(record, "run.start",
                 f"task: {one_line(data.get('task', ''), 80)} · model {data.get('model')} · by {_who(data)}")  # fmt: skip

    def run_resume(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        self.row(record, "run.resume", f"resumed after {data.get('after_status', '?')} · by {_who(data)}")

    def model_request(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        self.requests[int(record.get("step") or 0)] = self.row(record, "model.request", "no response recorded")

    def model_response(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        row = self.requests.pop(int(record.get("step") or 0), None)
        if row is None:
            row = self.row(record, "model.response")
        else:
            row["kind"] = "model.response"
            self.ends(row, record)
        row["tokens"], row["cost_usd"] = tokens_of(data), cost_of(data)
        row["cached"] = int((data.get("usage") or {}).get("cached_input_tokens") or 0)
        names = ", ".join(str(c.get("name")) for c in data.get("tool_calls") or [] if isinstance(c, dict))
        text = one_line(data.get("text", ""), 60)
        parts = [text] if text else []
        parts += [f"calls {names}"] if names else []
        parts += [f"recorded in run {data['recorded']}"] if data.get("recorded") else []
        row["detail"] = " · ".join(parts)

    def model_retry(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        row = self.row(record, "model.retry", f"retry {data.get('retry')} of {data.get('of')} in "
                       f"{data.get('wait_s')}s: {one_line(str(data.get('error', '')), 80)}")  # fmt: skip
        row["error"] = True

    def model_wait(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        self.row(record, "model.wait", f"waited {data.get('wait_s')}s for room under {data.get('rate')}")

    def context_trim(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        self.row(record, "context.trim", f"elided {len(data.get('elided') or [])} older messages for the "
                 f"{data.get('window')}-token window: ~{data.get('before_tokens')} → ~{data.get('after_tokens')} "
                 "tokens")  # fmt: skip

    def tool_call(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        tool = str(data.get("tool", ""))
        self.calls[str(record.get("span"))] = self.row(record, "tool.call", call_label(tool, data.get("arguments", "")),
                                                       tool=tool)  # fmt: skip

    def _call_row(self, record: dict[str, Any], data: dict[str, Any], kind: str, detail: str) -> dict[str, Any]:
        row = self.calls.get(str(record.get("span")))
        return row if row is not None else self.row(record, kind, detail, tool=data.get("tool"))

    def policy_decision(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        row = self._call_row(record, data, "policy.decision", str(data.get("action", "")))
        row["decision"] = {k: data.get(k) for k in ("verdict", "by", "rule", "reason")}
        row["error"] = row["error"] or data.get("verdict") != "allow"

    def tool_reconcile(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        row = self._call_row(record, data, "tool.reconcile", "")
        row["detail"] += f" · reconciled after a crash: {data.get('outcome')}"

    def tool_result(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        row = self.calls.pop(str(record.get("span")), None)
        if row is None:
            row = self.row(record, "tool.result", str(data.get("tool", "")), tool=data.get("tool"))
        else:
            self.ends(row, record)
        extra = data.get("data") or {}
        if "exit_code" in extra:
            row["detail"] += " → timed out" if extra.get("timed_out") else f" → exit {extra['exit_code']}"
        if data.get("is_error"):
            row["error"] = True
            refused = (row["decision"] or {}).get("verdict") not in (None, "allow")
            if refused:
                row["detail"] += " · refused"
            elif "exit_code" not in extra:
                row["detail"] += " · " + one_line(data.get("content", ""), 80)

    def checkpoint_(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        changes = data.get("changes") or []
        self.checkpoint = self.row(record, "checkpoint",
                                   f"{len(changes)} files changed · tree {str(data.get('tree', ''))[:12]}")  # fmt: skip

    def gate_verdict(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        row, self.checkpoint = self.checkpoint, None
        if row is None:
            row = self.row(record, "gate.verdict")
        else:
            self.ends(row, record)
        row["kind"] = "gate.verdict"
        failed = [str(c.get("id")) for c in data.get("checks") or [] if isinstance(c, dict) and not c.get("passed")]
        verdict = "passed" if data.get("passed") else "failed: " + ", ".join(failed)
        row["detail"] = verdict + (f" · {row['detail']}" if row["detail"] else "")
        row["error"] = not data.get("passed")

    def commit(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        self.row(record, "commit", f"commit {str(data.get('commit', ''))[:12]}")

    def run_end(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        budget = data.get("budget") or {}
        row = self.row(record, "run.end",
                       f"{data.get('status')} · {data.get('reason')} · {budget.get('steps')} steps, "
                       f"{budget.get('tool_calls')} tool calls, {budget.get('elapsed_s')} s")  # fmt: skip
        row["error"] = data.get("status") != "accepted"

    def finish(self) -> list[dict[str, Any]]:
        for row in self.calls.values():
            row["detail"] += " · no result recorded"
        if self.checkpoint is not None:
            self.checkpoint["detail"] += " · no verdict recorded"
        return self.rows


_HANDLERS: dict[str, Callable[[_Timeline, dict[str, Any], dict[str, Any]], None]] = {
    "run.start": _Timeline.run_start, "run.resume": _Timeline.run_resume,
    "model.request": _Timeline.model_request, "model.response": _Timeline.model_response,
    "model.retry": _Timeline.model_retry, "model.wait": _Timeline.model_wait,
    "context.trim": _Timeline.context_trim,
    "tool.call": _Timeline.tool_call, "policy.decision": _Timeline.policy_decision,
    "tool.reconcile": _Timeline.tool_reconcile, "tool.result": _Timeline.tool_result,
    "checkpoint": _Timeline.checkpoint_, "gate.verdict": _Timeline.gate_verdict,
    "commit": _Timeline.commit, "run.end": _Timeline.run_end,
}  # fmt: skip


def timeline(journal_path: Path) -> list[dict[str, Any]]:
    """The run's events as rows: seq, step, ts, t (seconds since the start), duration_s, kind, tool,
    decision (verdict, by, rule, reason), tokens and cost_usd (model calls), error, detail."""
    builder = _Timeline()
    for record, data in entries(journal_path):
        builder.add(record, data)
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
