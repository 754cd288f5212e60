"""`RunState`: what the live display shows, folded from the journal events seen so far."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.text import Text

from agentic.journal.events import (
    Budget,
    Checkpoint,
    Commit,
    ContextTrim,
    Envelope,
    GateVerdict,
    JournalEvent,
    ModelRequest,
    ModelResponse,
    ModelRetry,
    ModelWait,
    Notify,
    PolicyDecision,
    RunEnd,
    RunResume,
    RunStart,
    ToolCall,
    ToolResult,
)
from agentic.observe.listener import Record, number, result_detail, usage_total
from agentic.reports.summary import call_label, clean, one_line

EVENTS_SHOWN = 5  # notable events the live display keeps on screen


def _budget(value: Budget | None) -> Budget:
    return value if isinstance(value, dict) else {}


def _int(value: object) -> int:
    """An integer read from a journal field that may hold anything (0 when it is not a number)."""
    return int(value) if isinstance(value, int | float) else 0


@dataclass
class RunState:
    """What the live display shows, folded from the journal records seen so far."""

    limits: Record = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    run_id: str = ""
    model: str = ""
    step: int = 0
    tool_calls: int = 0
    tokens: int = 0
    cost_usd: float | None = 0.0  # None: some model call had no known price
    started: float | None = None
    elapsed_before: float = 0.0  # of earlier sessions (a resumed run)
    elapsed_final: float | None = None
    activity: str = "starting"
    since: float = 0.0
    last_tool: Text | None = None
    ended: Text | None = None
    events: deque[Text] = field(default_factory=lambda: deque(maxlen=EVENTS_SHOWN))
    calls: dict[str, str] = field(default_factory=dict)  # span → label of a call awaiting its result
    notes: list[Text] = field(default_factory=list)  # to print once, above the display (warnings)

    @property
    def elapsed(self) -> float:
        if self.elapsed_final is not None:
            return self.elapsed_final
        return self.elapsed_before + (self.clock() - self.started if self.started is not None else 0.0)

    def doing(self, activity: str) -> None:
        self.activity, self.since = activity, self.clock()

    def event(self, text: str, style: str = "") -> None:
        self.events.append(Text(text, style=style))

    def add(self, head: Envelope, event: JournalEvent) -> None:
        if self.started is None:
            self.started = self.clock()
        match event:
            case RunStart():
                self.run_id, self.model = clean(head.run or "", 40), clean(str(event.model or ""), 60)
                if isinstance(event.limits, dict):
                    self.limits = dict(event.limits)
                self.notes += [Text(f"warning: {clean(str(w))}", style="yellow") for w in event.warnings or []]
            case RunResume():
                self.run_id, self.model = clean(head.run or "", 40), clean(str(event.model or ""), 60)
                self.step = event.steps or 0
                self.elapsed_before = number(event.elapsed_s) or 0.0
                self.event(f"resumed after {clean(str(event.after_status))} at step {self.step}", "cyan")
            case ModelRequest():
                self.step = head.step or self.step
                self.doing(f"waiting for the model (step {self.step})")
            case ModelResponse():
                self.model_response(head, event)
            case ModelRetry():
                self.event(f"model retry {event.retry}/{event.of} in {event.wait_s}s: "
                           f"{one_line(str(event.error or ''), 60)}", "yellow")  # fmt: skip
                self.doing(f"retrying the model in {event.wait_s}s")
            case ModelWait():
                self.event(f"waited {event.wait_s}s for the rate limit ({one_line(str(event.rate), 50)})", "dim")
            case ContextTrim():
                self.event(f"context trimmed: {len(event.elided or [])} messages elided "
                           f"(~{event.before_tokens} → ~{event.after_tokens} tokens)", "dim")  # fmt: skip
            case ToolCall():
                label = call_label(clean(str(event.tool or ""), 30), str(event.arguments or ""))
                self.calls[str(head.span)] = label
                self.tool_calls += 1
                self.doing(label)
            case PolicyDecision():
                if event.verdict != "allow":
                    action, rule = one_line(str(event.action), 50), one_line(str(event.rule), 50)
                    self.event(f"✗ refused {action}: {rule}", "yellow")
                elif event.by == "person":
                    self.event(f"approved by the person: {one_line(str(event.action), 60)}", "cyan")
            case ToolResult():
                label = self.calls.pop(str(head.span), "") or clean(str(event.tool or ""), 30)
                mark, style = ("✗", "red") if event.is_error else ("✓", "green")
                self.last_tool = Text(f"last: {mark} {result_detail(label, event)}", style=style)
                self.doing("working")
            case Checkpoint():
                self.doing(f"gate: checking {len(event.changes or [])} changed files")
            case GateVerdict():
                failed = [clean(str(c.get("id")), 30) for c in event.checks or [] if isinstance(c, dict)
                          and not c.get("passed")]  # fmt: skip
                if event.passed:
                    self.event("gate passed", "green")
                else:
                    self.event(f"gate failed: {', '.join(failed)}", "red")
                self.doing("working")
            case Commit():
                self.event(f"commit {clean(str(event.commit or ''))[:12]}", "green")
            case RunEnd():
                self.run_end(event)
            case Notify():
                ok = event.outcome == "delivered"
                self.event(f"notify {clean(str(event.channel))} {one_line(str(event.target), 40)}: "
                           f"{clean(str(event.outcome))}", "dim" if ok else "yellow")  # fmt: skip

    def model_response(self, head: Envelope, event: ModelResponse) -> None:
        budget = _budget(event.budget)
        self.step = _int(budget.get("steps")) or head.step or self.step
        self.tool_calls = _int(budget.get("tool_calls")) or self.tool_calls
        self.tokens = usage_total(budget.get("usage")) or self.tokens + usage_total(event.usage)
        self.cost_usd = number(budget.get("cost_usd")) if "cost_usd" in budget else self.cost_usd
        names = [clean(str(c.get("name")), 30) for c in event.tool_calls or [] if isinstance(c, dict)]
        self.doing(f"step {self.step}: " + (f"calls {', '.join(names)}" if names else "answered"))

    def run_end(self, event: RunEnd) -> None:
        budget = _budget(event.budget)
        self.step = _int(budget.get("steps")) or self.step
        self.tool_calls = _int(budget.get("tool_calls")) or self.tool_calls
        self.tokens = usage_total(budget.get("usage")) or self.tokens
        if "cost_usd" in budget:
            self.cost_usd = number(budget.get("cost_usd"))
        self.elapsed_final = number(budget.get("elapsed_s")) or self.elapsed
        style = "bold green" if event.status == "accepted" else "bold red"
        reason = one_line(str(event.reason), 200)
        self.ended = Text(f"{clean(str(event.status))}: {reason}", style=style)
