"""OpenTelemetry traces of a run, made from its journal records (GenAI semantic conventions).

The public surface of tracing: `with_traces`, `listener`, `chain`, `TraceListener` (agentic.observe.traces),
the environment's choice of exporters (agentic.observe.exporting) and the conventions' shapes
(agentic.observe.genai).

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

import os
from collections.abc import Callable, Mapping
from typing import Any

from agentic.observe.exporting import CAPTURE_ENV as CAPTURE_ENV
from agentic.observe.exporting import FLUSH_TIMEOUT_S as FLUSH_TIMEOUT_S
from agentic.observe.exporting import content_capture_enabled as content_capture_enabled
from agentic.observe.exporting import exporter, note, provider, quiet_sdk_logs
from agentic.observe.exporting import wanted_exporters as wanted_exporters
from agentic.observe.genai import conversation_parts as conversation_parts
from agentic.observe.genai import model_attributes as model_attributes
from agentic.observe.traces import TraceListener as TraceListener

Listener = Callable[[dict[str, Any], dict[str, Any]], None]


def listener(environ: Mapping[str, str] | None = None) -> TraceListener | None:
    """A trace listener exporting where the environment says, or None when tracing is not asked
    for or cannot work here (the extra is missing, a protocol it has no exporter for)."""
    env = os.environ if environ is None else environ
    names = wanted_exporters(env)
    if not names:
        return None
    quiet_sdk_logs()
    try:
        exporters = [exporter(name, env) for name in names]
        made = provider(exporters)
    except ImportError as exc:
        missing = exc.name or "OpenTelemetry"
        fix = ("pip install opentelemetry-exporter-otlp-proto-grpc, or set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"
               if "grpc" in missing else "pip install 'agentic[otel]'")  # fmt: skip
        note(f"tracing is configured in the environment but {missing} cannot be imported ({fix}); "
             "the run is not traced")  # fmt: skip
        return None
    except Exception as exc:  # a bad setting must not stop the run
        note(f"tracing is off: {type(exc).__name__}: {exc}")
        return None
    return TraceListener(made, capture_content=content_capture_enabled(env), owns_provider=True)


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
