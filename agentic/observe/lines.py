"""`LineProgress`: the run's transcript, a line or a block per meaningful journal record. It is what
output that is not a terminal gets (logs, CI), and what the live display leaves in a terminal's
scrollback above its status area.

Per step: the model's text (trimmed to a few lines; whole with `verbose`), each tool call with its
decision and the rule that made it, a short result (exit code, first failing test, lines changed,
files a command changed), and the gate's verdict with the failing checks' output. Values are never
cut in the middle: run ids, paths and commands are printed whole (a script's further lines under
its call, the first forty unless verbose).

Journal content is untrusted: it reaches the console only through `clean()` and rich `Text`.
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from rich.console import Console
from rich.text import Text

from agentic.journal.events import (
    ContextTrim,
    Envelope,
    GateVerdict,
    HookRun,
    JournalEvent,
    ModelResponse,
    ModelRetry,
    ModelWait,
    Notify,
    PolicyDecision,
    RunEnd,
    RunStart,
    ToolCall,
    ToolResult,
    entry,
)
from agentic.observe.listener import ProgressListener, Record, facts
from agentic.reports.summary import clean, one_line

SAID_LINES = 6  # of the model's text per step, unless verbose
FAILED_LINES = 12  # of a failed gate check's output, unless verbose
SCRIPT_LINES = 40  # of a script's lines after its first, unless verbose
EXCERPT_LINES = 30  # of a tool's output or a failed check's, with --verbose
BY = {"None": "the contract", "contract": "the contract", "person": "the person", "kill switch": "the kill switch",
      "no terminal": "nobody (no terminal to ask)", "hook": "a hook"}
FAILURE_START = re.compile(r"^(=+ (FAILURES|ERRORS) =+|(FAIL|ERROR): \S|Traceback \(most recent call last\))")
FAILURE = re.compile(r"^(?:FAILED|ERROR) (\S+)|^(?:FAIL|ERROR): (\S+ \([^)]*\))", re.MULTILINE)


def first_failure(output: str) -> str | None:
    """The first failing test a pytest or unittest output names (None: it names none)."""
    found = FAILURE.search(output)
    return (found.group(1) or found.group(2)) if found else None


def failure_part(detail: str) -> str:
    """What of a failed check's output says why: the command line, then from pytest's FAILURES or
    ERRORS section, unittest's first FAIL/ERROR block, or a traceback on (the whole output otherwise)."""
    lines = detail.splitlines()
    start = next((i for i, line in enumerate(lines) if FAILURE_START.match(line)), None)
    if start is None or start == 0:
        return detail
    head = lines[:1] if lines[0].startswith("$ ") else []
    return "\n".join([*head, *(["…"] if start > len(head) else []), *lines[start:]])


def _arguments(raw: Any) -> dict[str, Any]:
    try:
        args = json.loads(raw) if isinstance(raw, str) else None
    except (json.JSONDecodeError, RecursionError):
        return {}
    return args if isinstance(args, dict) else {}


def _lines(text: Any) -> int:
    return len(str(text).splitlines()) if text else 0


def subject(tool: str, args: dict[str, Any]) -> tuple[str, list[str]]:
    """What a call acts on, whole: its path, or its command's first line and its further lines."""
    for key in ("path", "command", "target", "pattern"):
        if args.get(key):
            first, *rest = str(args[key]).splitlines() or [""]
            return first, rest
    if tool.startswith("mcp__") and args:  # an MCP tool's arguments, on one line
        return one_line(json.dumps(args, ensure_ascii=False, sort_keys=True), 300), []
    return "", []


