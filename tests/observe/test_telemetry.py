"""Traces: the journal of real runs, replayed into the trace listener, read back from an in-memory exporter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from agentic.journal.records import payload, read_records
from agentic.observe import telemetry
from agentic.observe.telemetry import TraceListener
from tests.conftest import FINISH, FIX, cli, make_repo, summary_of, write_script

Records = list[tuple[dict[str, Any], dict[str, Any]]]
CANARY = "canary-0123456789abcdef"  # the value of SECRET_TOKEN in the test repository's .env
CONTENT_KEYS = {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
                "gen_ai.tool.definitions", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result",
                "agentic.task", "agentic.policy.action"}  # fmt: skip
TURNS = [
    {"text": f"the token is {CANARY}", "tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}],
     "usage": {"input_tokens": 100, "output_tokens": 10, "cached_input_tokens": 40}},
    {"tool_calls": [{"name": "read_file", "arguments": {"path": ".env"}}]},  # refused by the contract
    {"tool_calls": [{"name": "run_command", "arguments": {"command": f"echo {CANARY}"}}]},
    {"tool_calls": [FINISH]},  # the gate fails: the bug is still there
    {"tool_calls": [FIX]},
    {"tool_calls": [FINISH]},
]  # fmt: skip


def journal_of(tmp: Path, turns: list[dict[str, Any]]) -> Records:
    repo = make_repo(tmp / "repo")
    script = write_script(tmp / "turns.yaml", turns)
    done = cli("run", "fix the average", "--model", f"script:{script}", "--json", cwd=repo)
    path = Path(json.loads(done.stdout.strip().splitlines()[-1])["journal"])
    return [(r, payload(r, path.parent)) for r in read_records(path)]


@pytest.fixture(scope="module")
def accepted(tmp_path_factory: pytest.TempPathFactory) -> Records:
    return journal_of(tmp_path_factory.mktemp("accepted"), TURNS)


@pytest.fixture(scope="module")
def failed(tmp_path_factory: pytest.TempPathFactory) -> Records:
    """A run whose second model call fails (the script has one turn): it ends while that call is open."""
    return journal_of(tmp_path_factory.mktemp("failed"), [{"text": "no idea"}])


def replay(records: Records, **options: Any) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    listener = TraceListener(span_exporter=exporter, **options)
    for record, data in records:
        listener(record, data)
    listener.close()
    return list(exporter.get_finished_spans())


def named(spans: list[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    return sorted((s for s in spans if s.name.startswith(prefix)), key=lambda s: s.start_time or 0)


def of_kind(records: Records, kind: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(r, d) for r, d in records if r["kind"] == kind]


def ns(record: dict[str, Any]) -> int:
    return round(record["ts"] * 1e9)


def test_one_trace_an_agent_span_with_chat_tool_and_gate_children(accepted: Records) -> None:
    spans = replay(accepted, capture_content=False)
    (root,) = named(spans, "invoke_agent")
    assert root.name == "invoke_agent agentic" and root.parent is None and root.kind == SpanKind.INTERNAL
    children = [s for s in spans if s is not root]
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    assert all(s.parent is not None and s.parent.span_id == root.context.span_id for s in children)
    chats = named(spans, "chat ")
    assert len(chats) == len(of_kind(accepted, "model.response")) == len(TURNS)
    script = of_kind(accepted, "run.start")[0][1]["model"].partition(":")[2]
    assert {s.name for s in chats} == {f"chat {script}"}
    tools = named(spans, "execute_tool ")
    assert [s.name.split()[1] for s in tools] == [
        "read_file",
        "read_file",
        "run_command",
        "finish",
        "edit_file",
        "finish",
    ]
    assert len(named(spans, "gate")) == 2
    assert not [s for s in children if s.end_time is None or s.end_time > (root.end_time or 0)]


def test_attributes_follow_the_genai_conventions(accepted: Records) -> None:
    spans = replay(accepted, capture_content=False)
    start = of_kind(accepted, "run.start")[0]
    run_id, model_id = start[0]["run"], start[1]["model"].partition(":")[2]
    (root,) = named(spans, "invoke_agent")
    attrs = root.attributes or {}
    assert attrs["gen_ai.operation.name"] == "invoke_agent" and attrs["gen_ai.agent.name"] == "agentic"
    assert attrs["gen_ai.conversation.id"] == run_id and attrs["gen_ai.provider.name"] == "agentic.script"
    assert attrs["agentic.run.status"] == "accepted" and attrs["agentic.commit"]
    assert attrs["agentic.contract.hash"] == start[1]["contract"]["hash"]
    assert root.status.status_code != StatusCode.ERROR
    for span in spans:
        assert (span.attributes or {})["gen_ai.conversation.id"] == run_id
    first = named(spans, "chat ")[0].attributes or {}
    assert first["gen_ai.operation.name"] == "chat" and first["gen_ai.request.model"] == model_id
    assert first["gen_ai.response.model"] == f"script:{model_id}"
    assert first["gen_ai.response.finish_reasons"] == ("tool_call",)
    assert (first["gen_ai.usage.input_tokens"], first["gen_ai.usage.output_tokens"],
            first["gen_ai.usage.cache_read.input_tokens"]) == (100, 10, 40)  # fmt: skip
    # usage: per call as journaled, summed on the agent span, equal to the run's budget
    responses = [d["usage"] for _, d in of_kind(accepted, "model.response")]
    assert [(s.attributes or {})["gen_ai.usage.input_tokens"] for s in named(spans, "chat ")] == \
        [u["input_tokens"] for u in responses]  # fmt: skip
    budget = of_kind(accepted, "run.end")[0][1]["budget"]["usage"]
    assert (
        attrs["gen_ai.usage.input_tokens"]
        == budget["input_tokens"]
        == sum(u["input_tokens"] for u in responses)
    )
    assert attrs["gen_ai.usage.output_tokens"] == budget["output_tokens"]
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == budget["cached_input_tokens"] == 40
    read, refused, command = named(spans, "execute_tool ")[:3]
    calls = of_kind(accepted, "tool.call")
    assert (read.attributes or {})["gen_ai.operation.name"] == "execute_tool"
    assert (read.attributes or {})["gen_ai.tool.name"] == "read_file"
    assert (read.attributes or {})["gen_ai.tool.call.id"] == calls[0][1]["id"]
    assert (read.attributes or {})["agentic.policy.verdict"] == "allow"
    assert read.status.status_code == StatusCode.UNSET
    assert (
        refused.status.status_code == StatusCode.ERROR
        and (refused.attributes or {})["error.type"] == "refused"
    )
    assert (refused.attributes or {})["agentic.policy.verdict"] == "deny"
    assert (refused.attributes or {})["agentic.policy.rule"] == "tools.read_file.deny[0] '.env*'"
    assert (command.attributes or {})["agentic.tool.exit_code"] == 0


def test_a_failed_gate_a_failed_run_and_its_open_model_call_are_errors(
    accepted: Records, failed: Records
) -> None:
    no, yes = named(replay(accepted, capture_content=False), "gate")
    assert no.status.status_code == StatusCode.ERROR and (no.attributes or {})["agentic.gate.passed"] is False
    assert (no.attributes or {})["error.type"] == "gate_failed" and "tests-pass" in (
        (no.attributes or {})["agentic.gate.failed"] or ()
    )
    assert (
        yes.status.status_code == StatusCode.UNSET and (yes.attributes or {})["agentic.gate.passed"] is True
    )
    spans = replay(failed, capture_content=False)
    (root,) = named(spans, "invoke_agent")
    end = of_kind(failed, "run.end")[0]
    reason = end[1]["reason"]
    assert reason.startswith("provider error:") and "no turn left" in reason
    assert root.status.status_code == StatusCode.ERROR and root.status.description == reason
    assert (root.attributes or {})["error.type"] == "failed" and (root.attributes or {})[
        "agentic.run.status"
    ] == "failed"
    answered, cut = named(spans, "chat ")
    assert answered.status.status_code == StatusCode.UNSET and not named(spans, "execute_tool")
    assert cut.status.status_code == StatusCode.ERROR and cut.status.description == reason
    assert (cut.attributes or {})["error.type"] == "failed" and "gen_ai.usage.input_tokens" not in (
        cut.attributes or {}
    )
    assert cut.end_time == root.end_time == ns(end[0])


def test_spans_have_the_journal_timings(accepted: Records) -> None:
    spans = replay(accepted, capture_content=False)
    (root,) = named(spans, "invoke_agent")
    assert (root.start_time, root.end_time) == (ns(accepted[0][0]), ns(accepted[-1][0]))
    requests, responses = of_kind(accepted, "model.request"), of_kind(accepted, "model.response")
    for span, (request, _), (response, _) in zip(named(spans, "chat "), requests, responses, strict=True):
        assert (span.start_time, span.end_time) == (ns(request), ns(response))
    calls, results = of_kind(accepted, "tool.call"), of_kind(accepted, "tool.result")
    for span, (call, _), (result, _) in zip(named(spans, "execute_tool "), calls, results, strict=True):
        assert (span.start_time, span.end_time) == (ns(call), ns(result))
    command = named(spans, "execute_tool run_command")[0]
    assert (command.end_time or 0) - (command.start_time or 0) > 1_000_000  # a sandboxed command takes > 1 ms
    verdict = of_kind(accepted, "gate.verdict")[-1][0]
    assert named(spans, "gate")[-1].end_time == ns(verdict)


def values(spans: list[ReadableSpan]) -> str:
    return json.dumps([{k: str(v) for k, v in (s.attributes or {}).items()} for s in spans])


def test_no_content_by_default(accepted: Records, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(telemetry.CAPTURE_ENV, raising=False)
    spans = replay(accepted)
    assert not [k for s in spans for k in (s.attributes or {}) if k in CONTENT_KEYS]
    text = values(spans)
    for content in ("fix the average", "def average", "REDACTED", "calc.py", "software engineer"):
        assert content not in text, content


def test_content_when_enabled_is_the_redacted_journal(
    accepted: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(telemetry.CAPTURE_ENV, "true")
    spans = replay(accepted)
    assert CANARY not in values(spans)
    (root,) = named(spans, "invoke_agent")
    assert (root.attributes or {})["agentic.task"] == "fix the average"
    assert "read_file" in [
        t["name"] for t in json.loads(str((root.attributes or {})["gen_ai.tool.definitions"]))
    ]
    chats = named(spans, "chat ")
    first_out = json.loads(str((chats[0].attributes or {})["gen_ai.output.messages"]))
    assert first_out[0]["role"] == "assistant" and first_out[0]["finish_reason"] == "tool_call"
    assert first_out[0]["parts"][0] == {"type": "text", "content": "the token is [REDACTED:SECRET_TOKEN]"}
    assert first_out[0]["parts"][1]["type"] == "tool_call" and first_out[0]["parts"][1]["arguments"] == {
        "path": "calc.py"
    }
    system = json.loads(str((chats[0].attributes or {})["gen_ai.system_instructions"]))
    assert system[0]["type"] == "text" and "software engineer" in system[0]["content"]
    history = json.loads(str((chats[-1].attributes or {})["gen_ai.input.messages"]))  # the whole conversation
    assert history[0] == {"role": "user", "parts": [{"type": "text", "content": "Task:\nfix the average"}]}
    assert [m["role"] for m in history[1:3]] == ["assistant", "tool"]
    assert (
        history[2]["parts"][0]["type"] == "tool_call_response"
        and "def average" in history[2]["parts"][0]["response"]
    )
    assert len(history) == 1 + 2 * (len(TURNS) - 1)
    read, refused, command = named(spans, "execute_tool ")[:3]
    assert (read.attributes or {})["gen_ai.tool.call.arguments"] == '{"path": "calc.py"}'
    assert "def average" in str((read.attributes or {})["gen_ai.tool.call.result"])
    assert "gen_ai.tool.call.result" not in (refused.attributes or {})  # only successful results
    assert (command.attributes or {})[
        "gen_ai.tool.call.arguments"
    ] == '{"command": "echo [REDACTED:SECRET_TOKEN]"}'
    assert "[REDACTED:SECRET_TOKEN]" in str((command.attributes or {})["gen_ai.tool.call.result"])


def resumed(accepted: Records, interrupted: bool) -> tuple[Records, dict[str, Any]]:
    """The run cut after its command was announced (a crash, or Ctrl-C with run.end), then resumed."""
    cut = next(
        n for n, (r, d) in enumerate(accepted) if r["kind"] == "tool.call" and d["tool"] == "run_command"
    )
    before, after = accepted[: cut + 2], accepted[cut + 2 :]  # tool.call and policy.decision, not the result
    last = before[-1][0]
    stop = [({**last, "kind": "run.end", "ts": last["ts"] + 0.001},
             {"status": "interrupted", "reason": "interrupted by the person (Ctrl-C)"})] if interrupted else []  # fmt: skip
    resume = ({**last, "kind": "run.resume", "ts": last["ts"] + 0.002},
              {"after_status": "interrupted" if interrupted else "running", "harness": {"version": "0.1.0"}})  # fmt: skip
    unknown = ({**last, "kind": "something.new", "ts": last["ts"] + 0.003}, {"x": 1})
    return [*before, *stop, resume, unknown, *after], last


@pytest.mark.parametrize("interrupted", [False, True], ids=["crashed", "interrupted"])
def test_a_resumed_run_is_a_second_agent_span_of_the_same_conversation(
    accepted: Records, interrupted: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    records, last = resumed(accepted, interrupted)
    spans = replay(records, capture_content=False)
    first, second = named(spans, "invoke_agent")
    run_id = accepted[0][0]["run"]
    assert {(s.attributes or {})["gen_ai.conversation.id"] for s in (first, second)} == {run_id}
    assert first.context.trace_id != second.context.trace_id and second.parent is None
    assert first.status.status_code == StatusCode.ERROR
    assert (first.attributes or {})["error.type"] == ("interrupted" if interrupted else "_OTHER")
    assert first.end_time == ns({"ts": last["ts"] + 0.001} if interrupted else last)
    assert (second.attributes or {})["agentic.run.resumed"] is True
    assert (second.attributes or {})["gen_ai.provider.name"] == "agentic.script"
    assert second.status.status_code != StatusCode.ERROR
    # the command announced before the stop: cut short in the first, finished in the second
    commands = named(spans, "execute_tool run_command")
    assert [c.parent.span_id for c in commands if c.parent] == [first.context.span_id, second.context.span_id]
    assert (
        commands[0].status.status_code == StatusCode.ERROR
        and commands[1].status.status_code == StatusCode.UNSET
    )
    assert [c.name for c in named(spans, "chat ") if c.parent and c.parent.span_id == second.context.span_id]
    assert capsys.readouterr().err == ""  # the unknown kind was ignored without complaint


def test_provider_endpoint_and_recorded_turns(accepted: Records) -> None:
    """An OpenAI-compatible local server (model ids may hold colons), and a turn fed from another run's
    journal (fork, replay): no tokens were spent on it."""
    records: Records = []
    for record, data in accepted:
        if record["kind"] == "run.start":
            data = {**data, "model": "openai:qwen2.5-coder:14b",
                    "settings": {**data["settings"], "base_url": "http://localhost:11434/v1"}}  # fmt: skip
        elif record["kind"] == "model.request":
            data = {**data, "model": "openai:qwen2.5-coder:14b"}
        elif record["kind"] == "model.response" and record["step"] == 1:
            data = {**data, "recorded": "20261124-000000-abcdef"}
        records.append((record, data))
    spans = replay(records, capture_content=False)
    (root,) = named(spans, "invoke_agent")
    chats = named(spans, "chat ")
    for span in (root, *chats):
        attrs = span.attributes or {}
        assert (attrs["gen_ai.provider.name"], attrs["gen_ai.request.model"]) == ("openai", "qwen2.5-coder:14b")
        assert (attrs["server.address"], attrs["server.port"]) == ("localhost", 11434)
    assert {s.name for s in chats} == {"chat qwen2.5-coder:14b"} and chats[0].kind == SpanKind.CLIENT
    first = chats[0].attributes or {}
    assert first["agentic.model.recorded_from"] == "20261124-000000-abcdef" and "gen_ai.usage.input_tokens" not in first
    spent = sum(d["usage"]["input_tokens"] for r, d in of_kind(accepted, "model.response") if r["step"] != 1)
    assert (root.attributes or {})["gen_ai.usage.input_tokens"] == spent


def test_listener_only_when_the_environment_asks_for_it() -> None:
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    assert telemetry.listener({}) is None
    assert telemetry.listener({"OTEL_SERVICE_NAME": "x", telemetry.CAPTURE_ENV: "true"}) is None
    assert telemetry.listener({**endpoint, "OTEL_SDK_DISABLED": "true"}) is None
    assert telemetry.listener({**endpoint, "OTEL_TRACES_EXPORTER": "none"}) is None
    assert telemetry.wanted_exporters({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://h:4318/v1/traces"}) == [
        "otlp"
    ]
    assert telemetry.wanted_exporters({"OTEL_TRACES_EXPORTER": "console,otlp,zipkin"}) == ["console", "otlp"]
    assert telemetry.wanted_exporters({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "TRUE"}) == []
    for env in (endpoint, {"OTEL_TRACES_EXPORTER": "otlp"}, {"OTEL_TRACES_EXPORTER": "console"}):
        listener = telemetry.listener(env)
        assert isinstance(listener, TraceListener) and listener.owns_provider and not listener.capture
        listener.close()
    listener = telemetry.listener({**endpoint, telemetry.CAPTURE_ENV: "True"})
    assert listener is not None and listener.capture
    listener.close()


def test_without_the_extra_the_run_is_not_traced(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    assert telemetry.listener({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}) is None
    assert "pip install 'agentic[otel]'" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.grpc.trace_exporter", None)
    assert telemetry.listener({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}) is None
    assert "opentelemetry-exporter-otlp-proto-grpc" in capsys.readouterr().err


def test_console_traces_go_to_stderr(accepted: Records, capsys: pytest.CaptureFixture[str]) -> None:
    listener = telemetry.listener({"OTEL_TRACES_EXPORTER": "console"})
    assert listener is not None
    for record, data in accepted:
        listener(record, data)
    listener.close()
    out, err = capsys.readouterr()
    assert out == "" and '"name": "invoke_agent agentic"' in err and '"service.name": "agentic"' in err


class Failing(InMemorySpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        raise ConnectionError("collector down")


def test_a_failing_exporter_or_a_bad_record_never_reaches_the_run(
    accepted: Records, capsys: pytest.CaptureFixture[str]
) -> None:
    listener = TraceListener(span_exporter=Failing(), capture_content=True)
    for record, data in accepted:
        listener(record, data)
    listener({"kind": "model.request"}, {})  # no timestamp, no run
    listener({"kind": "tool.result", "ts": "soon"}, {"data": None})
    listener.close()
    listener(*accepted[0])  # after close: ignored
    err = capsys.readouterr().err
    assert err.count("could not export traces (ConnectionError: collector down)") == 1
    assert err.count("could not be traced") == 1 and len(err.strip().splitlines()) == 2


def test_a_given_provider_is_flushed_not_shut_down(accepted: Records) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    listener = TraceListener(provider, capture_content=False)
    for record, data in accepted[:3]:
        listener(record, data)
    listener.close()  # a run cut short: what is open is ended as an error
    (root,) = named(list(exporter.get_finished_spans()), "invoke_agent")
    assert root.status.status_code == StatusCode.ERROR
    provider.get_tracer("t").start_span("after").end()  # still usable
    assert exporter.get_finished_spans()[-1].name == "after"


def test_chain_and_with_traces() -> None:
    seen: list[str] = []
    first = lambda r, d: seen.append("a")  # noqa: E731
    assert telemetry.with_traces(first, {}) is first
    assert telemetry.chain(None, None) is None
    both = telemetry.chain(first, None, lambda r, d: seen.append("b"))
    assert both is not None
    both({}, {})
    assert seen == ["a", "b"]


def test_importing_agentic_does_not_import_opentelemetry() -> None:
    code = ("import sys, agentic.cli.main, agentic.cli.running, agentic.run.runner, agentic.observe.telemetry, agentic.observe.progress; "
            "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_run_through_the_cli_exports_its_spans(tmp_path: Path) -> None:
    """`agentic run` with the console exporter: spans on stderr, the JSON summary alone on stdout."""
    repo = make_repo(tmp_path / "repo")
    script = write_script(tmp_path / "t.yaml", [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    done = cli("run", "fix", "--model", f"script:{script}", "--json", cwd=repo,
               env={"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "false"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = summary_of(done)  # nothing but JSON events on stdout
    names = [line.split('"name": ')[1].strip().strip('",') for line in done.stderr.splitlines() if '"name": ' in line]
    assert "invoke_agent agentic" in names and f"chat {script}" in names
    assert "execute_tool edit_file" in names and "execute_tool finish" in names
    assert summary["run_id"] in done.stderr  # gen_ai.conversation.id


def test_an_mcp_call_s_span_names_its_server_and_tool(accepted: Records) -> None:
    """The accepted run's first tool call, recorded as an MCP server's: its span says which server."""
    records: Records = []
    for record, data in accepted:
        if record["kind"] in ("tool.call", "tool.result") and data.get("tool") == "read_file":
            data = {**data, "tool": "mcp__tracker__find_issue"}
        records.append((record, data))
    spans = replay(records)
    mcp = [s for s in named(spans, "execute_tool ") if s.name == "execute_tool mcp__tracker__find_issue"]
    assert mcp and (mcp[0].attributes or {})["agentic.mcp.server"] == "tracker"
    assert (mcp[0].attributes or {})["agentic.mcp.tool"] == "find_issue"
    assert all("agentic.mcp.server" not in (s.attributes or {}) for s in named(spans, "execute_tool ") if s not in mcp)
