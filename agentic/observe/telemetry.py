"""OpenTelemetry traces of a run, made from its journal records (GenAI semantic conventions).

A journal listener: the journal calls it with (record, data) after every append, and it turns the
records into spans with the records' own timestamps:

    invoke_agent agentic          run.start | run.resume ▸ run.end     (one per harness session)
    ├── chat {model}              model.request ▸ model.response
    ├── execute_tool {tool}       tool.call ▸ policy.decision ▸ tool.result   (one journal span)
    └── gate                      checkpoint ▸ gate.baseline ▸ gate.verdict

`gen_ai.conversation.id` is the run id, so the parts of a resumed run (separate traces, one per
harness session) belong together. Messages, tool arguments and results are exported only when
OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true, and then only as journaled (redacted).

Tracing is on only when the `otel` extra is installed and the standard OTel environment asks for it
(see `wanted_exporters`). OpenTelemetry is imported only then, never when this module is imported.
Nothing here raises into the run: errors are swallowed and reported once on stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from agentic import __version__

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, TracerProvider

Listener = Callable[[dict[str, Any], dict[str, Any]], None]

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
ENDPOINT_ENVS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
PROTOCOL_ENVS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
KNOWN_EXPORTERS = ("otlp", "console")
FLUSH_TIMEOUT_S = 3.0  # at run.end and close(): how long the run may wait for its spans to leave
AGENT_NAME = "agentic"
# model-name prefix -> gen_ai.provider.name (well-known values where they apply)
PROVIDER_NAMES = {"openai": "openai", "openai-responses": "openai", "anthropic": "anthropic",
                  "script": "agentic.script"}  # fmt: skip
# the journal's normalised stop reasons -> the conventions' finish reasons
FINISH_REASONS = {"end": "stop", "tool_calls": "tool_call", "max_tokens": "length"}


def wanted_exporters(environ: Mapping[str, str]) -> list[str]:
    """Which exporters the standard OTel environment asks for; [] means no tracing.

    OTEL_SDK_DISABLED=true: none. OTEL_TRACES_EXPORTER (comma-separated; otlp, console, none)
    decides when set. Otherwise an OTLP endpoint (OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT) means otlp.
    """
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    named = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if named:
        return [n for n in dict.fromkeys(p.strip() for p in named.split(",")) if n in KNOWN_EXPORTERS]
    return ["otlp"] if any(environ.get(name, "").strip() for name in ENDPOINT_ENVS) else []


def content_capture_enabled(environ: Mapping[str, str]) -> bool:
    return environ.get(CAPTURE_ENV, "").strip().lower() in ("true", "span_only", "span_and_event")


def listener(environ: Mapping[str, str] | None = None) -> TraceListener | None:
    """A trace listener exporting where the environment says, or None when tracing is not asked
    for or cannot work here (the extra is missing, a protocol it has no exporter for)."""
    env = os.environ if environ is None else environ
    names = wanted_exporters(env)
    if not names:
        return None
    _quiet_sdk_logs()
    try:
        exporters = [_exporter(name, env) for name in names]
        provider = _provider(exporters)
    except ImportError as exc:
        missing = exc.name or "OpenTelemetry"
        fix = ("pip install opentelemetry-exporter-otlp-proto-grpc, or set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"
               if "grpc" in missing else "pip install 'agentic[otel]'")  # fmt: skip
        _note(f"tracing is configured in the environment but {missing} cannot be imported ({fix}); "
              "the run is not traced")  # fmt: skip
        return None
    except Exception as exc:  # a bad setting must not stop the run
        _note(f"tracing is off: {type(exc).__name__}: {exc}")
        return None
    return TraceListener(provider, capture_content=content_capture_enabled(env), owns_provider=True)


def chain(*listeners: Listener | None) -> Listener | None:
    """One listener calling each given one in turn (None ones left out)."""
    present = [f for f in listeners if f is not None]
    if len(present) <= 1:
        return present[0] if present else None

    def both(record: dict[str, Any], data: dict[str, Any]) -> None:
        for f in present:
            f(record, data)

    return both


def with_traces(on_record: Listener | None, environ: Mapping[str, str] | None = None) -> Listener | None:
    """`on_record`, plus a trace listener when tracing is configured. The listener flushes its spans
    at every run.end (waiting FLUSH_TIMEOUT_S at most), so nothing needs closing after a run."""
    return chain(on_record, listener(environ))


def _note(message: str) -> None:
    with contextlib.suppress(Exception):  # stderr gone: nothing else to tell
        print(f"agentic: {message}", file=sys.stderr, flush=True)


def _quiet_sdk_logs() -> None:
    """The SDK logs every failed export attempt; agentic says it once (`_Guarded`) unless the
    person configured the `opentelemetry` logger themselves."""
    import logging

    otel_log = logging.getLogger("opentelemetry")
    if otel_log.level == logging.NOTSET and not otel_log.handlers:
        otel_log.setLevel(logging.CRITICAL)


def _exporter(name: str, environ: Mapping[str, str]) -> tuple[Any, bool]:
    """(exporter, batched). OTLP exporters read their endpoint, headers, timeout, TLS and compression
    from the process environment themselves."""
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=sys.stderr), False  # stdout stays the run's (--json)
    protocol = next((environ[n].strip().lower() for n in PROTOCOL_ENVS if environ.get(n, "").strip()), "")
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter(), True
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(), True


def _provider(exporters: list[tuple[Any, bool]]) -> TracerProvider:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create(
        {"service.version": __version__}
    )  # + OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": AGENT_NAME}))
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)  # close() shuts down, bounded
    for exporter, batched in exporters:
        guarded = _Guarded(exporter)
        provider.add_span_processor(BatchSpanProcessor(guarded) if batched else SimpleSpanProcessor(guarded))
    return provider


class _Guarded:
    """A span exporter that never raises, and says once on stderr that exporting failed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failed = False

    def _failure(self, why: str) -> None:
        if not self.failed:
            self.failed = True
            _note(f"could not export traces ({why}); the run goes on, further export errors are not shown")

    def export(self, spans: Any) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        try:
            result = self.inner.export(spans)
        except Exception as exc:
            self._failure(f"{type(exc).__name__}: {exc}")
            return SpanExportResult.FAILURE
        if result != SpanExportResult.SUCCESS:
            self._failure(f"{type(self.inner).__name__} reported a failure")
        return result

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        try:
            return bool(self.inner.force_flush(timeout_millis))
        except Exception:
            return False

    def shutdown(self) -> None:
        try:
            self.inner.shutdown()
        except Exception as exc:
            self._failure(f"{type(exc).__name__}: {exc}")


