"""`JsonEvents`: one JSON object per line on stdout for machines (`--json`), for the record kinds a
machine follows a run by (docs/events.md). JSON is written ASCII-only; a reader that went away stops
the stream, never the run."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

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
    RunResume,
    RunStart,
    ToolCall,
    ToolResult,
    entry,
)
from agentic.observe.listener import ProgressListener, Record, facts, number, result_detail, usage_total
from agentic.reports.summary import call_label
from agentic.util.pipes import silence


def _base(event: str, head: Envelope) -> Record:
    return {"event": event, "run": head.run, "seq": head.seq, "ts": head.ts, "step": head.step}


class JsonEvents(ProgressListener):
    """One JSON object per line for the record kinds a machine follows a run by (docs/events.md)."""

    def __init__(self, stream: TextIO | None = None, *, task: str | None = None,
                 limits: Record | None = None) -> None:  # fmt: skip
        self.stream = stream if stream is not None else sys.stdout
        self.task, self.limits = task, limits  # what a resumed session's `start` says (run.resume has neither)
        self.calls: dict[str, tuple[str, float]] = {}  # span → (label, ts) of a call awaiting its result
        self.broken = False  # the reader went away: the run goes on, the stream stops

    def __call__(self, record: Record, data: Record) -> None:
        if self.broken:
            return
        try:
            event = self.event(*entry(record, data))
        except Exception:  # an odd record is left out, never fatal
            return
        if event is not None:
            self.write(event)

    def write(self, event: Record) -> None:
        try:
            self.stream.write(json.dumps(event, default=str) + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream
            self.broken = True
            silence(self.stream)

    def event(self, head: Envelope, event: JournalEvent) -> Record | None:
        match event:
            case ToolCall():
                label = call_label(str(event.tool or ""), str(event.arguments or ""))
                self.calls[str(head.span)] = (label, head.ts or 0.0)
                return None
            case RunStart():
                return self.start(head, event)
            case RunResume():
                return {**_base("start", head), "task": self.task, "model": event.model, "limits": self.limits,
                        "resumed": True, "after_status": event.after_status, "steps_before": event.steps,
                        "elapsed_s_before": event.elapsed_s}  # fmt: skip
            case ModelResponse():
                return self.step(head, event)
            case ToolResult():
                return self.tool(head, event)
            case PolicyDecision():
                return {**_base("decision", head), "tool": event.tool, "action": event.action,
                        "verdict": event.verdict, "rule": event.rule, "by": event.by, "reason": event.reason,
                        "answer": event.answer, "message": event.message}  # fmt: skip
            case GateVerdict():
                checks = [c for c in event.checks or [] if isinstance(c, dict)]
                return {**_base("gate", head), "passed": bool(event.passed), "checks": len(checks),
                        "failed": [c.get("id") for c in checks if not c.get("passed")]}  # fmt: skip
            case ModelRetry():
                return {**_base("retry", head), "retry": event.retry, "of": event.of, "wait_s": event.wait_s,
                        "error": event.error, "status": event.status, "retry_after": event.retry_after}  # fmt: skip
            case ModelWait():
                return {**_base("wait", head), "wait_s": event.wait_s, "rate": event.rate}
            case ContextTrim():
                return {**_base("trim", head), "window": event.window, "elided": len(event.elided or []),
                        "before_tokens": event.before_tokens, "after_tokens": event.after_tokens}  # fmt: skip
            case RunEnd():
                return {**_base("end", head), "status": event.status, "reason": event.reason,
                        "commit": event.commit, "budget": event.budget}  # fmt: skip
            case Notify():
                return {**_base("notify", head), "channel": event.channel, "target": event.target,
                        "outcome": event.outcome, "attempts": event.attempts, "status_code": event.status_code,
                        "error": event.error}  # fmt: skip
        return None

    def start(self, head: Envelope, event: RunStart) -> Record:
        contract = event.contract if isinstance(event.contract, dict) else {}
        return {**_base("start", head), "task": event.task, "model": event.model, "limits": event.limits,
                "contract": contract.get("source"), "base_commit": event.base_commit, "branch": event.branch,
                "forked_from": event.forked_from, "continued_from": event.continued_from, "resumed": False,
                "warnings": event.warnings or []}  # fmt: skip

    def step(self, head: Envelope, event: ModelResponse) -> Record:
        usage: dict[str, Any] = dict(event.usage) if isinstance(event.usage, dict) else {}
        names = [c.get("name") for c in event.tool_calls or [] if isinstance(c, dict)]
        return {**_base("step", head), "tokens": {**usage, "total_tokens": usage_total(usage)},
                "cost_usd": event.cost_usd, "budget": event.budget, "tools": names,
                "recorded": event.recorded}  # fmt: skip

    def tool(self, head: Envelope, event: ToolResult) -> Record:
        label, started = self.calls.pop(str(head.span), (str(event.tool or ""), None))
        ts = number(head.ts)
        duration = round(max(0.0, ts - started), 3) if started and ts is not None else None
        return {**_base("tool", head), "tool": event.tool, "id": event.id,
                "is_error": bool(event.is_error), "refused": bool(facts(event).get("refused")),
                "exit_code": facts(event).get("exit_code"), "summary": result_detail(label, event),
                "duration_s": duration, "finish": bool(event.finish)}  # fmt: skip
