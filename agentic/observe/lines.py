"""`LineProgress`: plain lines while a run works, for output that is not a terminal (logs, CI).

Journal content is untrusted: it reaches the console only through `clean()` and rich `Text`."""

from __future__ import annotations

import contextlib

from rich.console import Console
from rich.text import Text

from agentic.journal.events import (
    ContextTrim,
    Envelope,
    GateVerdict,
    JournalEvent,
    ModelResponse,
    ModelRetry,
    ModelWait,
    Notify,
    PolicyDecision,
    RunEnd,
    RunStart,
    ToolResult,
    entry,
)
from agentic.observe.listener import ProgressListener, Record, facts
from agentic.reports.summary import clean, one_line

EXCERPT_LINES = 30  # of a tool's output or a failed check's, with --verbose


class LineProgress(ProgressListener):
    """Prints one line per meaningful journal record while a run works; with `verbose`, also the
    model's whole text and the first lines of each tool's output and of each failed check."""

    def __init__(self, console: Console, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose

    def excerpt(self, text: str) -> None:
        """The first EXCERPT_LINES lines of `text`, indented, dim (--verbose)."""
        lines = clean(text).rstrip("\n").splitlines()
        shown = lines[:EXCERPT_LINES] + ([f"[… {len(lines) - EXCERPT_LINES} more lines]"] if len(lines) > EXCERPT_LINES else [])
        for line in shown:
            self.say(f"       {line}", "dim")

    def __call__(self, record: Record, data: Record) -> None:
        with contextlib.suppress(Exception):  # progress output must never end a run
            self.show(*entry(record, data))

    def say(self, text: str, style: str | None = None) -> None:
        self.console.print(Text(text, style=style or ""), highlight=False)

    def show(self, head: Envelope, event: JournalEvent) -> None:
        match event:
            case RunStart():
                self.run_start(head, event)
            case ModelResponse():
                usage = event.usage if isinstance(event.usage, dict) else {}
                tokens = f"{usage.get('input_tokens', 0)}→{usage.get('output_tokens', 0)} tok"
                line = Text(f"step {head.step} {tokens}", style="dim")
                if not self.verbose and (text := one_line(str(event.text or ""), 90)):
                    line.append(f"  {text}")
                self.console.print(line, highlight=False)
                if self.verbose and event.text and event.text.strip():
                    for part in clean(event.text.strip()).splitlines():
                        self.say(f"   {part}")
            case ModelRetry():
                self.say(f"   retry {event.retry}/{event.of} in {event.wait_s}s: "
                         f"{one_line(str(event.error or ''), 90)}", "yellow")  # fmt: skip
            case ModelWait():
                self.say(f"   waited {event.wait_s}s for room under {one_line(str(event.rate), 80)}", "dim")
            case ContextTrim():
                tokens = f"~{event.before_tokens} → ~{event.after_tokens} tokens"
                self.say(f"   context trimmed: {len(event.elided or [])} older messages elided for the "
                         f"{event.window}-token window ({tokens})", "dim")  # fmt: skip
            case PolicyDecision() if event.verdict != "allow":
                self.say(f"   ✗ refused {clean(str(event.action))}: {clean(str(event.rule))} "
                         f"{clean(str(event.reason or ''))}", "yellow")  # fmt: skip
            case ToolResult():
                self.tool_result(event)
            case GateVerdict():
                self.gate_verdict(event)
            case Notify():
                ok = event.outcome == "delivered"
                error = "" if ok or not event.error else f": {one_line(str(event.error), 80)}"
                self.say(f"notify {clean(str(event.channel))} {one_line(str(event.target), 60)}: "
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

    def tool_result(self, event: ToolResult) -> None:
        extra = facts(event)
        if "refused" in extra and extra["refused"] not in ("invalid-arguments", "unknown-tool"):
            return  # the refusal was shown with its decision
        mark, style = ("✗", "red") if event.is_error else ("✓", "green")
        detail = str(extra.get("path") or extra.get("command") or " ".join(str(a) for a in extra.get("argv") or []))
        if "exit_code" in extra:
            detail += " → timed out" if extra.get("timed_out") else f" → exit {extra['exit_code']}"
        elif event.is_error:
            detail += " · " + one_line(str(event.content or ""), 70)
        self.say(f"   {mark} {clean(str(event.tool or ''))} {one_line(detail, 100)}", style)
        if self.verbose and event.tool != "finish":
            self.excerpt(str(event.content or ""))

    def gate_verdict(self, event: GateVerdict) -> None:
        checks = [c for c in event.checks or [] if isinstance(c, dict)]
        for check in checks:
            mark, style = ("✓", "green") if check.get("passed") else ("✗", "red")
            detail = one_line(str(check.get("detail", "")), 80)
            self.say(f"   gate {mark} {clean(str(check.get('id')))}: {detail}", style)
            if self.verbose and not check.get("passed"):
                self.excerpt(str(check.get("detail", "")))
        failed = [clean(str(c.get("id"))) for c in checks if not c.get("passed")]
        if event.passed:
            self.say(f"   gate passed ({len(checks)} checks)", "green")
        else:
            self.say(f"   gate failed: {', '.join(failed) or 'no checks'}", "red")