def _bounded(call: Callable[[], Any], timeout_s: float = FLUSH_TIMEOUT_S) -> threading.Thread:
    """Call, but wait at most timeout_s (the thread is returned): the SDK's flush ignores its
    timeout, and an unreachable collector would hold the run's end for the exporter's retry time."""

    def run() -> None:
        with contextlib.suppress(Exception):
            call()

    worker = threading.Thread(target=run, name="agentic-traces", daemon=True)
    worker.start()
    worker.join(timeout_s)
    return worker


def _ns(ts: Any) -> int:
    return round(float(ts) * 1_000_000_000)


def _clean(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if v is not None and v != ""}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def model_attributes(model: str) -> dict[str, Any]:
    """gen_ai.provider.name and gen_ai.request.model from a model name like `openai:gpt-4.1`."""
    prefix, sep, model_id = model.partition(":")
    if not sep:
        return _clean({"gen_ai.provider.name": "_OTHER", "gen_ai.request.model": model})
    return _clean(
        {"gen_ai.provider.name": PROVIDER_NAMES.get(prefix, prefix), "gen_ai.request.model": model_id}
    )


def _server(base_url: Any) -> dict[str, Any]:
    if not isinstance(base_url, str) or not base_url:
        return {}
    try:
        parts = urlsplit(base_url if "//" in base_url else f"//{base_url}")
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    except ValueError:
        return {}
    return _clean({"server.address": parts.hostname, "server.port": port}) if parts.hostname else {}


