"""The vendor adapters against a local fake server, through the real openai and anthropic SDKs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentic.errors import MissingCredentials, ProviderError, ProviderRequestError
from agentic.models import Model, ModelOptions, ToolCall, ToolSpec, Turn, Usage, load_model
from tests.fakeprovider import SDK_WORKER, FakeProvider

pytestmark = SDK_WORKER  # the SDKs are imported in process here

ADAPTERS = ["openai", "openai-responses", "anthropic"]
KEY_ENV = {"openai": "OPENAI_API_KEY", "openai-responses": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
BASE_ENV = {
    "openai": "OPENAI_BASE_URL",
    "openai-responses": "OPENAI_BASE_URL",
    "anthropic": "ANTHROPIC_BASE_URL",
}
PATHS = {"openai": "/v1/chat/completions", "openai-responses": "/v1/responses", "anthropic": "/v1/messages"}

SYSTEM = "You are a careful engineer."
TOOLS = [
    ToolSpec("read_file", "Read a file.", {"type": "object", "properties": {"path": {"type": "string"}}}),
    ToolSpec("finish", "Stop.", {"type": "object", "properties": {"summary": {"type": "string"}}}),
]
CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "Fix the bug."},
    {
        "role": "assistant",
        "content": "Looking.",
        "tool_calls": [
            {"id": "c1", "name": "read_file", "arguments": '{"path": "calc.py"}'},
            {"id": "c2", "name": "read_file", "arguments": "{bad json"},
        ],
    },
    {"role": "tool", "tool_call_id": "c1", "name": "read_file", "content": "def f(): ...", "is_error": False},
    {"role": "tool", "tool_call_id": "c2", "name": "read_file", "content": "invalid JSON", "is_error": True},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "c3", "name": "finish", "arguments": "{}"}]},
    {"role": "tool", "tool_call_id": "c3", "name": "finish", "content": "done", "is_error": False},
]
USER_ONLY: list[dict[str, Any]] = [{"role": "user", "content": "hi"}]


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-openai")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    for name in (
        "OPENAI_BASE_URL",
        "ANTHROPIC_BASE_URL",
        "OPENAI_CUSTOM_HEADERS",
        "ANTHROPIC_CUSTOM_HEADERS",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def fp(server: FakeProvider) -> FakeProvider:
    server.reset()
    return server


def base_url(prefix: str, fp: FakeProvider) -> str:
    return fp.anthropic_base_url if prefix == "anthropic" else fp.openai_base_url


_models: dict[tuple[str, str, bool, tuple[tuple[str, Any], ...]], Model] = {}


def make(prefix: str, fp: FakeProvider, *, stream: bool = False, **options: Any) -> Model:
    """A model talking to `fp`. Adapters hold no conversation state, so one per configuration is reused:
    building an SDK client loads the CA bundle (~25 ms), which adds up over a hundred tests."""
    key = (prefix, base_url(prefix, fp), stream, tuple(sorted(options.items())))
    if key not in _models:
        opts = ModelOptions(base_url=key[1], stream=stream, timeout_s=10, **options)
        _models[key] = load_model(f"{prefix}:test-model", opts)
    return _models[key]


def body(fp: FakeProvider, index: int = -1) -> dict[str, Any]:
    recorded = fp.requests[index]
    assert isinstance(recorded.json, dict)
    return recorded.json


both = pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
every = pytest.mark.parametrize("prefix", ADAPTERS)


# --- requests -------------------------------------------------------------------------------------


@both
def test_openai_chat_request(fp: FakeProvider, stream: bool) -> None:
    fp.add_turns({"text": "ok"})
    make("openai", fp, stream=stream).complete(CONVERSATION, TOOLS)
    sent = body(fp)
    assert fp.last_request.path == "/v1/chat/completions"
    assert fp.last_request.headers["authorization"] == "Bearer sk-test-openai"
    assert sent["model"] == "test-model"
    assert sent["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Fix the bug."},
        {
            "role": "assistant",
            "content": "Looking.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": '{"path": "calc.py"}'},
                },
                {"id": "c2", "type": "function", "function": {"name": "read_file", "arguments": "{bad json"}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "def f(): ..."},
        {"role": "tool", "tool_call_id": "c2", "content": "invalid JSON"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c3", "type": "function", "function": {"name": "finish", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c3", "content": "done"},
    ]
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in TOOLS
    ]
    assert "strict" not in json.dumps(sent["tools"])
    # a base URL other than api.openai.com gets the older max_tokens
    assert sent["max_tokens"] == 4096
    assert "max_completion_tokens" not in sent
    assert "temperature" not in sent
    if stream:
        assert sent["stream"] is True
        assert sent["stream_options"] == {"include_usage": True}
    else:
        assert "stream" not in sent


@both
def test_openai_responses_request(fp: FakeProvider, stream: bool) -> None:
    fp.add_turns({"text": "ok"})
    make("openai-responses", fp, stream=stream).complete(CONVERSATION, TOOLS)
    sent = body(fp)
    assert fp.last_request.path == "/v1/responses"
    assert fp.last_request.headers["authorization"] == "Bearer sk-test-openai"
    assert sent["model"] == "test-model"
    assert sent["instructions"] == SYSTEM
    assert sent["store"] is False
    assert sent["max_output_tokens"] == 4096
    assert sent["input"] == [
        {"role": "user", "content": "Fix the bug."},
        {"role": "assistant", "content": "Looking."},
        {"type": "function_call", "call_id": "c1", "name": "read_file", "arguments": '{"path": "calc.py"}'},
        {"type": "function_call", "call_id": "c2", "name": "read_file", "arguments": "{bad json"},
        {"type": "function_call_output", "call_id": "c1", "output": "def f(): ..."},
        {"type": "function_call_output", "call_id": "c2", "output": "invalid JSON"},
        {"type": "function_call", "call_id": "c3", "name": "finish", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c3", "output": "done"},
    ]
    assert sent["tools"] == [
        {
            "type": "function",
            "name": t.name,
            "description": t.description,
            "parameters": t.parameters,
            "strict": False,
        }
        for t in TOOLS
    ]
    assert "temperature" not in sent
    assert sent.get("stream", False) is stream


@both
def test_anthropic_request(fp: FakeProvider, stream: bool) -> None:
    fp.add_turns({"text": "ok"})
    make("anthropic", fp, stream=stream).complete(CONVERSATION, TOOLS)
    sent = body(fp)
    assert fp.last_request.path == "/v1/messages"
    headers = fp.last_request.headers
    # anthropic SDK 2.x sends the key as a bearer token; older ones used x-api-key
    assert headers.get("authorization") == "Bearer sk-ant-test" or headers.get("x-api-key") == "sk-ant-test"
    assert "anthropic-version" in fp.last_request.headers
    assert sent["model"] == "test-model"
    # prompt caching: breakpoints on the tools, the system prompt and the conversation so far
    assert sent["system"] == [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]
    assert sent["max_tokens"] == 4096
    assert sent["messages"] == [
        {"role": "user", "content": "Fix the bug."},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Looking."},
                {"type": "tool_use", "id": "c1", "name": "read_file", "input": {"path": "calc.py"}},
                # not a JSON object: kept as text so the history stays valid
                {"type": "tool_use", "id": "c2", "name": "read_file", "input": {"_raw": "{bad json"}},
            ],
        },
        {
            "role": "user",  # consecutive tool results share one user message
            "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": "def f(): ...", "is_error": False},
                {"type": "tool_result", "tool_use_id": "c2", "content": "invalid JSON", "is_error": True},
            ],
        },
        {"role": "assistant", "content": [{"type": "tool_use", "id": "c3", "name": "finish", "input": {}}]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "c3", "content": "done", "is_error": False,
                         "cache_control": {"type": "ephemeral"}}],
        },
    ]
    tools = [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in TOOLS]
    tools[-1]["cache_control"] = {"type": "ephemeral"}
    assert sent["tools"] == tools
    assert "temperature" not in sent
    assert sent.get("stream", False) is stream


@every
def test_options_reach_the_request(fp: FakeProvider, prefix: str) -> None:
    fp.add_turns({"text": "ok"})
    make(prefix, fp, temperature=0.25, max_output_tokens=123).complete(USER_ONLY, [])
    sent = body(fp)
    if prefix == "anthropic":  # API version 2026-10-21 rejects sampling parameters
        assert "temperature" not in sent
    else:
        assert sent["temperature"] == 0.25
    limits = {"openai": "max_tokens", "openai-responses": "max_output_tokens", "anthropic": "max_tokens"}
    limit = limits[prefix]
    assert sent[limit] == 123
    assert "tools" not in sent


def test_openai_chat_uses_max_completion_tokens_for_api_openai_com() -> None:
    model = load_model("openai:gpt-test", ModelOptions(max_output_tokens=77))
    params = model.request(USER_ONLY, [])  # type: ignore[attr-defined]
    assert params["max_completion_tokens"] == 77
    assert "max_tokens" not in params


# --- answers --------------------------------------------------------------------------------------


@every
@both
def test_text_and_tool_calls_parse_into_a_turn(fp: FakeProvider, prefix: str, stream: bool) -> None:
    raw = "{bad json" if prefix != "anthropic" else '{"pattern": "avg"}'  # Anthropic only returns objects
    fp.add_turns(
        {
            "text": "Reading two files.",
            "tool_calls": [
                {"name": "read_file", "arguments": {"path": "calc.py", "lines": [1, 2]}, "id": "call_A"},
                {"name": "search", "arguments": raw, "id": "call_B"},
            ],
        }
    )
    turn = make(prefix, fp, stream=stream).complete(USER_ONLY, TOOLS)
    assert turn.text == "Reading two files."
    assert [(c.id, c.name) for c in turn.tool_calls] == [("call_A", "read_file"), ("call_B", "search")]
    assert json.loads(turn.tool_calls[0].arguments) == {"path": "calc.py", "lines": [1, 2]}
    if prefix == "anthropic":
        assert json.loads(turn.tool_calls[1].arguments) == {"pattern": "avg"}
    else:
        assert turn.tool_calls[1].arguments == "{bad json"  # passed through untouched
    assert turn.stop_reason == "tool_calls"
    assert turn.model == "test-model"
    assert isinstance(turn, Turn)


@pytest.mark.parametrize("prefix", ["openai", "openai-responses"])  # Anthropic returns parsed objects
@both
def test_tool_call_arguments_are_passed_verbatim(fp: FakeProvider, prefix: str, stream: bool) -> None:
    fp.add_turns({"tool_calls": [{"name": "write", "arguments": '{"a":1,  "b": [true]}', "id": "x"}]})
    turn = make(prefix, fp, stream=stream).complete(USER_ONLY, TOOLS)
    assert turn.tool_calls == [ToolCall("x", "write", '{"a":1,  "b": [true]}')]
    assert turn.text == ""


@every
@both
def test_usage_with_cached_tokens(fp: FakeProvider, prefix: str, stream: bool) -> None:
    fp.add_turns(
        {"text": "hi", "usage": {"input_tokens": 1200, "output_tokens": 34, "cached_input_tokens": 1000}}
    )
    turn = make(prefix, fp, stream=stream).complete(USER_ONLY, [])
    assert turn.usage == Usage(input_tokens=1200, output_tokens=34, cached_input_tokens=1000)


@every
@both
@pytest.mark.parametrize(
    ("scripted", "expected"),
    [
        ({"text": "All done."}, "end"),
        ({"text": "Cut of", "stop_reason": "max_tokens"}, "max_tokens"),
        ({"tool_calls": [{"name": "finish", "arguments": {}}]}, "tool_calls"),
    ],
    ids=["end", "max_tokens", "tool_calls"],
)
def test_stop_reasons(
    fp: FakeProvider, prefix: str, stream: bool, scripted: dict[str, Any], expected: str
) -> None:
    fp.add_turns(scripted)
    turn = make(prefix, fp, stream=stream).complete(USER_ONLY, TOOLS)
    assert turn.stop_reason == expected


# --- keys and base URLs ---------------------------------------------------------------------------


@every
def test_missing_key_fails_at_construction(monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    monkeypatch.delenv(KEY_ENV[prefix])
    with pytest.raises(MissingCredentials) as caught:
        load_model(f"{prefix}:test-model", ModelOptions())
    assert KEY_ENV[prefix] in caught.value.message
    assert caught.value.hint is not None and KEY_ENV[prefix] in caught.value.hint
    assert caught.value.exit_code == 2


@every
def test_no_key_needed_for_another_server(
    monkeypatch: pytest.MonkeyPatch, fp: FakeProvider, prefix: str
) -> None:
    monkeypatch.delenv(KEY_ENV[prefix])
    fp.add_turns({"text": "local"})
    model = load_model(f"{prefix}:test-model", ModelOptions(base_url=base_url(prefix, fp)))
    assert model.complete(USER_ONLY, []).text == "local"
    headers = fp.last_request.headers
    assert (headers.get("authorization") or headers.get("x-api-key") or "").endswith("not-needed")


@every
def test_base_url_from_environment(monkeypatch: pytest.MonkeyPatch, fp: FakeProvider, prefix: str) -> None:
    monkeypatch.setenv(BASE_ENV[prefix], base_url(prefix, fp))
    # a non-vendor URL from the environment also lifts the key requirement
    monkeypatch.delenv(KEY_ENV[prefix])
    fp.add_turns({"text": "from env"})
    model = load_model(f"{prefix}:test-model", ModelOptions())
    assert model.complete(USER_ONLY, []).text == "from env"
    assert fp.last_request.path == PATHS[prefix]


@every
def test_empty_base_url_variable_means_the_vendor(monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    monkeypatch.setenv(BASE_ENV[prefix], "")
    model = load_model(f"{prefix}:test-model", ModelOptions())
    expected = "https://api.anthropic.com" if prefix == "anthropic" else "https://api.openai.com/v1"
    assert str(model._client.base_url).rstrip("/") == expected  # type: ignore[attr-defined]
    monkeypatch.delenv(KEY_ENV[prefix])
    with pytest.raises(MissingCredentials):
        load_model(f"{prefix}:test-model", ModelOptions())


@every
def test_vendor_base_url_still_needs_a_key(monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    monkeypatch.delenv(KEY_ENV[prefix])
    vendor = "https://api.anthropic.com" if prefix == "anthropic" else "https://api.openai.com/v1"
    with pytest.raises(MissingCredentials):
        load_model(f"{prefix}:test-model", ModelOptions(base_url=vendor))


# --- failures -------------------------------------------------------------------------------------


@every
@both
@pytest.mark.parametrize("status", [400, 401, 500])
def test_http_errors_become_provider_errors(fp: FakeProvider, prefix: str, stream: bool, status: int) -> None:
    fp.add_turns({"text": "never sent"})
    fp.fail_next(status)
    model = make(prefix, fp, stream=stream)
    with pytest.raises(ProviderError) as caught:
        model.complete(USER_ONLY, [])
    error = caught.value
    assert isinstance(error, ProviderRequestError)
    assert error.status == status
    assert f"HTTP {status}" in error.message
    assert f"injected failure: HTTP {status}" in error.message  # the server's own message
    assert error.exit_code == 4
    assert error.retryable is (status >= 500)
    assert len(fp.requests) == 1  # max_retries=0
    assert model.complete(USER_ONLY, []).text == "never sent"  # the turn was not used up


@every
def test_server_error_message_is_carried(fp: FakeProvider, prefix: str) -> None:
    fp.fail_next(
        429,
        body={"error": {"message": "slow down please", "type": "rate_limit_error"}},
        headers={"retry-after": "0"},
    )
    with pytest.raises(ProviderRequestError) as caught:
        make(prefix, fp).complete(USER_ONLY, [])
    assert caught.value.status == 429
    assert "slow down please" in caught.value.message
    assert caught.value.retryable


@every
def test_exhausted_script_is_a_clear_500(fp: FakeProvider, prefix: str) -> None:
    with pytest.raises(ProviderRequestError) as caught:
        make(prefix, fp).complete(USER_ONLY, [])
    assert caught.value.status == 500
    assert "no scripted turn left" in caught.value.message


@every
def test_error_inside_a_stream(fp: FakeProvider, prefix: str) -> None:
    fp.add_turns({"text": "partial answer", "stream_error": "overloaded, try later"})
    with pytest.raises(ProviderError) as caught:
        make(prefix, fp, stream=True).complete(USER_ONLY, [])
    assert "overloaded, try later" in caught.value.message


@every
@both
def test_malformed_answer_is_a_provider_error(fp: FakeProvider, prefix: str, stream: bool) -> None:
    fp.fail_next(200, body="<html>a proxy's error page</html>")
    with pytest.raises(ProviderError) as caught:
        make(prefix, fp, stream=stream).complete(USER_ONLY, [])
    assert "answered with" in caught.value.message


@every
def test_connection_refused(prefix: str) -> None:
    with FakeProvider() as gone:
        url = base_url(prefix, gone)
    model = load_model(f"{prefix}:test-model", ModelOptions(base_url=url, timeout_s=5))
    with pytest.raises(ProviderRequestError) as caught:
        model.complete(USER_ONLY, [])
    assert caught.value.status is None
    assert "cannot reach" in caught.value.message
    assert url in caught.value.message


# --- laziness and the fake's fidelity -------------------------------------------------------------


def test_importing_models_does_not_import_sdks() -> None:
    code = (
        "import sys, agentic.models, agentic.models._common, agentic.models.openai_chat, "
        "agentic.models.openai_responses, agentic.models.anthropic; "
        "loaded = [m for m in ('openai', 'anthropic') if m in sys.modules]; "
        "assert not loaded, loaded"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def _sse_payloads(stream: Iterator[str]) -> list[dict[str, Any]]:
    payloads = []
    for event in stream:
        data = event.split("data: ", 1)[1].strip()
        if data != "[DONE]":
            payloads.append(json.loads(data))
    return payloads


@pytest.mark.parametrize(
    "turn",
    [
        {
            "text": "hello world",
            "tool_calls": [{"name": "f", "arguments": {"a": 1}}, {"name": "g", "arguments": "{x"}],
        },
        {"text": "cut", "stop_reason": "max_tokens", "usage": {"input_tokens": 9, "cached_input_tokens": 4}},
        {},
    ],
    ids=["calls", "max_tokens", "empty"],
)
def test_fake_wire_format_matches_sdk_types(turn: dict[str, Any]) -> None:
    """Every body and event the fake sends validates against the SDKs' own pydantic types."""
    import itertools

    import pydantic
    from anthropic.types import Message, RawMessageStreamEvent
    from openai.types.chat import ChatCompletion, ChatCompletionChunk
    from openai.types.responses import Response, ResponseStreamEvent

    from tests import fakeprovider as fake

    request = {
        "model": "m",
        "input": [],
        "instructions": "sys",
        "max_output_tokens": 10,
        "store": False,
        "tools": [{"type": "function", "name": "f", "description": "d", "parameters": {}, "strict": False}],
    }
    answer = fake._Answer(turn, request, itertools.count(1))
    ChatCompletion.model_validate(fake.chat_completion(answer, 1))
    for payload in _sse_payloads(fake.chat_chunks(answer, 1, include_usage=True)):
        ChatCompletionChunk.model_validate(payload)
    Response.model_validate(fake.response_object(answer, 1, request))
    events = pydantic.TypeAdapter(ResponseStreamEvent)
    for payload in _sse_payloads(fake.response_events(answer, 1, request)):
        events.validate_python(payload)
    Message.model_validate(fake.anthropic_message(answer, 1))
    raw_events = pydantic.TypeAdapter(RawMessageStreamEvent)
    for payload in _sse_payloads(fake.anthropic_events(answer, 1)):
        if payload["type"] != "ping":
            raw_events.validate_python(payload)


def test_anthropic_first_request_caches_the_task_too() -> None:
    from agentic.models.anthropic import with_cache_breakpoints

    params = with_cache_breakpoints({"messages": [{"role": "user", "content": "Fix the bug."}]})
    assert params["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "Fix the bug.", "cache_control": {"type": "ephemeral"}}]}]  # fmt: skip
