"""A run's journal folded for its HTML report: the start, the steps (model message, tool calls with
their decisions and results, gates with their verdicts), the commit and the ends, and the active time."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentic.journal.events import (
    Checkpoint,
    Commit,
    Envelope,
    GateVerdict,
    JournalEvent,
    ModelResponse,
    PolicyDecision,
    RunEnd,
    RunResume,
    RunStart,
    ToolCall,
    ToolReconcile,
    ToolResult,
    Usage,
)
from agentic.reports.summary import events


@dataclass
class Call:
    tool: str
    arguments: str
    decision: PolicyDecision | None = None
    result: ToolResult | None = None
    reconciled: str | None = None


@dataclass
class Gate:
    step: int
    ts: float
    tree: str
    changes: list[Any]
    verdict: GateVerdict | None = None


@dataclass
class Step:
    number: int
    ts: float
    text: str = ""
    usage: Usage = field(default_factory=lambda: Usage())
    cost_usd: float | None = None
    stop_reason: str = ""
    recorded: str | None = None
    responded: bool = False
    calls: list[Call] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class RunView:
    """A run's journal folded for the report: its start, steps (model message, tool calls, gates), end."""

    run_id: str = ""
    start: RunStart | None = None  # None: the journal has no run.start
    first_ts: float = 0.0
    last_ts: float = 0.0
    active_s: float = 0.0
    steps: list[Step] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)
    commit: Commit | None = None
    ends: list[RunEnd] = field(default_factory=list)
    usage: list[tuple[float, int, float | None]] = field(default_factory=list)  # (t, tokens, cost) per call
    _spans: dict[str, Call] = field(default_factory=dict)
    _session: float | None = None

    @property
    def status(self) -> str:
        return str(self.ends[-1].status) if self.ends else "running"

    def step(self, number: int, ts: float) -> Step:
        if not self.steps or self.steps[-1].number != number:
            self.steps.append(Step(number, ts))
        return self.steps[-1]

    def add(self, head: Envelope, event: JournalEvent) -> None:
        ts, number, span = head.ts or 0.0, head.step, str(head.span)
        self._clock(event.kind, ts)
        match event:
            case RunStart():
                self.run_id, self.start = head.run or "", event
            case RunResume():
                self.step(number, ts).notes.append(f"resumed after {_or(event.after_status, '?')}")
            case ModelResponse():
                self._response(self.step(number, ts), event, ts)
            case ToolCall():
                call = Call(_or(event.tool, ""), _or(event.arguments, ""))
                self._spans[span] = call
                self.step(number, ts).calls.append(call)
            case PolicyDecision() | ToolResult() | ToolReconcile():
                self._call_record(span, event)
            case Checkpoint():
                gate = Gate(number, ts, _or(event.tree, ""), list(event.changes or []))
                self.gates.append(gate)
                self.step(number, ts).gates.append(gate)
            case GateVerdict() if self.gates and self.gates[-1].verdict is None:
                self.gates[-1].verdict = event
            case Commit():
                self.commit = event
            case RunEnd():
                self.ends.append(event)

    def _clock(self, kind: str, ts: float) -> None:
        if not self.first_ts:
            self.first_ts = ts
        if kind in ("run.start", "run.resume") and self._session is not None:
            self.active_s += self.last_ts - self._session
            self._session = None
        if self._session is None:
            self._session = ts
        self.last_ts = ts

    def _response(self, step: Step, event: ModelResponse, ts: float) -> None:
        step.text, step.usage, step.responded = event.text or "", event.usage or Usage(), True
        step.cost_usd = None if event.cost_usd is None else float(event.cost_usd)
        step.stop_reason, step.recorded = event.stop_reason or "", event.recorded
        tokens = int(step.usage.get("input_tokens") or 0) + int(step.usage.get("output_tokens") or 0)
        self.usage.append((ts - self.first_ts, tokens, step.cost_usd))

    def _call_record(self, span: str, event: PolicyDecision | ToolResult | ToolReconcile) -> None:
        call = self._spans.get(span)
        if call is None:
            return
        match event:
            case PolicyDecision():
                call.decision = event
            case ToolResult():
                call.result = event
            case ToolReconcile():
                call.reconciled = _or(event.outcome, "")

    def finish(self) -> RunView:
        if self._session is not None:
            self.active_s += self.last_ts - self._session
            self._session = None
        return self


def read_run(journal: Path) -> RunView:
    view = RunView()
    for head, event in events(journal):
        view.add(head, event)
    return view.finish()


def _or(value: str | None, default: str) -> str:
    """A text field of a record, or `default` where the record lacks it."""
    return default if value is None else value
