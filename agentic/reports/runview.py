"""A run's journal folded for its HTML report: the start, the steps (model message, tool calls with
their decisions and results, gates with their verdicts), the commit and the ends, and the active time."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentic.reports.summary import cost_of, entries


@dataclass
class Call:
    tool: str
    arguments: str
    decision: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    reconciled: str | None = None


@dataclass
class Gate:
    step: int
    ts: float
    tree: str
    changes: list[Any]
    verdict: dict[str, Any] | None = None


@dataclass
class Step:
    number: int
    ts: float
    text: str = ""
    usage: dict[str, Any] = field(default_factory=dict)
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
    start: dict[str, Any] = field(default_factory=dict)
    first_ts: float = 0.0
    last_ts: float = 0.0
    active_s: float = 0.0
    steps: list[Step] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)
    commit: dict[str, Any] | None = None
    ends: list[dict[str, Any]] = field(default_factory=list)
    usage: list[tuple[float, int, float | None]] = field(default_factory=list)  # (t, tokens, cost) per call
    _spans: dict[str, Call] = field(default_factory=dict)
    _session: float | None = None

    @property
    def status(self) -> str:
        return str(self.ends[-1].get("status")) if self.ends else "running"

    def step(self, number: int, ts: float) -> Step:
        if not self.steps or self.steps[-1].number != number:
            self.steps.append(Step(number, ts))
        return self.steps[-1]

    def add(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        kind, ts, number = (
            str(record.get("kind")),
            float(record.get("ts") or 0.0),
            int(record.get("step") or 0),
        )
        self._clock(kind, ts)
        span = str(record.get("span"))
        if kind == "run.start":
            self.run_id, self.start = str(record.get("run", "")), data
        elif kind == "run.resume":
            self.step(number, ts).notes.append(f"resumed after {data.get('after_status', '?')}")
        elif kind == "model.response":
            self._response(self.step(number, ts), data, ts)
        elif kind == "tool.call":
            call = Call(str(data.get("tool", "")), str(data.get("arguments", "")))
            self._spans[span] = call
            self.step(number, ts).calls.append(call)
        elif kind in ("policy.decision", "tool.result", "tool.reconcile"):
            self._call_record(kind, span, data)
        elif kind == "checkpoint":
            gate = Gate(number, ts, str(data.get("tree", "")), list(data.get("changes") or []))
            self.gates.append(gate)
            self.step(number, ts).gates.append(gate)
        elif kind == "gate.verdict" and self.gates and self.gates[-1].verdict is None:
            self.gates[-1].verdict = data
        elif kind == "commit":
            self.commit = data
        elif kind == "run.end":
            self.ends.append(data)

    def _clock(self, kind: str, ts: float) -> None:
        if not self.first_ts:
            self.first_ts = ts
        if kind in ("run.start", "run.resume") and self._session is not None:
            self.active_s += self.last_ts - self._session
            self._session = None
        if self._session is None:
            self._session = ts
        self.last_ts = ts

    def _response(self, step: Step, data: dict[str, Any], ts: float) -> None:
        step.text, step.usage, step.responded = str(data.get("text") or ""), data.get("usage") or {}, True
        step.cost_usd, step.stop_reason = cost_of(data), str(data.get("stop_reason") or "")
        step.recorded = data.get("recorded")
        tokens = int(step.usage.get("input_tokens") or 0) + int(step.usage.get("output_tokens") or 0)
        self.usage.append((ts - self.first_ts, tokens, step.cost_usd))

    def _call_record(self, kind: str, span: str, data: dict[str, Any]) -> None:
        call = self._spans.get(span)
        if call is None:
            return
        if kind == "policy.decision":
            call.decision = data
        elif kind == "tool.result":
            call.result = data
        else:
            call.reconciled = str(data.get("outcome", ""))

    def finish(self) -> RunView:
        if self._session is not None:
            self.active_s += self.last_ts - self._session
            self._session = None
        return self


def read_run(journal: Path) -> RunView:
    view = RunView()
    for record, data in entries(journal):
        view.add(record, data)
    return view.finish()