def outcome(tool: str, args: dict[str, Any], event: ToolResult) -> str:
    """How a call went, shortly: exit code and first failing test, lines changed, files changed."""
    extra = facts(event)
    parts: list[str] = []
    if "exit_code" in extra:
        parts.append("timed out" if extra.get("timed_out") else f"exit {extra['exit_code']}")
        if tool == "run_tests" and extra.get("exit_code") and (failed := first_failure(str(event.content or ""))):
            parts.append(f"first failure {failed}")
    elif event.is_error:
        parts.append(one_line(str(event.content or ""), 160))
    elif tool == "edit_file":
        parts.append(f"-{_lines(args.get('old_text'))} +{_lines(args.get('new_text'))} lines"
                     + (f" at line {extra['line']}" if extra.get("line") else ""))  # fmt: skip
    elif tool == "write_file":
        parts.append(f"{'created' if extra.get('created') else 'rewrote'}, {_lines(args.get('content'))} lines")
    elif tool == "delete_file":
        parts += ["deleted"]
    changed = [c for c in extra.get("changed") or [] if isinstance(c, dict)]
    if changed:
        parts.append("changed " + ", ".join(f"{c.get('path')} ({c.get('status')})" for c in changed[:8])
                     + (f" and {len(changed) - 8} more" if len(changed) > 8 else ""))  # fmt: skip
    return clean(" · ".join(parts))