def _arguments(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return raw


def _finish_reason(stop_reason: Any) -> str:
    reason = str(stop_reason or "")
    return FINISH_REASONS.get(reason, reason or "stop")


def conversation_parts(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The journal's neutral messages as (system instructions, input messages) in the conventions'
    JSON shapes (parts of type text, tool_call, tool_call_response)."""
    system: list[dict[str, Any]] = []
    chat: list[dict[str, Any]] = []
    for m in messages:
        role, content = m.get("role"), m.get("content")
        if role == "system":
            system.append({"type": "text", "content": str(content or "")})
        elif role == "tool":
            chat.append({"role": "tool", "parts": [{"type": "tool_call_response", "id": m.get("tool_call_id"),
                                                    "response": content}]})  # fmt: skip
        else:
            parts: list[dict[str, Any]] = [{"type": "text", "content": content}] if content else []
            parts += [{"type": "tool_call", "id": c.get("id"), "name": c.get("name"),
                       "arguments": _arguments(c.get("arguments"))} for c in m.get("tool_calls") or []]  # fmt: skip
            chat.append({"role": role, "parts": parts})
    return system, chat


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
            tracer_provider = _provider([(span_exporter, False)])
            owns_provider = True if owns_provider is None else owns_provider
        self.provider = tracer_provider
        self.owns_provider = bool(owns_provider)
        self.capture = content_capture_enabled(os.environ) if capture_content is None else capture_content
        self._trace, self._context = otel_trace, otel_context
        self._tracer = tracer_provider.get_tracer("agentic", __version__)
        self._handlers: dict[str, Callable[[dict[str, Any], dict[str, Any]], None]] = {
            "run.start": self._run_start, "run.resume": self._run_resume, "model.request": self._model_request,
            "model.response": self._model_response, "tool.call": self._tool_call,
            "policy.decision": self._policy_decision, "tool.result": self._tool_result,
            "checkpoint": self._checkpoint, "gate.baseline": self._gate_baseline,
            "gate.verdict": self._gate_verdict, "commit": self._commit, "run.end": self._run_end,
        }  # fmt: skip
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
            handler = self._handlers.get(str(record.get("kind")))
            if handler is not None:
                handler(record, data if isinstance(data, dict) else {})
            if record.get("ts") is not None:
                self._last_ts = float(record["ts"])
        except Exception as exc:  # never into the run
            if not self._failed:
                self._failed = True
                _note(f"a journal record could not be traced ({type(exc).__name__}: {exc}); the run goes on")

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
        _bounded(call, 0.0 if stuck else FLUSH_TIMEOUT_S)

    # -- spans -------------------------------------------------------------------------------

    def _start(
        self, name: str, ts: Any, attrs: dict[str, Any], kind: str = "INTERNAL", root: bool = False
    ) -> Span:
        parent = self._context.Context() if root else self._trace.set_span_in_context(self._root)
        return self._tracer.start_span(name, context=parent, kind=getattr(self._trace.SpanKind, kind),
                                       attributes=_clean(attrs), start_time=_ns(ts))  # fmt: skip

    def _error(self, span: Span, error_type: str, description: str = "") -> None:
        from opentelemetry.trace import Status, StatusCode

        span.set_attribute("error.type", error_type)
        span.set_status(Status(StatusCode.ERROR, description or error_type))

    def _end(self, span: Span, ts: Any) -> None:
        span.end(end_time=_ns(ts) if ts is not None else None)

    def _flush(self) -> None:
        self._flushing = _bounded(self.provider.force_flush)  # type: ignore[attr-defined]
        if self._flushing.is_alive() and not self._slow:
            self._slow = True
            _note(f"traces are still being exported after {FLUSH_TIMEOUT_S:g} s (is the collector reachable?); "
                  "the run does not wait for them")  # fmt: skip

    def _open_root(self, record: dict[str, Any], attrs: dict[str, Any]) -> Span:
        self._end_root(self._last_ts, None, "the harness stopped without ending the run")
        self._run = str(record.get("run") or self._run)
        self._usage = dict.fromkeys(self._usage, 0)
        base = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": AGENT_NAME,
                "gen_ai.conversation.id": self._run, **model_attributes(self._model), **self._server}  # fmt: skip
        self._root = self._start(f"invoke_agent {AGENT_NAME}", record["ts"], {**base, **attrs}, root=True)
        return self._root

    def _ensure_root(self, record: dict[str, Any]) -> None:
        if self._root is None:  # joined mid-run: a root for what follows
            self._open_root(record, {"agentic.run.partial": True})

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

    def _span_attrs(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"gen_ai.conversation.id": self._run, "agentic.step": record.get("step")}

    # -- records -----------------------------------------------------------------------------

    def _run_start(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        self._model = str(data.get("model") or "")
        settings = data.get("settings") if isinstance(data.get("settings"), dict) else {}
        self._server = _server(settings.get("base_url"))
        contract = data.get("contract") if isinstance(data.get("contract"), dict) else {}
        harness = data.get("harness") if isinstance(data.get("harness"), dict) else {}
        forked = data.get("forked_from") if isinstance(data.get("forked_from"), dict) else {}
        attrs: dict[str, Any] = {
            "gen_ai.agent.version": harness.get("version"),
            "agentic.contract.source": contract.get("source"), "agentic.contract.hash": contract.get("hash"),
            "agentic.run.base_commit": data.get("base_commit"), "agentic.run.branch": data.get("branch"),
            "agentic.sandbox": data.get("sandbox"), "agentic.run.forked_from": forked.get("run"),
        }  # fmt: skip
        if self.capture:
            tools = [{"type": "function", **t} for t in data.get("tools") or [] if isinstance(t, dict)]
            attrs.update({
                "agentic.task": data.get("task"),
                "gen_ai.system_instructions": _json([{"type": "text", "content": data.get("system_prompt") or ""}]),
                "gen_ai.tool.definitions": _json(tools),
            })  # fmt: skip
        self._messages = []
        self._open_root(record, attrs)

    def _run_resume(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        harness = data.get("harness") if isinstance(data.get("harness"), dict) else {}
        self._open_root(record, {
            "gen_ai.agent.version": harness.get("version"), "agentic.run.resumed": True,
            "agentic.run.resumed_after": data.get("after_status"), "agentic.sandbox": data.get("sandbox"),
        })  # fmt: skip

    def _model_request(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        self._ensure_root(record)
        if self._chat is not None:  # a request that never got its answer
            self._error(self._chat, "_OTHER", "no response was recorded")
            self._end(self._chat, record["ts"])
        model = str(data.get("model") or self._model)
        if not self._model and model and self._root is not None:  # a resumed session learns it here
            self._root.set_attributes(model_attributes(model))
        self._model = self._model or model
        attrs = {
            "gen_ai.operation.name": "chat",
            **model_attributes(model),
            **self._server,
            **self._span_attrs(record),
        }
        if self.capture:
            new = [m for m in data.get("messages") or [] if isinstance(m, dict)]
            start = data.get("from")
            keep = (
                start if isinstance(start, int) and 0 <= start <= len(self._messages) else len(self._messages)
            )
            self._messages = self._messages[:keep] + new
            system, chat = conversation_parts(self._messages)
            if system:
                attrs["gen_ai.system_instructions"] = _json(system)
            attrs["gen_ai.input.messages"] = _json(chat)
        kind = "INTERNAL" if model.startswith("script:") else "CLIENT"
        self._chat = self._start(
            f"chat {attrs.get('gen_ai.request.model') or model}", record["ts"], attrs, kind
        )

    def _model_response(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        self._ensure_root(record)
        span, self._chat = self._chat, None
        if span is None:  # answered from a recorded turn without a request in this journal
            model = self._model
            known = {"gen_ai.operation.name": "chat", **model_attributes(model), **self._span_attrs(record)}
            span = self._start(f"chat {known.get('gen_ai.request.model') or model}", record["ts"], known)
        finish = _finish_reason(data.get("stop_reason"))
        attrs: dict[str, Any] = {
            "gen_ai.response.model": data.get("model"),
            "gen_ai.response.finish_reasons": [finish],
        }
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        if data.get("recorded"):  # a turn fed from another run's journal: no tokens spent here
            attrs["agentic.model.recorded_from"] = str(data["recorded"])
        else:
            counts = {k: int(usage.get(k) or 0) for k in self._usage}
            for k, v in counts.items():
                self._usage[k] += v
            attrs.update({"gen_ai.usage.input_tokens": counts["input_tokens"],
                          "gen_ai.usage.output_tokens": counts["output_tokens"],
                          "gen_ai.usage.cache_read.input_tokens": counts["cached_input_tokens"]})  # fmt: skip
            if isinstance(data.get("cost_usd"), int | float):
                attrs["agentic.usage.cost_usd"] = float(data["cost_usd"])
        if self.capture:
            message = {
                "role": "assistant",
                "content": data.get("text") or "",
                "tool_calls": data.get("tool_calls") or [],
            }
            _, parts = conversation_parts([message])
            attrs["gen_ai.output.messages"] = _json([{**parts[0], "finish_reason": finish}])
        span.set_attributes(_clean(attrs))
        self._end(span, record["ts"])

    def _tool(self, record: dict[str, Any], data: dict[str, Any]) -> Span:
        key = str(record.get("span") or "")
        span = self._tools.get(key)
        if span is None:  # also: a call announced by a session that crashed, finished by this one
            self._ensure_root(record)
            tool = str(data.get("tool") or "")
            span = self._start(f"execute_tool {tool}".strip(), record["ts"], {
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool, "gen_ai.tool.type": "function",
                "gen_ai.tool.call.id": data.get("id"), **self._span_attrs(record),
            })  # fmt: skip
            self._tools[key] = span
        return span

    def _tool_call(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        span = self._tool(record, data)
        if self.capture and isinstance(data.get("arguments"), str):
            span.set_attribute("gen_ai.tool.call.arguments", data["arguments"])

    def _policy_decision(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        span = self._tool(record, data)
        span.set_attributes(_clean({"agentic.policy.verdict": data.get("verdict"), "agentic.policy.rule": data.get("rule"),
                                    "agentic.policy.decided_by": data.get("by")}))  # fmt: skip
        if self.capture and data.get("action"):
            span.set_attribute("agentic.policy.action", str(data["action"]))

    def _tool_result(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        span = self._tool(record, data)
        self._tools.pop(str(record.get("span") or ""), None)
        facts = data.get("data") if isinstance(data.get("data"), dict) else {}
        if isinstance(facts.get("exit_code"), int):
            span.set_attribute("agentic.tool.exit_code", facts["exit_code"])
        if data.get("is_error"):
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
        elif self.capture and data.get("content") is not None:
            span.set_attribute("gen_ai.tool.call.result", str(data["content"]))
        self._end(span, record["ts"])

    def _gate_span(self, record: dict[str, Any]) -> Span:
        if self._gate is None:
            self._ensure_root(record)
            self._gate = self._start("gate", record["ts"], self._span_attrs(record))
        return self._gate

    def _checkpoint(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        changes = data.get("changes")
        self._gate_span(record).set_attributes(_clean({
            "agentic.gate.tree": data.get("tree"),
            "agentic.gate.changed_files": len(changes) if isinstance(changes, list) else None,
        }))  # fmt: skip

    def _gate_baseline(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        if isinstance(data.get("collected"), int):
            self._gate_span(record).set_attribute("agentic.gate.baseline_tests", data["collected"])

    def _gate_verdict(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        span, self._gate = self._gate_span(record), None
        checks = [c for c in data.get("checks") or [] if isinstance(c, dict)]
        failed = [str(c.get("id")) for c in checks if not c.get("passed")]
        span.set_attributes({"agentic.gate.passed": bool(data.get("passed")),
                             "agentic.gate.checks": [str(c.get("id")) for c in checks],
                             "agentic.gate.failed": failed})  # fmt: skip
        if not data.get("passed"):
            self._error(span, "gate_failed", "failed: " + ", ".join(failed))
        self._end(span, record["ts"])

    def _commit(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        if self._root is not None and data.get("commit"):
            self._root.set_attribute("agentic.commit", str(data["commit"]))

    def _run_end(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        self._ensure_root(record)
        assert self._root is not None
        status = str(data.get("status") or "")
        budget = data.get("budget") if isinstance(data.get("budget"), dict) else {}
        self._root.set_attributes(_clean({
            "agentic.run.status": status, "agentic.commit": data.get("commit"),
            "agentic.run.steps": budget.get("steps"), "agentic.run.tool_calls": budget.get("tool_calls"),
            "agentic.run.gate_failures": budget.get("gate_failures"), "agentic.run.elapsed_s": budget.get("elapsed_s"),
        }))  # fmt: skip
        self._end_root(record["ts"], status, str(data.get("reason") or status))
        self._flush()
