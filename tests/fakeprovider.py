"""A fake model server for tests: speaks OpenAI Chat Completions, OpenAI Responses and Anthropic Messages.

Standard library only. Each POST pops the next scripted turn and answers it in the wire format of the
API that was called, as plain JSON or, when the request says `"stream": true`, as server-sent events
shaped like the real services' (fragments split across events, usage at the end):

    with FakeProvider([{"text": "hi"}, {"tool_calls": [{"name": "finish", "arguments": {}}]}]) as fp:
        model = load_model("openai:gpt-test", ModelOptions(base_url=fp.openai_base_url))
        ...
        assert fp.requests[0].json["model"] == "gpt-test"

A turn is a dict:

    {"text": str,                                     # optional
     "tool_calls": [{"name": str, "arguments": dict | str, "id": str}],   # optional; id optional
     "usage": {"input_tokens": int, "output_tokens": int, "cached_input_tokens": int},  # optional
     "stop_reason": "end" | "tool_calls" | "max_tokens",  # optional; derived from tool_calls otherwise
     "stream_error": str,                             # optional; a streamed answer breaks off with an error event
     "refusal": str}                                  # optional; the model declines, in each API's own way

`input_tokens` counts every prompt token, cached ones included (as OpenAI reports it); for Anthropic,
which reports uncached and cache-read tokens apart, it is split accordingly.

`fp.fail_next(status, body=None, headers=None)` answers the next request with that HTTP error instead;
`fp.reset_next()` drops its connection (a TCP reset, no answer); `fp.stall_next(seconds)` holds it
unanswered that long, then drops it (a client with a shorter timeout sees a read timeout).
None of these consumes a scripted turn.
When the turns run out the server answers 500 with a message saying so.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import pytest

# For the tests that drive a real SDK in process: anthropic costs about 1.7 CPU-s to import, openai 0.6.
# They share one worker (--dist loadgroup), which pays that once instead of every worker.
SDK_WORKER = pytest.mark.xdist_group("providers")

CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"
MESSAGES = "/v1/messages"

_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_OPENAI_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    429: "rate_limit_exceeded",
}


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: Any
    at: float = field(default_factory=time.monotonic)  # when it arrived


@dataclass
class _Failure:
    status: int  # 0: no answer at all, the connection is dropped (after `stall_s`)
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    stall_s: float = 0.0


def _pieces(text: str, parts: int = 3) -> list[str]:
    """`text` cut into about `parts` fragments (at least two when it has two characters)."""
    if len(text) < 2:
        return [text] if text else []
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _estimate(text: str) -> int:
    return max(1, len(text) // 4)


class _Answer:
    """A scripted turn, normalised: text, calls with ids and raw argument text, usage, stop reason."""

    def __init__(self, turn: dict[str, Any], request: Any, ids: Iterator[int]) -> None:
        self.text: str = turn.get("text") or ""
        self.calls: list[dict[str, Any]] = []
        for call in turn.get("tool_calls") or []:
            arguments = call.get("arguments", {})
            raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
            n = next(ids)
            self.calls.append({"id": call.get("id"), "n": n, "name": call["name"], "arguments": raw})
        stated = turn.get("usage") or {}
        prompt = (
            json.dumps(request.get("messages") or request.get("input") or "")
            if isinstance(request, dict)
            else ""
        )
        self.input_tokens: int = stated.get("input_tokens", _estimate(prompt))
        self.output_tokens: int = stated.get(
            "output_tokens", _estimate(self.text + "".join(c["arguments"] for c in self.calls))
        )
        self.cached_tokens: int = stated.get("cached_input_tokens", 0)
        self.stop: str = turn.get("stop_reason") or ("tool_calls" if self.calls else "end")
        self.stream_error: str | None = turn.get("stream_error")
        self.refusal: str | None = turn.get("refusal")
        if self.refusal:
            self.stop = "refusal"
        self.model: str = (request.get("model") if isinstance(request, dict) else None) or "fake-model"


# --- OpenAI Chat Completions ----------------------------------------------------------------------


def _chat_usage(a: _Answer) -> dict[str, Any]:
    return {
        "prompt_tokens": a.input_tokens,
        "completion_tokens": a.output_tokens,
        "total_tokens": a.input_tokens + a.output_tokens,
        "prompt_tokens_details": {"cached_tokens": a.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _chat_finish(a: _Answer) -> str:
    return {"end": "stop", "tool_calls": "tool_calls", "max_tokens": "length", "refusal": "stop"}.get(a.stop, a.stop)


def _chat_call_id(call: dict[str, Any]) -> str:
    return call["id"] or f"call_fake{call['n']}"


def chat_completion(a: _Answer, serial: int) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": a.text or None,
        "refusal": a.refusal,
        "annotations": [],
    }
    if a.calls:
        message["tool_calls"] = [
            {
                "id": _chat_call_id(c),
                "type": "function",
                "function": {"name": c["name"], "arguments": c["arguments"]},
            }
            for c in a.calls
        ]
    return {
        "id": f"chatcmpl-fake{serial}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": a.model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": _chat_finish(a)}],
        "usage": _chat_usage(a),
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }


def chat_chunks(a: _Answer, serial: int, include_usage: bool) -> Iterator[str]:
    """`data:` lines of a streamed chat completion, ending in the usage chunk and [DONE]."""
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        body: dict[str, Any] = {
            "id": f"chatcmpl-fake{serial}",
            "object": "chat.completion.chunk",
            "created": created,
            "model": a.model,
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            body["usage"] = None
        return f"data: {json.dumps(body)}\n\n"

    yield chunk({"role": "assistant", "content": "", "refusal": None})
    for piece in _pieces(a.text):
        yield chunk({"content": piece})
    if a.stream_error:
        error = {"error": {"message": a.stream_error, "type": "server_error", "param": None, "code": None}}
        yield f"data: {json.dumps(error)}\n\n"
        return
    for index, c in enumerate(a.calls):
        head = {
            "index": index,
            "id": _chat_call_id(c),
            "type": "function",
            "function": {"name": c["name"], "arguments": ""},
        }
        yield chunk({"tool_calls": [head]})
        for piece in _pieces(c["arguments"]):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, _chat_finish(a))
    if include_usage:
        final = {
            "id": f"chatcmpl-fake{serial}",
            "object": "chat.completion.chunk",
            "created": created,
            "model": a.model,
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
            "choices": [],
            "usage": _chat_usage(a),
        }
        yield f"data: {json.dumps(final)}\n\n"
    yield "data: [DONE]\n\n"


# --- OpenAI Responses -----------------------------------------------------------------------------


def _responses_items(a: _Answer, serial: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if a.text or a.refusal:
        part = ({"type": "refusal", "refusal": a.refusal} if a.refusal else
                {"type": "output_text", "text": a.text, "annotations": [], "logprobs": []})  # fmt: skip
        items.append(
            {
                "id": f"msg_fake{serial}",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [part],
            }
        )
    for c in a.calls:
        items.append(
            {
                "id": f"fc_fake{c['n']}",
                "type": "function_call",
                "status": "completed",
                "call_id": c["id"] or f"call_fake{c['n']}",
                "name": c["name"],
                "arguments": c["arguments"],
            }
        )
    return items


def response_object(
    a: _Answer,
    serial: int,
    request: dict[str, Any],
    *,
    output: list[dict[str, Any]] | None = None,
    final: bool = True,
) -> dict[str, Any]:
    incomplete = a.stop == "max_tokens"
    status = ("incomplete" if incomplete else "completed") if final else "in_progress"
    return {
        "id": f"resp_fake{serial}",
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete and final else None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": a.model,
        "output": _responses_items(a, serial) if output is None else output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": bool(request.get("store", True)),
        "temperature": request.get("temperature", 1.0),
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": request.get("tools") or [],
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": (
            {
                "input_tokens": a.input_tokens,
                "input_tokens_details": {"cached_tokens": a.cached_tokens, "cache_write_tokens": 0},
                "output_tokens": a.output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": a.input_tokens + a.output_tokens,
            }
            if final
            else None
        ),
        "user": None,
        "metadata": {},
    }


def response_events(a: _Answer, serial: int, request: dict[str, Any]) -> Iterator[str]:
    """`event:`/`data:` pairs of a streamed response, from response.created to response.completed."""
    sequence = itertools.count()

    def event(kind: str, **data: Any) -> str:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, 'sequence_number': next(sequence), **data})}\n\n"

    pending = response_object(a, serial, request, output=[], final=False)
    yield event("response.created", response=pending)
    yield event("response.in_progress", response=pending)
    for index, item in enumerate(_responses_items(a, serial)):
        if item["type"] == "message":
            text = item["content"][0]["text"]
            yield event(
                "response.output_item.added",
                output_index=index,
                item={**item, "status": "in_progress", "content": []},
            )
            empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            yield event(
                "response.content_part.added",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part=empty,
            )
            for piece in _pieces(text):
                yield event(
                    "response.output_text.delta",
                    item_id=item["id"],
                    output_index=index,
                    content_index=0,
                    delta=piece,
                    logprobs=[],
                )
            if a.stream_error:
                yield event("error", code="server_error", message=a.stream_error, param=None)
                return
            yield event(
                "response.output_text.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                text=text,
                logprobs=[],
            )
            yield event(
                "response.content_part.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part=item["content"][0],
            )
        else:
            yield event(
                "response.output_item.added",
                output_index=index,
                item={**item, "status": "in_progress", "arguments": ""},
            )
            for piece in _pieces(item["arguments"]):
                yield event(
                    "response.function_call_arguments.delta",
                    item_id=item["id"],
                    output_index=index,
                    delta=piece,
                )
            yield event(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                arguments=item["arguments"],
            )
        yield event("response.output_item.done", output_index=index, item=item)
    if a.stream_error:
        yield event("error", code="server_error", message=a.stream_error, param=None)
        return
    final = response_object(a, serial, request)
    yield event(
        "response.incomplete" if final["status"] == "incomplete" else "response.completed", response=final
    )


# --- Anthropic Messages ---------------------------------------------------------------------------


def _tool_input(raw: str) -> dict[str, Any]:
    """Anthropic only ever returns an object: other text is wrapped so the turn stays representable."""
    try:
        value = json.loads(raw)
    except ValueError:
        return {"_raw": raw}
    return value if isinstance(value, dict) else {"_raw": raw}


def _anthropic_stop(a: _Answer) -> str:
    return {"end": "end_turn", "tool_calls": "tool_use", "max_tokens": "max_tokens"}.get(a.stop, a.stop)


def _anthropic_usage(a: _Answer, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": max(0, a.input_tokens - a.cached_tokens),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": a.cached_tokens,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _anthropic_blocks(a: _Answer) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if a.text or a.refusal:
        blocks.append({"type": "text", "text": a.text or a.refusal, "citations": None})
    for c in a.calls:
        blocks.append(
            {
                "type": "tool_use",
                "id": c["id"] or f"toolu_fake{c['n']}",
                "name": c["name"],
                "input": _tool_input(c["arguments"]),
            }
        )
    return blocks


def anthropic_message(a: _Answer, serial: int) -> dict[str, Any]:
    return {
        "id": f"msg_fake{serial}",
        "type": "message",
        "role": "assistant",
        "model": a.model,
        "content": _anthropic_blocks(a),
        "stop_reason": _anthropic_stop(a),
        "stop_sequence": None,
        "usage": _anthropic_usage(a, a.output_tokens),
    }


def anthropic_events(a: _Answer, serial: int) -> Iterator[str]:
    def event(kind: str, **data: Any) -> str:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

    start = {
        **anthropic_message(a, serial),
        "content": [],
        "stop_reason": None,
        "usage": _anthropic_usage(a, 1),
    }
    yield event("message_start", message=start)
    for index, block in enumerate(_anthropic_blocks(a)):
        if block["type"] == "text":
            yield event("content_block_start", index=index, content_block={"type": "text", "text": ""})
            if index == 0:
                yield event("ping")
            for piece in _pieces(block["text"]):
                yield event("content_block_delta", index=index, delta={"type": "text_delta", "text": piece})
            if a.stream_error:
                yield event("error", error={"type": "overloaded_error", "message": a.stream_error})
                return
        else:
            yield event("content_block_start", index=index, content_block={**block, "input": {}})
            for piece in ["", *_pieces(json.dumps(block["input"]))]:
                yield event(
                    "content_block_delta",
                    index=index,
                    delta={"type": "input_json_delta", "partial_json": piece},
                )
        yield event("content_block_stop", index=index)
    if a.stream_error:
        yield event("error", error={"type": "overloaded_error", "message": a.stream_error})
        return
    yield event(
        "message_delta",
        delta={"stop_reason": _anthropic_stop(a), "stop_sequence": None},
        usage={"output_tokens": a.output_tokens},
    )
    yield event("message_stop")


# --- the server -----------------------------------------------------------------------------------


class FakeProvider:
    """A local HTTP server answering scripted turns; use as a context manager."""

    def __init__(self, turns: list[dict[str, Any]] | None = None) -> None:
        self.turns: list[dict[str, Any]] = list(turns or [])
        self.requests: list[RecordedRequest] = []
        self._failures: list[_Failure] = []
        self._served = 0
        self._lock = threading.Lock()
        self._serial = itertools.count(1)
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> FakeProvider:
        handler = type("_Handler", (_Handler,), {"provider": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True  # idle keep-alive connections must not hold up stop()
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="fake-provider",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # addresses

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake provider is not running")
        return int(self._server.server_address[1])

    @property
    def anthropic_base_url(self) -> str:
        """For the anthropic SDK, which appends /v1/messages itself."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """For the openai SDK (and any OpenAI-compatible client): ends in /v1."""
        return f"{self.anthropic_base_url}/v1"

    base_url = openai_base_url

    # scripting

    def reset(self, turns: list[dict[str, Any]] | None = None) -> None:
        """Forget turns, requests and pending failures: reuse one running server across tests."""
        with self._lock:
            self.turns = list(turns or [])
            self.requests = []
            self._failures = []
            self._served = 0

    def add_turns(self, *turns: dict[str, Any]) -> None:
        with self._lock:
            self.turns.extend(turns)

    def fail_next(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        """Answer the next request with HTTP `status` (body: the API's error shape unless given)."""
        with self._lock:
            self._failures.append(_Failure(status, body, dict(headers or {})))

    def reset_next(self) -> None:
        """Drop the next request's connection with a TCP reset, answering nothing."""
        with self._lock:
            self._failures.append(_Failure(0))

    def stall_next(self, seconds: float) -> None:
        """Hold the next request unanswered for `seconds`, then drop its connection."""
        with self._lock:
            self._failures.append(_Failure(0, stall_s=seconds))

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self.turns) - self._served

    @property
    def last_request(self) -> RecordedRequest:
        return self.requests[-1]

    # used by the handler

    def _next(self, request: RecordedRequest) -> _Failure | tuple[_Answer, int] | None:
        with self._lock:
            self.requests.append(request)
            if self._failures:
                return self._failures.pop(0)
            if self._served >= len(self.turns):
                return None
            turn = self.turns[self._served]
            self._served += 1
            return _Answer(turn, request.json, self._ids), next(self._serial)


