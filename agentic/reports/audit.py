"""The audit of a run, from its journal alone: who started it, with which model, settings and
contract; every tool call with its decision and who made it; every file read and written, every
command and its exit status, every refusal, the gate's verdicts; how it ended and what it cost;
and whether the journal is intact (its hash chain verified).

A run may have several sessions (`run.start`, then a `run.resume` after each crash or interrupt)
and a `run.end` per session; its status is the last `run.end`'s, or "running" when the last
session has none. Kinds this harness does not know (and `notify`, delivered after the run) are
counted, not interpreted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentic.errors import JournalMismatch
from agentic.journal.events import (
    Checkpoint,
    Commit,
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
    RunResume,
    RunStart,
    ToolCall,
    ToolReconcile,
    ToolResult,
    UnknownEvent,
    entry,
    specs,
)
from agentic.journal.records import verify
from agentic.reports.auditview import CHANGE_WORDS
from agentic.reports.auditview import anchor_note as anchor_note
from agentic.reports.auditview import commit_table as commit_table  # the view, where callers found it
from agentic.reports.auditview import render as render
from agentic.reports.summary import call_label, entries, one_line

START_FIELDS = ("task", "model", "settings", "settings_origins", "contract", "base_commit", "branch",
                "harness", "sandbox", "unsafe_no_sandbox", "forked_from", "continued_from", "generated")  # fmt: skip
SESSION_FIELDS = ("who", "harness", "sandbox", "unsafe_no_sandbox", "after_status")

def integrity(journal: Path, anchored: dict[str, Any] | None = None) -> dict[str, Any]:
    """`agentic journal verify` as data: ok, records checked, the problem and the first bad record,
    and the anchor check (`anchor`: None when not asked)."""
    checked = verify(journal)
    out = {"ok": checked.ok, "records": checked.records, "problem": checked.problem,
           "first_bad_seq": checked.seq, "torn_tail": checked.torn_tail, "anchor": anchored}  # fmt: skip
    if checked.ok and anchored is not None and not anchored["ok"]:
        out.update(ok=False, problem=anchored["problem"], first_bad_seq=anchored.get("anchored_seq"))
    return out


class _Audit:
    """Collects the audit while the journal's records go by, in order."""

    def __init__(self) -> None:
        self.start: RunStart | None = None
        self.sessions: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.spans: dict[str, dict[str, Any]] = {}
        self.reads: list[dict[str, Any]] = []
        self.writes: list[dict[str, Any]] = []
        self.commands: list[dict[str, Any]] = []
        self.gates: list[dict[str, Any]] = []
        self.checkpoint: dict[str, Any] | None = None
        self.commit: dict[str, Any] | None = None
        self.ends: list[dict[str, Any]] = []
        self.other: dict[str, int] = {}
        self.hooks: list[dict[str, Any]] = []  # every hook.run: point, hook, tool, exit code, outcome, reason
        self.provider: dict[str, list[dict[str, Any]]] = {"retries": [], "waits": [], "context_trims": []}
        self.models: list[str] = []  # model names the provider reported
        self.usage = {"input_tokens": 0, "output_tokens": 0, "cached_input_tokens": 0}
        self.costs: list[float] = []
        self.responses = 0
        self.steps = 0
        self.last_ts = 0.0

    def add(self, head: Envelope, event: JournalEvent, data: dict[str, Any]) -> None:
        """One record: its envelope, its event, and its payload as written (what the audit passes on
        verbatim: a session's fields, the commit, the provider's retries, waits and trims)."""
        step, ts = head.step, head.ts or 0.0
        where = {"seq": head.seq, "step": step}
        self.steps, self.last_ts = max(self.steps, step), max(self.last_ts, ts)
        match event:
            case RunStart() | RunResume():
                if isinstance(event, RunStart) and self.start is None:
                    self.start = event
                self.sessions.append({"kind": event.kind, "seq": head.seq, "ts": ts, "ended_ts": ts,
                                      **{k: data.get(k) for k in SESSION_FIELDS if k in data}})  # fmt: skip
            case ModelResponse():
                self._response(event)
            case ToolCall() | PolicyDecision() | ToolReconcile() | ToolResult():
                self._call(event, str(head.span), where)
            case Checkpoint():
                self.checkpoint = {"tree": event.tree, "changes": event.changes or [],
                                   "left_out": event.left_out or [], "skipped": event.skipped or []}  # fmt: skip
            case GateVerdict():
                checks = [c for c in event.checks or [] if isinstance(c, dict)]
                self.gates.append({**where, "passed": bool(event.passed),
                                   "failed": [c.get("id") for c in checks if not c.get("passed")],
                                   "checks": checks, **(self.checkpoint or {})})  # fmt: skip
                self.checkpoint = None
            case Commit():
                self.commit = {**where, **data}
            case ModelRetry() | ModelWait() | ContextTrim():
                key = {"model.retry": "retries", "model.wait": "waits", "context.trim": "context_trims"}[event.kind]
                self.provider[key].append({**where, **data})
            case RunEnd():
                self.ends.append({**where, "ts": ts, "status": event.status, "reason": event.reason,
                                  "commit": event.commit, "budget": event.budget})  # fmt: skip
            case HookRun():
                self.hooks.append({**where, "point": event.point, "hook": event.hook, "tool": event.tool,
                                   "exit_code": event.exit_code, "timed_out": bool(event.timed_out),
                                   "outcome": event.outcome, "reason": event.reason or "", "note": event.note or ""})  # fmt: skip
            case Notify() | UnknownEvent():  # counted, not interpreted
                self.other[event.kind] = self.other.get(event.kind, 0) + 1
        if self.sessions:
            self.sessions[-1]["ended_ts"] = ts

    def _response(self, event: ModelResponse) -> None:
        self.responses += 1
        usage: dict[str, Any] = dict(event.usage or {})
        for key in self.usage:
            self.usage[key] += int(usage.get(key) or 0)
        if event.cost_usd is not None:
            self.costs.append(float(event.cost_usd))
        if event.model and event.model not in self.models:
            self.models.append(event.model)

    def _call(self, event: ToolCall | PolicyDecision | ToolReconcile | ToolResult, span: str,
              where: dict[str, Any]) -> None:  # fmt: skip
        call = self.spans.get(span)
        if call is None:  # a decision or result without its call: still listed
            tool = None if isinstance(event, ToolReconcile) else event.tool
            call = {**where, "tool": tool, "action": "", "arguments": None, "decision": None,
                    "outcome": "no result", "result": "", "reconciled": None}  # fmt: skip
            self.spans[span] = call
            self.calls.append(call)
        match event:
            case ToolCall():
                call["action"] = call_label(event.tool or "", event.arguments or "")
                call["arguments"] = event.arguments
            case PolicyDecision():
                call["action"] = event.action or call["action"]
                call["decision"] = {"verdict": event.verdict, "rule": event.rule, "by": event.by, "reason": event.reason}
            case ToolReconcile():
                call["reconciled"] = event.outcome
            case ToolResult():
                self._result(call, event, where)

    def _result(self, call: dict[str, Any], event: ToolResult, where: dict[str, Any]) -> None:
        extra: dict[str, Any] = dict(event.data or {})
        refused = (call["decision"] or {}).get("verdict") not in (None, "allow") or "refused" in extra
        call["outcome"] = "refused" if refused else "error" if event.is_error else "ok"
        call["result"] = one_line(event.content or "", 200) if event.is_error else ""
        if "exit_code" in extra:  # a command's output is in the journal; its status is what matters here
            call["result"] = "timed out" if extra.get("timed_out") else f"exit {extra.get('exit_code')}"
        if refused and call["decision"] is None:  # refused before any rule applied (bad arguments, unknown tool)
            call["decision"] = {"verdict": "deny", "rule": extra.get("refused"), "by": "harness",
                                "reason": call["result"]}  # fmt: skip
        fact = {**where, "tool": event.tool}
        if refused:
            return
        if "argv" in extra and "exit_code" in extra:
            self.commands.append({**fact, **{k: extra.get(k) for k in
                                             ("command", "argv", "exit_code", "timed_out", "duration_s", "sandbox")}})  # fmt: skip
            for change in extra.get("changed") or []:  # files a command changed, from the snapshot
                self.writes.append({**fact, "path": change["path"], "bytes": None,
                                    "change": CHANGE_WORDS.get(change["status"], "modified")})  # fmt: skip
        elif "path" in extra and ("created" in extra or "deleted" in extra):
            if not event.is_error:
                change = "deleted" if "deleted" in extra else "created" if extra.get("created") else "modified"
                self.writes.append({**fact, "path": extra["path"], "change": change, "bytes": extra.get("bytes")})
        elif "path" in extra and not event.is_error:
            self.reads.append({**fact, "path": extra["path"]})

    def refusals(self) -> list[dict[str, Any]]:
        return [{"seq": c["seq"], "step": c["step"], "tool": c["tool"], "action": c["action"],
                 **(c["decision"] or {})} for c in self.calls if c["outcome"] == "refused"]  # fmt: skip

    def totals(self) -> dict[str, Any]:
        """From the last run.end's budget (it counts every session); from the records when there is none."""
        ended = self.ended()
        budget = (self.ends[-1].get("budget") or {}) if ended else {}
        usage = budget.get("usage") or self.usage
        elapsed = budget.get("elapsed_s")
        if elapsed is None:
            elapsed = round(sum(s["ended_ts"] - s["ts"] for s in self.sessions), 3)
        tokens = int(usage.get("input_tokens") or 0) + int(usage.get("output_tokens") or 0)
        return {
            "source": "run.end" if budget else "records",
            "steps": budget.get("steps", self.steps), "tool_calls": budget.get("tool_calls", len(self.calls)),
            "input_tokens": usage.get("input_tokens", 0), "output_tokens": usage.get("output_tokens", 0),
            "cached_input_tokens": usage.get("cached_input_tokens", 0), "tokens": tokens,
            "cost_usd": round(sum(self.costs), 6) if self.costs else None,
            "cost_complete": self.responses > 0 and len(self.costs) == self.responses,
            "elapsed_s": elapsed, "gate_failures": budget.get("gate_failures", sum(not g["passed"] for g in self.gates)),
            "refusals": sum(c["outcome"] == "refused" for c in self.calls),
        }  # fmt: skip

    def ended(self) -> bool:
        """Whether the last session ended with a run.end (no crash since)."""
        if not self.ends:
            return False
        return not self.sessions or (self.ends[-1]["seq"] or 0) > (self.sessions[-1]["seq"] or 0)


