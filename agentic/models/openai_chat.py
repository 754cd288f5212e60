"""OpenAI Chat Completions (`openai:<model>`), also the adapter for OpenAI-compatible servers.

Ollama, vLLM, LM Studio and LiteLLM speak this API: point `base_url` (or OPENAI_BASE_URL) at them;
no key is needed then. Tool calls are native (`tools=[{"type": "function", ...}]`, not strict).
"""

from __future__ import annotations

from typing import Any

from agentic.models._common import (
    OpenAIClientModel,
    is_vendor_url,
    openai_errors,
    openai_usage,
    text_of,
    unexpected,
)
from agentic.models.base import Message, ToolCall, ToolSpec, Turn, Usage

_STOP_REASONS = {
    "stop": "end",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "length": "max_tokens",
}


def to_chat_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """The neutral conversation as Chat Completions messages."""
    out: list[dict[str, Any]] = []
    for m in messages:
        role = m.get("role")
        if role in ("system", "user"):
            out.append({"role": role, "content": text_of(m)})
        elif role == "assistant":
            calls = m.get("tool_calls") or []
            message: dict[str, Any] = {"role": "assistant", "content": text_of(m) or (None if calls else "")}
            if calls:
                message["tool_calls"] = [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": c.get("arguments") or ""},
                    }
                    for c in calls
                ]
            out.append(message)
        elif role == "tool":
            out.append({"role": "tool", "tool_call_id": m["tool_call_id"], "content": text_of(m)})
        else:
            raise ValueError(f"unknown message role {role!r}")
    return out


def to_chat_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def _stop_reason(finish_reason: str | None, has_calls: bool) -> str:
    reason = _STOP_REASONS.get(finish_reason or "", finish_reason or "")
    # some compatible servers say "stop" even when the turn ends in tool calls
    return "tool_calls" if has_calls and reason in ("end", "") else reason


def _usage(usage: Any) -> Usage:
    return openai_usage(usage, "prompt_tokens", "completion_tokens", "prompt_tokens_details")


class OpenAIChatModel(OpenAIClientModel):
    """A model behind the Chat Completions API."""

    prefix = "openai"

    def request(self, messages: list[Message], tools: list[ToolSpec]) -> dict[str, Any]:
        """The keyword arguments of `chat.completions.create` for this conversation."""
        params: dict[str, Any] = {"model": self.model_id, "messages": to_chat_messages(messages)}
        if tools:
            params["tools"] = to_chat_tools(tools)
        # api.openai.com wants max_completion_tokens (reasoning models reject max_tokens); older
        # compatible servers only know max_tokens.
        limit_key = "max_completion_tokens" if is_vendor_url(self.base_url, "openai.com") else "max_tokens"
        params[limit_key] = self.options.max_output_tokens
        if self.options.temperature is not None:
            params["temperature"] = self.options.temperature
        if self.options.stream:
            params["stream"] = True
            params["stream_options"] = {"include_usage": True}
        return params

    def complete(self, messages: list[Message], tools: list[ToolSpec], *, timeout_s: float | None = None) -> Turn:
        params = self.request(messages, tools)
        if timeout_s is not None:  # this call's own, never past the run's deadline
            params["timeout"] = timeout_s
        with openai_errors(self.base_url):
            if self.options.stream:
                return self._complete_streaming(params)
            response = self._create(params)
            return self._parse(response)

    def _create(self, params: dict[str, Any]) -> Any:
        """POST /chat/completions with the body as built here. The SDK's `create` first walks every
        message through its TypedDict transform to produce this same JSON: linear in the conversation,
        it cost tens of milliseconds per request late in a long run."""
        from openai import Stream
        from openai.types.chat import ChatCompletion, ChatCompletionChunk

        body = {k: v for k, v in params.items() if k != "timeout"}
        options: Any = {"timeout": params["timeout"]} if "timeout" in params else {}  # the SDK's RequestOptions
        return self._client.post("/chat/completions", body=body, cast_to=ChatCompletion, options=options,
                                 stream=bool(body.get("stream")), stream_cls=Stream[ChatCompletionChunk])

    def _parse(self, response: Any) -> Turn:
        choices = getattr(response, "choices", None)
        if not choices:
            raise unexpected("OpenAI", "no choices")
        message = choices[0].message
        calls = [
            ToolCall(c.id or f"call_{n}", c.function.name or "", c.function.arguments or "")
            for n, c in enumerate(message.tool_calls or [])
            if getattr(c, "type", "function") == "function" and getattr(c, "function", None) is not None
        ]
        refusal = getattr(message, "refusal", None)
        return Turn(
            text=message.content or refusal or "",
            tool_calls=calls,
            usage=_usage(response.usage),
            stop_reason="refusal" if refusal and not calls else _stop_reason(choices[0].finish_reason, bool(calls)),
            model=response.model or self.model_id,
        )

    def _complete_streaming(self, params: dict[str, Any]) -> Turn:
        """Accumulate `chat.completion.chunk` deltas; tool-call fragments are joined by their index."""
        text: list[str] = []
        refusal: list[str] = []
        slots: dict[int, dict[str, Any]] = {}
        finish_reason: str | None = None
        usage: Any = None
        model = ""
        chunks = 0
        with self._create(params) as stream:
            for chunk in stream:
                chunks += 1
                model = getattr(chunk, "model", None) or model
                if getattr(chunk, "usage", None) is not None:
                    usage = chunk.usage
                for choice in getattr(chunk, "choices", None) or []:
                    if choice.index != 0:
                        continue
                    delta = choice.delta
                    if delta.content:
                        text.append(delta.content)
                    if getattr(delta, "refusal", None):
                        refusal.append(delta.refusal)
                    for position, fragment in enumerate(delta.tool_calls or []):
                        index = fragment.index if isinstance(fragment.index, int) else position
                        slot = slots.setdefault(index, {"id": "", "name": "", "arguments": []})
                        if fragment.id:
                            slot["id"] = fragment.id
                        function = fragment.function
                        if function is not None:
                            if function.name:
                                slot["name"] += function.name
                            if function.arguments:
                                slot["arguments"].append(function.arguments)
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
        if not chunks:
            raise unexpected("OpenAI", "an empty stream")
        calls = [
            ToolCall(slot["id"] or f"call_{index}", slot["name"], "".join(slot["arguments"]))
            for index, slot in sorted(slots.items())
        ]
        return Turn(
            text="".join(text) or "".join(refusal),
            tool_calls=calls,
            usage=_usage(usage),
            stop_reason="refusal" if refusal and not calls else _stop_reason(finish_reason, bool(calls)),
            model=model or self.model_id,
        )
