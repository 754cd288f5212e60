"""`TraceListener`: a run's journal events as OpenTelemetry spans, with the records' own timestamps.

    invoke_agent agentic          run.start | run.resume ▸ run.end     (one per harness session)
    ├── chat {model}              model.request ▸ model.response
    ├── execute_tool {tool}       tool.call ▸ policy.decision ▸ tool.result   (one journal span)
    └── gate                      checkpoint ▸ gate.baseline ▸ gate.verdict

OpenTelemetry is imported when a listener is made, never when this module is imported.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import TYPE_CHECKING, Any

from agentic import __version__
from agentic.journal.events import (
    Checkpoint,
    Commit,
    Envelope,
    GateBaseline,
    GateVerdict,
    JournalEvent,
    ModelRequest,
    ModelResponse,
    PolicyDecision,
    RunEnd,
    RunResume,
    RunStart,
    ToolCall,
    ToolResult,
    entry,
)
from agentic.observe.exporting import (
    AGENT_NAME,
    FLUSH_TIMEOUT_S,
    bounded,
    content_capture_enabled,
    note,
    provider,
)
from agentic.observe.genai import (
    clean_attrs,
    conversation_parts,
    finish_reason,
    model_attributes,
    ns,
    server,
    to_json,
)
from agentic.policy.mcpservers import split_name

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, TracerProvider


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class TraceListener:
    """Turns a run's journal records into spans. Call it as (record, data); `close()` at the end.

    Give it a tracer provider (which it flushes but never shuts down unless `owns_provider`), or a
    span exporter (it then makes its own provider with a synchronous processor: for tests).
    `capture_content` defaults to OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT.
    """

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        *,
        span_exporter: SpanExporter | None = None,
        capture_content: bool | None = None,
        owns_provider: bool | None = None,
    ) -> None:
        from opentelemetry import context as otel_context
        from opentelemetry import trace as otel_trace

        if tracer_provider is None:
            if span_exporter is None:
                raise ValueError("TraceListener needs a tracer provider or a span exporter")
            tracer_provider = provider([(span_exporter, False)])
            owns_provider = True if owns_provider is None else owns_provider
        self.provider = tracer_provider
        self.owns_provider = bool(owns_provider)
        self.capture = content_capture_enabled(os.environ) if capture_content is None else capture_content
        self._trace, self._context = otel_trace, otel_context
        self._tracer = tracer_provider.get_tracer("agentic", __version__)
        self._root: Span | None = None
        self._chat: Span | None = None
        self._tools: dict[str, Span] = {}
        self._gate: Span | None = None
        self._usage = {"input_tokens": 0, "output_tokens": 0, "cached_input_tokens": 0}
        self._run = ""
        self._model = ""
        self._server: dict[str, Any] = {}
        self._messages: list[dict[str, Any]] = []
        self._last_ts: float | None = None
        self._failed = False
        self._closed = False
        self._flushing: threading.Thread | None = None
        self._slow = False

    # -- the listener protocol ---------------------------------------------------------------

    def __call__(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        if self._closed:
            return
        try:
            head, event = entry(record, data)
            self.add(head, event)
            if head.ts is not None:
                self._last_ts = head.ts
        except Exception as exc:  # never into the run
            if not self._failed:
                self._failed = True
                note(f"a journal record could not be traced ({type(exc).__name__}: {exc}); the run goes on")

    def add(self, head: Envelope, event: JournalEvent) -> None:
        match event:
            case RunStart():
                self._run_start(head, event)
            case RunResume():
                harness = _dict(event.harness)
                self._open_root(head, {
                    "gen_ai.agent.version": harness.get("version"), "agentic.run.resumed": True,
                    "agentic.run.resumed_after": event.after_status, "agentic.sandbox": event.sandbox,
                })  # fmt: skip
            case ModelRequest():
                self._model_request(head, event)
            case ModelResponse():
                self._model_response(head, event)
            case ToolCall():
                span = self._tool(head, event.tool, event.id)
                if self.capture and isinstance(event.arguments, str):
                    span.set_attribute("gen_ai.tool.call.arguments", event.arguments)
            case PolicyDecision():
                span = self._tool(head, event.tool, None)
                span.set_attributes(clean_attrs({"agentic.policy.verdict": event.verdict,
                                                 "agentic.policy.rule": event.rule,
                                                 "agentic.policy.decided_by": event.by}))  # fmt: skip
                if self.capture and event.action:
                    span.set_attribute("agentic.policy.action", str(event.action))
            case ToolResult():
                self._tool_result(head, event)
            case Checkpoint():
                changes = event.changes
                self._gate_span(head).set_attributes(clean_attrs({
                    "agentic.gate.tree": event.tree,
                    "agentic.gate.changed_files": len(changes) if isinstance(changes, list) else None,
                }))  # fmt: skip
            case GateBaseline():
                if isinstance(event.collected, int):
                    self._gate_span(head).set_attribute("agentic.gate.baseline_tests", event.collected)
            case GateVerdict():
                self._gate_verdict(head, event)
            case Commit():
                if self._root is not None and event.commit:
                    self._root.set_attribute("agentic.commit", str(event.commit))
            case RunEnd():
                self._run_end(head, event)

    def close(self) -> None:
        """End what is still open (a run cut short), flush, and shut down a provider it owns."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):  # never into the run
            self._end_root(self._last_ts, None, "the run did not end: the journal stops here")
        # a flush still waiting on the collector means it is unreachable or slow: do not wait again
        stuck = self._flushing is not None and self._flushing.is_alive()
        call = self.provider.shutdown if self.owns_provider else self.provider.force_flush  # type: ignore[attr-defined]
        bounded(call, 0.0 if stuck else FLUSH_TIMEOUT_S)

    # -- spans -------------------------------------------------------------------------------

    def _start(
        self, name: str, ts: Any, attrs: dict[str, Any], kind: str = "INTERNAL", root: bool = False
    ) -> Span:
        if root or self._root is None:  # every other span is started under the root (_ensure_root)
            parent = self._context.Context()
        else:
            parent = self._trace.set_span_in_context(self._root)
        return self._tracer.start_span(name, context=parent, kind=getattr(self._trace.SpanKind, kind),
                                       attributes=clean_attrs(attrs), start_time=ns(ts))  # fmt: skip

    def _error(self, span: Span, error_type: str, description: str = "") -> None:
        from opentelemetry.trace import Status, StatusCode

        span.set_attribute("error.type", error_type)
        span.set_status(Status(StatusCode.ERROR, description or error_type))

    def _end(self, span: Span, ts: Any) -> None:
        span.end(end_time=ns(ts) if ts is not None else None)

    def _flush(self) -> None:
        self._flushing = bounded(self.provider.force_flush)  # type: ignore[attr-defined]
        if self._flushing.is_alive() and not self._slow:
            self._slow = True
            note(f"traces are still being exported after {FLUSH_TIMEOUT_S:g} s (is the collector reachable?); "
                 "the run does not wait for them")  # fmt: skip

    def _open_root(self, head: Envelope, attrs: dict[str, Any]) -> Span:
        self._end_root(self._last_ts, None, "the harness stopped without ending the run")
        self._run = head.run or self._run
        self._usage = dict.fromkeys(self._usage, 0)
        base = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": AGENT_NAME,
                "gen_ai.conversation.id": self._run, **model_attributes(self._model), **self._server}  # fmt: skip
        self._root = self._start(f"invoke_agent {AGENT_NAME}", head.ts, {**base, **attrs}, root=True)
        return self._root

    def _ensure_root(self, head: Envelope) -> None:
        if self._root is None:  # joined mid-run: a root for what follows
            self._open_root(head, {"agentic.run.partial": True})

    def _end_root(self, ts: Any, status: str | None, reason: str) -> None:
        """End the open spans and the root; status None: the run was cut short."""
        if self._root is None:
            return
        for span in [s for s in (self._chat, self._gate) if s is not None] + list(self._tools.values()):
            self._error(span, status if status and status != "accepted" else "_OTHER", reason)  # cut short
            self._end(span, ts)
        self._chat, self._gate, self._tools = None, None, {}
        root, self._root = self._root, None
        root.set_attributes({
            "gen_ai.usage.input_tokens": self._usage["input_tokens"],
            "gen_ai.usage.output_tokens": self._usage["output_tokens"],
            "gen_ai.usage.cache_read.input_tokens": self._usage["cached_input_tokens"],
        })  # fmt: skip
        if status != "accepted":
            self._error(root, status or "_OTHER", reason)
        self._end(root, ts)

    def _span_attrs(self, head: Envelope) -> dict[str, Any]:
        return {"gen_ai.conversation.id": self._run, "agentic.step": head.step}

    # -- events ------------------------------------------------------------------------------

    def _run_start(self, head: Envelope, event: RunStart) -> None:
        self._model = str(event.model or "")
        self._server = server(_dict(event.settings).get("base_url"))
        contract, harness, forked = _dict(event.contract), _dict(event.harness), _dict(event.forked_from)
        attrs: dict[str, Any] = {
            "gen_ai.agent.version": harness.get("version"),
            "agentic.contract.source": contract.get("source"), "agentic.contract.hash": contract.get("hash"),
            "agentic.run.base_commit": event.base_commit, "agentic.run.branch": event.branch,
            "agentic.sandbox": event.sandbox, "agentic.run.forked_from": forked.get("run"),
            "agentic.run.continued_from": _dict(event.continued_from).get("run"),
        }  # fmt: skip
        if self.capture:
            tools = [{"type": "function", **t} for t in event.tools or [] if isinstance(t, dict)]
            attrs.update({
                "agentic.task": event.task,
                "gen_ai.system_instructions": to_json([{"type": "text", "content": event.system_prompt or ""}]),
                "gen_ai.tool.definitions": to_json(tools),
            })  # fmt: skip
        self._messages = []
        self._open_root(head, attrs)

    def _model_request(self, head: Envelope, event: ModelRequest) -> None:
        self._ensure_root(head)
        if self._chat is not None:  # a request that never got its answer
            self._error(self._chat, "_OTHER", "no response was recorded")
            self._end(self._chat, head.ts)
        model = str(event.model or self._model)
        if not self._model and model and self._root is not None:  # a resumed session learns it here
            self._root.set_attributes(model_attributes(model))
        self._model = self._model or model
        attrs = {"gen_ai.operation.name": "chat", **model_attributes(model), **self._server, **self._span_attrs(head)}
        if self.capture:
            new = [m for m in event.messages or [] if isinstance(m, dict)]
            start = event.from_
            keep = start if isinstance(start, int) and 0 <= start <= len(self._messages) else len(self._messages)
            self._messages = self._messages[:keep] + new
            system, chat = conversation_parts(self._messages)
            if system:
                attrs["gen_ai.system_instructions"] = to_json(system)
            attrs["gen_ai.input.messages"] = to_json(chat)
        kind = "INTERNAL" if model.startswith("script:") else "CLIENT"
        self._chat = self._start(f"chat {attrs.get('gen_ai.request.model') or model}", head.ts, attrs, kind)

    def _model_response(self, head: Envelope, event: ModelResponse) -> None:
        self._ensure_root(head)
        span, self._chat = self._chat, None
        if span is None:  # answered from a recorded turn without a request in this journal
            model = self._model
            known = {"gen_ai.operation.name": "chat", **model_attributes(model), **self._span_attrs(head)}
            span = self._start(f"chat {known.get('gen_ai.request.model') or model}", head.ts, known)
        finish = finish_reason(event.stop_reason)
        attrs: dict[str, Any] = {"gen_ai.response.model": event.model, "gen_ai.response.finish_reasons": [finish]}
        usage = _dict(event.usage)
        if event.recorded:  # a turn fed from another run's journal: no tokens spent here
            attrs["agentic.model.recorded_from"] = str(event.recorded)
        else:
            counts = {k: int(usage.get(k) or 0) for k in self._usage}
            for k, v in counts.items():
                self._usage[k] += v
            attrs.update({"gen_ai.usage.input_tokens": counts["input_tokens"],
                          "gen_ai.usage.output_tokens": counts["output_tokens"],
                          "gen_ai.usage.cache_read.input_tokens": counts["cached_input_tokens"]})  # fmt: skip
            if event.cost_usd is not None:
                attrs["agentic.usage.cost_usd"] = float(event.cost_usd)
        if self.capture:
            message = {"role": "assistant", "content": event.text or "", "tool_calls": event.tool_calls or []}
            _, parts = conversation_parts([message])
            attrs["gen_ai.output.messages"] = to_json([{**parts[0], "finish_reason": finish}])
        span.set_attributes(clean_attrs(attrs))
        self._end(span, head.ts)

    def _tool(self, head: Envelope, tool: str | None, call_id: str | None) -> Span:
        key = head.span or ""
        span = self._tools.get(key)
        if span is None:  # also: a call announced by a session that crashed, finished by this one
            self._ensure_root(head)
            name = tool or ""
            mcp = split_name(name)  # an MCP server's tool: the server it ran on
            span = self._start(f"execute_tool {name}".strip(), head.ts, {
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name, "gen_ai.tool.type": "function",
                "gen_ai.tool.call.id": call_id, **self._span_attrs(head),
                **({"agentic.mcp.server": mcp[0], "agentic.mcp.tool": mcp[1]} if mcp else {}),
            })  # fmt: skip
            self._tools[key] = span
        return span

    def _tool_result(self, head: Envelope, event: ToolResult) -> None:
        span = self._tool(head, event.tool, event.id)
        self._tools.pop(head.span or "", None)
        facts = _dict(event.data)
        if isinstance(facts.get("exit_code"), int):
            span.set_attribute("agentic.tool.exit_code", facts["exit_code"])
        if event.is_error:
            refused = facts.get("refused")
            if refused in ("invalid-arguments", "unknown-tool"):
                kind = str(refused).replace("-", "_")
            elif refused:
                kind = "refused"
            elif facts.get("timed_out"):
                kind = "timeout"
            elif isinstance(facts.get("exit_code"), int):
                kind = "command_failed"
            else:
                kind = "tool_error"
            self._error(span, kind, f"refused by {refused}" if kind == "refused" else kind)
        elif self.capture and event.content is not None:
            span.set_attribute("gen_ai.tool.call.result", str(event.content))
        self._end(span, head.ts)

    def _gate_span(self, head: Envelope) -> Span:
        if self._gate is None:
            self._ensure_root(head)
            self._gate = self._start("gate", head.ts, self._span_attrs(head))
        return self._gate

    def _gate_verdict(self, head: Envelope, event: GateVerdict) -> None:
        span, self._gate = self._gate_span(head), None
        checks = [c for c in event.checks or [] if isinstance(c, dict)]
        failed = [str(c.get("id")) for c in checks if not c.get("passed")]
        span.set_attributes({"agentic.gate.passed": bool(event.passed),
                             "agentic.gate.checks": [str(c.get("id")) for c in checks],
                             "agentic.gate.failed": failed})  # fmt: skip
        if not event.passed:
            self._error(span, "gate_failed", "failed: " + ", ".join(failed))
        self._end(span, head.ts)

    def _run_end(self, head: Envelope, event: RunEnd) -> None:
        self._ensure_root(head)
        assert self._root is not None
        status = str(event.status or "")
        budget = _dict(event.budget)
        self._root.set_attributes(clean_attrs({
            "agentic.run.status": status, "agentic.commit": event.commit,
            "agentic.run.steps": budget.get("steps"), "agentic.run.tool_calls": budget.get("tool_calls"),
            "agentic.run.gate_failures": budget.get("gate_failures"), "agentic.run.elapsed_s": budget.get("elapsed_s"),
        }))  # fmt: skip
        self._end_root(head.ts, status, str(event.reason or status))
        self._flush()
