"""Readable views of a run: live progress lines and the timeline of a finished run."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from agentic.journal import payload, read_records

# ANSI escapes, C0/C1 controls, bidi overrides, zero-width and tag characters never reach a terminal.
UNSAFE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\U000e0000-\U000e007f]")


def clean(text: str, limit: int | None = None) -> str:
    text = UNSAFE.sub("", text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def one_line(text: str, limit: int = 100) -> str:
    return clean(" ".join(str(text).split()), limit)


def call_label(tool: str, raw_args: str) -> str:
    try:
        args = json.loads(raw_args)
    except (json.JSONDecodeError, TypeError):
        return f"{tool} (invalid arguments)"
    if not isinstance(args, dict):
        return f"{tool} (invalid arguments)"
    for key in ("path", "command", "target", "pattern", "summary"):
        if args.get(key):
            return f"{tool} {one_line(str(args[key]), 70)}"
    return tool


class Progress:
    """Prints one line per meaningful journal record while a run works."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __call__(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        kind, step, out = record["kind"], record["step"], self.console
        if kind == "run.start":
            out.print(f"[bold]run[/] {record['run']}  model [cyan]{data.get('model')}[/]  "
                      f"contract {data.get('contract', {}).get('source')}")  # fmt: skip
        elif kind == "model.response":
            usage = data.get("usage", {})
            text = one_line(data.get("text", ""), 90)
            out.print(f"[dim]step {step}[/] [dim]{usage.get('input_tokens', 0)}→{usage.get('output_tokens', 0)} tok[/]"
                      + (f"  {text}" if text else ""), markup=True, highlight=False)  # fmt: skip
        elif kind == "policy.decision" and data.get("verdict") != "allow":
            out.print(Text(f"   ✗ refused {data.get('action')}: {data.get('rule')} {data.get('reason', '')}",
                           style="yellow"))  # fmt: skip
        elif kind == "tool.result":
            extra = data.get("data") or {}
            if "refused" in extra and extra["refused"] not in ("invalid-arguments", "unknown-tool"):
                return  # the refusal was shown with its decision
            mark, style = ("✗", "red") if data.get("is_error") else ("✓", "green")
            detail = extra.get("path") or " ".join(extra.get("argv", []))
            if "exit_code" in extra:
                detail += " → timed out" if extra.get("timed_out") else f" → exit {extra['exit_code']}"
            elif data.get("is_error"):
                detail += " · " + one_line(data.get("content", ""), 70)
            out.print(Text(f"   {mark} {data.get('tool', '')} {one_line(str(detail), 100)}", style=style))
        elif kind == "gate.verdict":
            for check in data.get("checks", []):
                mark, style = ("✓", "green") if check["passed"] else ("✗", "red")
                out.print(Text(f"   gate {mark} {check['id']}: {one_line(check['detail'], 80)}", style=style))
        elif kind == "run.end":
            style = "green" if data.get("status") == "accepted" else "red"
            out.print(Text(f"{data.get('status')}: {data.get('reason')}", style=f"bold {style}"))


def timeline(journal_path: Path) -> list[dict[str, Any]]:
    """The run's events as rows: step, seconds since start, kind, detail, and whether it is an error."""
    rows: list[dict[str, Any]] = []
    start: float | None = None
    calls: dict[str, str] = {}
    for record in read_records(journal_path):
        data = payload(record, journal_path.parent)
        start = record["ts"] if start is None else start
        row = {"seq": record["seq"], "step": record["step"], "t": round(record["ts"] - start, 3),
               "kind": record["kind"], "detail": "", "error": False}  # fmt: skip
        kind = record["kind"]
        if kind == "run.start":
            row["detail"] = f"task: {one_line(data.get('task', ''), 80)} · model {data.get('model')}"
        elif kind == "model.response":
            usage = data.get("usage", {})
            names = ", ".join(c["name"] for c in data.get("tool_calls", []))
            text = one_line(data.get("text", ""), 60)
            row["detail"] = f"{usage.get('input_tokens', 0)}+{usage.get('output_tokens', 0)} tokens" + \
                (f" · {text}" if text else "") + (f" · calls {names}" if names else "")  # fmt: skip
        elif kind == "tool.call":
            calls[data.get("id", "")] = call_label(data.get("tool", ""), data.get("arguments", ""))
            continue
        elif kind == "policy.decision":
            if data.get("verdict") == "allow" and data.get("by") == "contract":
                continue
            row["detail"] = f"{data.get('verdict')} {data.get('action')} · {data.get('rule')} · by {data.get('by')}"
            row["error"] = data.get("verdict") != "allow"
        elif kind == "tool.result":
            row["detail"] = calls.get(data.get("id", ""), data.get("tool", ""))
            if data.get("is_error"):
                row["error"] = True
                row["detail"] += " · " + one_line(data.get("content", ""), 80)
        elif kind == "checkpoint":
            row["detail"] = f"tree {data.get('tree', '')[:12]} · {len(data.get('changes', []))} files changed"
        elif kind == "gate.verdict":
            failed = [c["id"] for c in data.get("checks", []) if not c["passed"]]
            row["detail"] = "passed" if data.get("passed") else "failed: " + ", ".join(failed)
            row["error"] = not data.get("passed")
        elif kind == "commit":
            row["detail"] = f"commit {data.get('commit', '')[:12]}"
        elif kind == "run.end":
            budget = data.get("budget", {})
            usage = budget.get("usage", {})
            row["detail"] = (f"{data.get('status')} · {data.get('reason')} · {budget.get('steps')} steps, "
                             f"{budget.get('tool_calls')} tool calls, "
                             f"{usage.get('input_tokens', 0) + usage.get('output_tokens', 0)} tokens")  # fmt: skip
            row["error"] = data.get("status") != "accepted"
        else:
            continue
        rows.append(row)
    return rows


def timeline_table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, show_lines=False, expand=False)
    table.add_column("step", justify="right")
    table.add_column("t (s)", justify="right")
    table.add_column("event")
    table.add_column("detail", overflow="fold")
    for row in rows:
        style = "red" if row["error"] else None
        table.add_row(str(row["step"]), f"{row['t']:.2f}", row["kind"], Text(clean(row["detail"])), style=style)
    return table
