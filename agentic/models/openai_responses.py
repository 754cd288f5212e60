"""OpenAI Responses API (`openai-responses:<model>`), stateless (`store=False`): the whole conversation
is sent as input items every turn, like the other adapters.

Same key and base-URL rules as `openai:` (OPENAI_API_KEY, OPENAI_BASE_URL, `base_url`).
"""

from __future__ import annotations

from typing import Any

from agentic.errors import ProviderError, ProviderRequestError
from agentic.models._common import (
    OpenAIClientModel,
    openai_errors,
    openai_usage,
    system_text,
    text_of,
    unexpected,
)
from agentic.models.base import Message, ToolCall, ToolSpec, Turn, Usage

_INCOMPLETE_REASONS = {"max_output_tokens": "max_tokens"}


def to_input_items(messages: list[Message]) -> list[dict[str, Any]]:
    """The neutral conversation (minus system messages, sent as `instructions`) as Responses input items."""
    items: list[dict[str, Any]] = []
    for m in messages:
        role = m.get("role")
        if role == "system":
            continue
        if role == "user":
            items.append({"role": "user", "content": text_of(m)})
        elif role == "assistant":
            if text_of(m):
                items.append({"role": "assistant", "content": text_of(m)})
            for c in m.get("tool_calls") or []:
                items.append(
                    {
                        "type": "function_call",
                        "call_id": c["id"],
                        "name": c["name"],
                        "arguments": c.get("arguments") or "",
                    }
                )
        elif role == "tool":
            items.append({"type": "function_call_output", "call_id": m["tool_call_id"], "output": text_of(m)})
        else:
            raise ValueError(f"unknown message role {role!r}")
    return items


def to_response_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "name": t.name,
            "description": t.description,
            "parameters": t.parameters,
            "strict": False,
        }
        for t in tools
    ]


def _usage(usage: Any) -> Usage:
    return openai_usage(usage, "input_tokens", "output_tokens", "input_tokens_details")


def _failure(response: Any) -> ProviderError:
    error = getattr(response, "error", None)
    message = getattr(error, "message", None) or "no reason given"
    code = getattr(error, "code", None)
    return ProviderError(f"OpenAI response failed{f' ({code})' if code else ''}: {message}")


class OpenAIResponsesModel(OpenAIClientModel):
    """A model behind the Responses API."""

    prefix = "openai-responses"

    def request(self, messages: list[Message], tools: list[ToolSpec]) -> dict[str, Any]:
        """The keyword arguments of `responses.create` for this conversation."""
        params: dict[str, Any] = {
            "model": self.model_id,
            "input": to_input_items(messages),
            "store": False,
            "max_output_tokens": self.options.max_output_tokens,
        }
        instructions = system_text(messages)
        if instructions:
            params["instructions"] = instructions
        if tools:
            params["tools"] = to_response_tools(tools)
        if self.options.temperature is not None:
            params["temperature"] = self.options.temperature
        if self.options.stream:
            params["stream"] = True
        return params

    def complete(self, messages: list[Message], tools: list[ToolSpec], *, timeout_s: float | None = None) -> Turn:
        params = self.request(messages, tools)
        if timeout_s is not None:  # this call's own, never past the run's deadline
            params["timeout"] = timeout_s
        with openai_errors(self.base_url):
            if self.options.stream:
                return self._complete_streaming(params)
            return self._parse(self._client.responses.create(**params))

    def _parse(self, response: Any, streamed_items: list[Any] | None = None) -> Turn:
        if not isinstance(getattr(response, "output", None), list):
            raise unexpected("OpenAI", "something that is not a response object")
        status = getattr(response, "status", None)
        if status == "failed":
            raise _failure(response)
        output = list(getattr(response, "output", None) or []) or list(streamed_items or [])
        text: list[str] = []
        calls: list[ToolCall] = []
        refused = False
        for item in output:
            kind = getattr(item, "type", None)
            if kind == "message":
                for part in getattr(item, "content", None) or []:
                    if getattr(part, "type", None) == "output_text":
                        text.append(part.text or "")
                    elif getattr(part, "type", None) == "refusal":
                        text.append(part.refusal or "")
                        refused = True
            elif kind == "function_call":
                calls.append(
                    ToolCall(item.call_id or item.id or f"call_{len(calls)}", item.name, item.arguments or "")
                )
        if status == "incomplete":  # cut short, possibly in the middle of a tool call
            reason = getattr(getattr(response, "incomplete_details", None), "reason", None) or "incomplete"
            stop = _INCOMPLETE_REASONS.get(reason, reason)
        else:
            stop = "tool_calls" if calls else "refusal" if refused else "end"
        return Turn(
            text="".join(text),
            tool_calls=calls,
            usage=_usage(getattr(response, "usage", None)),
            stop_reason=stop,
            model=getattr(response, "model", None) or self.model_id,
        )

    def _complete_streaming(self, params: dict[str, Any]) -> Turn:
        """Read the event stream to its terminal event; the final response carries the whole output."""
        final: Any = None
        items: dict[int, Any] = {}
        with self._client.responses.create(**params) as stream:
            for event in stream:
                kind = getattr(event, "type", None)
                if kind == "response.output_item.done":
                    items[event.output_index] = event.item
                elif kind in ("response.completed", "response.incomplete"):
                    final = event.response
                elif kind == "response.failed":
                    raise _failure(event.response)
                elif kind == "error":
                    code = getattr(event, "code", None)
                    message = getattr(event, "message", None) or "no reason given"
                    raise ProviderRequestError(
                        f"OpenAI stream broke off{f' ({code})' if code else ''}: {message}",
                        hint="retry later",
                        retryable=True,
                    )
        if final is None:
            raise unexpected("OpenAI", "a stream that ended before response.completed")
        return self._parse(final, [items[i] for i in sorted(items)])
