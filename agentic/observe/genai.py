"""The GenAI semantic conventions' shapes of journal content: span attributes of a model name and a
provider endpoint, finish reasons, and the journal's neutral messages as the conventions' parts."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

# model-name prefix -> gen_ai.provider.name (well-known values where they apply)
PROVIDER_NAMES = {"openai": "openai", "openai-responses": "openai", "anthropic": "anthropic",
                  "script": "agentic.script"}  # fmt: skip
# the journal's normalised stop reasons -> the conventions' finish reasons
FINISH_REASONS = {"end": "stop", "tool_calls": "tool_call", "max_tokens": "length"}


def ns(ts: Any) -> int:
    return round(float(ts) * 1_000_000_000)


def clean_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if v is not None and v != ""}


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def model_attributes(model: str) -> dict[str, Any]:
    """gen_ai.provider.name and gen_ai.request.model from a model name like `openai:gpt-4.1`."""
    prefix, sep, model_id = model.partition(":")
    if not sep:
        return clean_attrs({"gen_ai.provider.name": "_OTHER", "gen_ai.request.model": model})
    return clean_attrs(
        {"gen_ai.provider.name": PROVIDER_NAMES.get(prefix, prefix), "gen_ai.request.model": model_id}
    )


def server(base_url: Any) -> dict[str, Any]:
    if not isinstance(base_url, str) or not base_url:
        return {}
    try:
        parts = urlsplit(base_url if "//" in base_url else f"//{base_url}")
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    except ValueError:
        return {}
    return clean_attrs({"server.address": parts.hostname, "server.port": port}) if parts.hostname else {}


def arguments(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return raw


def finish_reason(stop_reason: Any) -> str:
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
                       "arguments": arguments(c.get("arguments"))} for c in m.get("tool_calls") or []]  # fmt: skip
            chat.append({"role": role, "parts": parts})
    return system, chat