def committed(collected: _Audit) -> list[dict[str, Any]]:
    """Every path in the accepted commit, and how it got there: the calls that changed it, by step.
    Files the test command wrote (left out of the commit) follow, marked as such."""
    passed = [g for g in collected.gates if g["passed"]]
    if collected.commit is None or not passed:
        return []
    paths = []
    for status, path in passed[-1].get("changes") or []:
        by = [{"step": w["step"], "tool": w["tool"], "change": w["change"]} for w in collected.writes if w["path"] == path]
        paths.append({"path": path, "status": status, "by": by})
    for path in passed[-1].get("left_out") or []:
        paths.append({"path": path, "status": "left out", "by": [], "why": "only the test command wrote it"})
    for path, why in passed[-1].get("skipped") or []:
        paths.append({"path": path, "status": "left out", "by": [], "why": why})
    return paths


def provenance(journal: Path) -> list[dict[str, Any]]:
    """`committed` for a run, from its journal (no verification: audit_run does that)."""
    collected = _Audit()
    for record, data in entries(journal):
        collected.add(*entry(record, data), data)
    return committed(collected)


def audit_run(journal: Path, anchored: dict[str, Any] | None = None) -> dict[str, Any]:
    """The audit of the run whose journal this is, as one JSON-ready object. `anchored` is the check
    of the journal against its anchor in the run database (agentic.anchor): a journal that fails it
    is not intact, however well it chains."""
    if not journal.is_file():
        problem = f": {anchored['problem']}" if anchored and not anchored["ok"] else ""
        raise JournalMismatch(f"the journal is missing: {journal}{problem}")
    collected = _Audit()
    run_id = journal.parent.name
    for record, data in entries(journal):
        head, event = entry(record, data)
        run_id = head.run or run_id
        collected.add(head, event, data)
    start, ended = collected.start, collected.ended()
    last = collected.ends[-1] if ended else {}
    return {
        "run": run_id,
        "journal": {"path": str(journal), **integrity(journal, anchored)},
        "who": (start.who if start is not None else None) or {},
        **{key: _as_written(start, key) for key in START_FIELDS},
        "models_reported": collected.models,
        "sessions": collected.sessions,
        "tool_calls": collected.calls,
        "files_read": collected.reads,
        "files_written": collected.writes,
        "commands": collected.commands,
        "refusals": collected.refusals(),
        "gates": collected.gates,
        "hooks": collected.hooks,
        "commit": collected.commit,
        "committed": committed(collected),
        "ends": collected.ends,
        "status": last.get("status", "running"),
        "reason": last.get("reason", "" if ended else "no run.end after the last session started"),
        "totals": collected.totals(),
        "provider": collected.provider,
        "other_records": collected.other,
    }


def _as_written(start: RunStart | None, key: str) -> Any:
    """A run.start field as the record wrote it, for the audit to pass on: the value read, or what the
    record held under that key if it was not of the field's type (kept in `extra`), or None."""
    if start is None:
        return None
    value = getattr(start, specs(RunStart)[key].attr)
    return start.extra.get(key) if value is None else value
