"""Where traces go: the exporters the standard OpenTelemetry environment asks for, a tracer provider
for them, and the guards that keep exporting from ever reaching the run (errors said once on stderr,
flushes bounded in time). OpenTelemetry is imported only inside these functions."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from agentic import __version__

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
ENDPOINT_ENVS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
PROTOCOL_ENVS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
KNOWN_EXPORTERS = ("otlp", "console")
FLUSH_TIMEOUT_S = 3.0  # at run.end and close(): how long the run may wait for its spans to leave
AGENT_NAME = "agentic"


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


def note(message: str) -> None:
    with contextlib.suppress(Exception):  # stderr gone: nothing else to tell
        print(f"agentic: {message}", file=sys.stderr, flush=True)


def quiet_sdk_logs() -> None:
    """The SDK logs every failed export attempt; agentic says it once (`_Guarded`) unless the
    person configured the `opentelemetry` logger themselves."""
    import logging

    otel_log = logging.getLogger("opentelemetry")
    if otel_log.level == logging.NOTSET and not otel_log.handlers:
        otel_log.setLevel(logging.CRITICAL)


def exporter(name: str, environ: Mapping[str, str]) -> tuple[Any, bool]:
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


def provider(exporters: list[tuple[Any, bool]]) -> TracerProvider:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create(
        {"service.version": __version__}
    )  # + OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": AGENT_NAME}))
    made = TracerProvider(resource=resource, shutdown_on_exit=False)  # close() shuts down, bounded
    for inner, batched in exporters:
        guarded = cast("SpanExporter", _Guarded(inner))  # the exporter's interface, without subclassing it
        made.add_span_processor(BatchSpanProcessor(guarded) if batched else SimpleSpanProcessor(guarded))
    return made


class _Guarded:
    """A span exporter that never raises, and says once on stderr that exporting failed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failed = False

    def _failure(self, why: str) -> None:
        if not self.failed:
            self.failed = True
            note(f"could not export traces ({why}); the run goes on, further export errors are not shown")

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


def bounded(call: Callable[[], Any], timeout_s: float = FLUSH_TIMEOUT_S) -> threading.Thread:
    """Call, but wait at most timeout_s (the thread is returned): the SDK's flush ignores its
    timeout, and an unreachable collector would hold the run's end for the exporter's retry time."""

    def run() -> None:
        with contextlib.suppress(Exception):
            call()

    worker = threading.Thread(target=run, name="agentic-traces", daemon=True)
    worker.start()
    worker.join(timeout_s)
    return worker