class LineProgress(ProgressListener):
    """Prints the run's transcript; with `verbose`, also the model's whole text and the first lines of
    each tool's output and of each failed check."""

    def __init__(self, console: Console, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self.calls: dict[str, dict[str, Any]] = {}  # span → the call's arguments, until its result
        self.decisions: dict[str, PolicyDecision] = {}  # span → the decision on it

    def __call__(self, record: Record, data: Record) -> None:
        with contextlib.suppress(Exception):  # progress output must never end a run
            self.show(*entry(record, data))

    def say(self, text: str, style: str | None = None) -> None:
        self.console.print(Text(text, style=style or ""), highlight=False)

    def block(self, text: str, limit: int | None, style: str | None = "dim", indent: str = "       ") -> None:
        """`text`'s first `limit` lines (all: None), indented; how many more, if any."""
        lines = clean(text).rstrip("\n").splitlines()
        shown = lines if limit is None else lines[:limit]
        for line in shown:
            self.say(f"{indent}{line}", style)
        if len(shown) < len(lines):
            self.say(f"{indent}[… {len(lines) - len(shown)} more lines]", "dim")

    def excerpt(self, text: str) -> None:
        """The first EXCERPT_LINES lines of `text`, indented, dim (--verbose)."""
        self.block(text, EXCERPT_LINES)

    def show(self, head: Envelope, event: JournalEvent) -> None:
        match event:
            case RunStart():
                self.run_start(head, event)
            case ModelResponse():
                self.model_response(head, event)
            case ModelRetry():
                self.say(f"   retry {event.retry}/{event.of} in {event.wait_s}s: "
                         f"{one_line(str(event.error or ''), 160)}", "yellow")  # fmt: skip
            case ModelWait():
                self.say(f"   waited {event.wait_s}s for room under {clean(str(event.rate))}", "dim")
            case ContextTrim():
                tokens = f"~{event.before_tokens} → ~{event.after_tokens} tokens"
                self.say(f"   context trimmed: {len(event.elided or [])} older messages elided for the "
                         f"{event.window}-token window ({tokens})", "dim")  # fmt: skip
            case ToolCall():
                self.calls[str(head.span)] = _arguments(event.arguments)
            case PolicyDecision():
                self.decisions[str(head.span)] = event
            case ToolResult():
                self.tool_result(head, event)
            case GateVerdict():
                self.gate_verdict(event)
            case HookRun() if event.outcome != "pass" or self.verbose:
                said = event.reason or event.note or ""
                style = {"pass": "dim", "note": "dim", "ask": "yellow"}.get(str(event.outcome), "red")
                self.say(f"   hook {clean(str(event.hook))}: {clean(str(event.outcome))}"
                         + (f" — {one_line(said, 200)}" if said else ""), style)  # fmt: skip
            case Notify():
                ok = event.outcome == "delivered"
                error = "" if ok or not event.error else f": {one_line(str(event.error), 160)}"
                self.say(f"notify {clean(str(event.channel))} {clean(str(event.target))}: "
                         f"{clean(str(event.outcome))} after {event.attempts} attempt(s){error}",
                         "dim" if ok else "yellow")  # fmt: skip
            case RunEnd():
                style = "green" if event.status == "accepted" else "red"
                self.say(f"{clean(str(event.status))}: {clean(str(event.reason))}", f"bold {style}")

    def run_start(self, head: Envelope, event: RunStart) -> None:
        contract = event.contract if isinstance(event.contract, dict) else {}
        line = Text.assemble(("run", "bold"), f" {clean(str(head.run))}  model ",
                             (clean(str(event.model)), "cyan"),
                             f"  contract {clean(str(contract.get('source')))}")  # fmt: skip
        self.console.print(line, highlight=False)
        for warning in event.warnings or []:
            self.say(f"warning: {clean(str(warning))}", "yellow")

    def model_response(self, head: Envelope, event: ModelResponse) -> None:
        usage = event.usage if isinstance(event.usage, dict) else {}
        tokens = f"{usage.get('input_tokens', 0)}→{usage.get('output_tokens', 0)} tok"
        self.console.print(Text(f"step {head.step} · {tokens}", style="bold dim"), highlight=False)
        if event.text and event.text.strip():
            self.block(event.text.strip(), None if self.verbose else SAID_LINES, style=None, indent="   ")

    def tool_result(self, head: Envelope, event: ToolResult) -> None:
        span = str(head.span)
        args, decision = self.calls.pop(span, {}), self.decisions.pop(span, None)
        tool = clean(str(event.tool or ""))
        if event.tool == "finish":  # the gate's verdict follows
            if summary := str(args.get("summary") or "").strip():
                self.say(f"   finish: {clean(summary.splitlines()[0])}" + (" …" if "\n" in summary else ""), "bold")
            return
        refused = decision is not None and decision.verdict != "allow"
        mark, style = ("✗", "yellow") if refused else ("✗", "red") if event.is_error else ("✓", "green")
        first, script = subject(tool, args)
        line = Text(f"   {mark} {' '.join(filter(None, (tool, clean(first))))}", style=style)
        if refused and decision is not None:
            line.append(f" · refused by {BY.get(str(decision.by), clean(str(decision.by)))}: {clean(str(decision.rule))}")
            if decision.reason:
                line.append(f" ({clean(str(decision.reason))})")
        else:
            if how := outcome(str(event.tool), args, event):
                line.append(f" → {how}")
            if decision is not None:
                by = "" if decision.by in (None, "contract") else f" by {clean(str(decision.by))}"
                line.append(f"  [{clean(str(decision.verdict))}{by}: {clean(str(decision.rule))}]", style="dim")
        self.console.print(line, highlight=False)
        if script:  # a script's further lines, as it ran (the first stands on the call's line)
            self.block("\n".join(script), None if self.verbose else SCRIPT_LINES, indent="       │ ")
        if self.verbose:
            self.excerpt(str(event.content or ""))

    def gate_verdict(self, event: GateVerdict) -> None:
        checks = [c for c in event.checks or [] if isinstance(c, dict)]
        for check in checks:
            name, detail = clean(str(check.get("id"))), str(check.get("detail", ""))
            if check.get("passed"):
                self.say(f"   gate ✓ {name}: {one_line(detail.strip().split(chr(10))[0], 120)}", "green")
            else:
                self.say(f"   gate ✗ {name}:", "red")
                self.block(failure_part(detail), EXCERPT_LINES if self.verbose else FAILED_LINES)
        failed = [clean(str(c.get("id"))) for c in checks if not c.get("passed")]
        if event.passed:
            self.say(f"   gate passed ({len(checks)} checks)", "green")
        else:
            self.say(f"   gate failed: {', '.join(failed) or 'no checks'}", "red")