def error_body(path: str, status: int, message: str) -> dict[str, Any]:
    """An error body in the shape the API at `path` uses."""
    if path == MESSAGES:
        kind = _ANTHROPIC_ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    kind = _OPENAI_ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


class _Handler(BaseHTTPRequestHandler):
    provider: FakeProvider
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small header/body writes would otherwise wait on delayed ACKs

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._send_json(404, error_body(self.path, 404, f"no GET route {self.path}"))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        path = self.path.split("?", 1)[0]
        request = RecordedRequest("POST", path, {k.lower(): v for k, v in self.headers.items()}, body)
        if path not in (CHAT, RESPONSES, MESSAGES):
            self.provider.requests.append(request)
            self._send_json(404, error_body(path, 404, f"the fake provider has no route {path}"))
            return
        outcome = self.provider._next(request)
        if isinstance(outcome, _Failure) and outcome.status == 0:
            self._drop(outcome.stall_s)
            return
        if isinstance(outcome, _Failure):
            payload = outcome.body
            if payload is None:
                payload = error_body(path, outcome.status, f"injected failure: HTTP {outcome.status}")
            self._send_json(outcome.status, payload, outcome.headers)
            return
        if outcome is None:
            message = f"the fake provider has no scripted turn left (it had {len(self.provider.turns)})"
            self._send_json(500, error_body(path, 500, message), {"x-should-retry": "false"})
            return
        answer, serial = outcome
        stream = isinstance(body, dict) and body.get("stream") is True
        if path == CHAT:
            if stream:
                include = bool((body.get("stream_options") or {}).get("include_usage"))
                self._send_events(chat_chunks(answer, serial, include))
            else:
                self._send_json(200, chat_completion(answer, serial))
        elif path == RESPONSES:
            if stream:
                self._send_events(response_events(answer, serial, body))
            else:
                self._send_json(200, response_object(answer, serial, body if isinstance(body, dict) else {}))
        elif stream:
            self._send_events(anthropic_events(answer, serial))
        else:
            self._send_json(200, anthropic_message(answer, serial))

    def _drop(self, stall_s: float) -> None:
        """Answer nothing: wait, then close with SO_LINGER 0 so the client sees a reset."""
        time.sleep(stall_s)
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def finish(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # the connection was dropped on purpose
            super().finish()

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = (payload if isinstance(payload, str) else json.dumps(payload)).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if not isinstance(payload, str) else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_events(self, events: Iterator[str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for item in events:
            self.wfile.write(item.encode("utf-8"))
            self.wfile.flush()
