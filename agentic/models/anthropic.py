"""Anthropic Messages API (`anthropic:<model>`).

ANTHROPIC_API_KEY is required unless `base_url` or ANTHROPIC_BASE_URL points away from api.anthropic.com.
Tool results become `tool_result` blocks in user messages; consecutive results share one user message
because the API wants user and assistant turns to alternate.

`options.temperature` is not sent: anthropic SDK 2.x speaks API version 2026-10-21, which dropped the
sampling parameters (the SDK has no such argument and the API answers 400 to one sent in the body).
"""

from __future__ import annotations

from typing import Any

from agentic.errors import ProviderError
from agentic.models._common import (
    ANTHROPIC_DEFAULT_BASE_URL,
    count,
    dump_json,
    effective_base_url,
    import_in_background,
    parse_json_object,
    resolve_api_key,
    sdk_errors,
    system_text,
    text_of,
    unexpected,
)
from agentic.models.base import Message, ModelOptions, ToolCall, ToolSpec, Turn, Usage

_STOP_REASONS = {
    "tool_use": "tool_calls",
    "end_turn": "end",
    "max_tokens": "max_tokens",
    "stop_sequence": "end",
}


def tool_input(arguments: str) -> dict[str, Any]:
    """The `input` object of a `tool_use` block from raw argument text.

    The API only accepts an object; text that is not one is kept as `{"_raw": text}` so the history
    stays valid and the model can still see what it wrote.
    """
    parsed = parse_json_object(arguments or "")
    return parsed if parsed is not None else {"_raw": arguments}


def _append_user_block(out: list[dict[str, Any]], block: dict[str, Any]) -> None:
    """Add a content block to the conversation, joining it to a user turn that is already last."""
    previous = out[-1] if out else None
    if previous is not None and previous["role"] == "user":
        if isinstance(previous["content"], str):
            previous["content"] = [{"type": "text", "text": previous["content"]}]
        content: list[dict[str, Any]] = previous["content"]
        if block["type"] == "tool_result":  # results must lead the turn, before any text
            at = next((i for i, b in enumerate(content) if b["type"] != "tool_result"), len(content))
            content.insert(at, block)
        else:
            content.append(block)
    else:
        out.append({"role": "user", "content": [block]})


CACHED = {"type": "ephemeral"}


def with_cache_breakpoints(params: dict[str, Any]) -> dict[str, Any]:
    """Mark the stable prefix for Anthropic's prompt cache: the tools, the system prompt and the
    conversation so far (its last block), so each request reads the previous one's prefix from the
    cache (three of the four breakpoints the API allows). The harness keeps that prefix stable: it
    appends to the conversation, and elides older outputs only rarely, by a rule (agentic.agent.context)."""
    if params.get("tools"):
        params["tools"][-1] = {**params["tools"][-1], "cache_control": CACHED}
    if params.get("system"):
        params["system"][-1] = {**params["system"][-1], "cache_control": CACHED}
    if params["messages"]:
        last = params["messages"][-1]
        content = last["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
        if blocks:
            blocks[-1] = {**blocks[-1], "cache_control": CACHED}
            params["messages"][-1] = {**last, "content": blocks}
    return params


def to_anthropic_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """The neutral conversation (minus system messages) as Messages API turns.

    User and assistant turns alternate: tool results (and any user text right after them) share one
    user message; an assistant message with neither text nor tool calls is left out.
    """
    out: list[dict[str, Any]] = []
    for m in messages:
        role = m.get("role")
        if role == "system":
            continue
        if role == "user":
            if out and out[-1]["role"] == "user":
                _append_user_block(out, {"type": "text", "text": text_of(m)})
            else:
                out.append({"role": "user", "content": text_of(m)})
        elif role == "assistant":
            blocks: list[dict[str, Any]] = []
            if text_of(m):
                blocks.append({"type": "text", "text": text_of(m)})
            for c in m.get("tool_calls") or []:
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": c["id"],
                        "name": c["name"],
                        "input": tool_input(c.get("arguments", "")),
                    }
                )
            if blocks:
                out.append({"role": "assistant", "content": blocks})
        elif role == "tool":
            result: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": m["tool_call_id"],
                "content": text_of(m),
                "is_error": bool(m.get("is_error")),
            }
            _append_user_block(out, result)
        else:
            raise ValueError(f"unknown message role {role!r}")
    return out


def to_anthropic_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools]


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    cache_read = count(getattr(usage, "cache_read_input_tokens", 0))
    cache_write = count(getattr(usage, "cache_creation_input_tokens", 0))
    return Usage(
        # Anthropic's input_tokens excludes cached tokens; the neutral count is every prompt token
        input_tokens=count(getattr(usage, "input_tokens", 0)) + cache_read + cache_write,
        output_tokens=count(getattr(usage, "output_tokens", 0)),
        cached_input_tokens=cache_read,
    )


class AnthropicModel:
    """A Claude model behind the Messages API."""

    def __init__(self, model_id: str, options: ModelOptions | None = None) -> None:
        self.name = f"anthropic:{model_id}"
        self.model_id = model_id
        self.options = options or ModelOptions()
        self.base_url = effective_base_url(self.options.base_url, "ANTHROPIC_BASE_URL")
        self._key = resolve_api_key(
            "ANTHROPIC_API_KEY", vendor="Anthropic", base_url=self.base_url, vendor_domain="anthropic.com"
        )
        self._built: Any = None
        import_in_background("anthropic")  # the client is made at its first use

    @property
    def _sdk(self) -> Any:
        import anthropic

        return anthropic

    @property
    def _client(self) -> Any:
        if self._built is None:
            anthropic = self._sdk
            try:
                self._built = anthropic.Anthropic(
                    api_key=self._key,
                    base_url=self.base_url or ANTHROPIC_DEFAULT_BASE_URL,
                    timeout=self.options.timeout_s,
                    max_retries=0,  # the harness retries (agentic.util.retry): bounded, journaled
                )
            except anthropic.AnthropicError as exc:
                raise ProviderError(f"cannot set up the Anthropic client: {exc}") from exc
        return self._built

    def request(self, messages: list[Message], tools: list[ToolSpec]) -> dict[str, Any]:
        """The keyword arguments of `messages.create` / `messages.stream` for this conversation."""
        params: dict[str, Any] = {
            "model": self.model_id,
            "max_tokens": self.options.max_output_tokens,
            "messages": to_anthropic_messages(messages),
        }
        system = system_text(messages)
        if system:
            params["system"] = [{"type": "text", "text": system}]
        if tools:
            params["tools"] = to_anthropic_tools(tools)
        return with_cache_breakpoints(params)

    def complete(self, messages: list[Message], tools: list[ToolSpec], *, timeout_s: float | None = None) -> Turn:
        params = self.request(messages, tools)
        if timeout_s is not None:  # this call's own, never past the run's deadline
            params["timeout"] = timeout_s
        errors = sdk_errors(
            self._sdk,
            vendor="Anthropic",
            key_env="ANTHROPIC_API_KEY",
            base_env="ANTHROPIC_BASE_URL",
            base_url=self.base_url,
        )
        with errors:
            if not self.options.stream:
                return self._parse(self._client.messages.create(**params))
            try:
                with self._client.messages.stream(**params) as stream:
                    message = stream.get_final_message()
            except (ValueError, RuntimeError, AssertionError) as exc:
                # the SDK's accumulator: tool input that is not JSON, events out of order, no message at all
                raise unexpected("Anthropic", f"a malformed stream ({type(exc).__name__}: {exc})") from exc
            return self._parse(message)

    def _parse(self, message: Any) -> Turn:
        content = getattr(message, "content", None)
        if content is None:
            raise unexpected("Anthropic", "something that is not a message")
        text: list[str] = []
        calls: list[ToolCall] = []
        for block in content:
            kind = getattr(block, "type", None)
            if kind == "text":
                text.append(block.text)
            elif kind == "tool_use":
                calls.append(ToolCall(block.id, block.name, dump_json(block.input)))
        reason = getattr(message, "stop_reason", None) or ""
        return Turn(
            text="".join(text),
            tool_calls=calls,
            usage=_usage(getattr(message, "usage", None)),
            stop_reason=_STOP_REASONS.get(reason, reason),
            model=getattr(message, "model", None) or self.model_id,
        )
