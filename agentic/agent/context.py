"""Keeping the conversation within the model's context window, by a fixed, deterministic rule.

Before each model call the prompt is estimated (characters / 4, tool definitions included). The
room for it is the model's context window minus the output cap. When the estimate passes 80% of
that room, older material is elided, oldest first, until the estimate is at most 50%:

1. the system prompt, the task message and the nudges the harness wrote are never touched;
2. the last `KEEP_TURNS` assistant turns and the tool results that answer them are kept whole;
3. before them, each tool result longer than `MIN_ELIDE` characters is replaced by a marker
   naming the tool and the size dropped, and each long string argument of an earlier tool call
   (the content given to write_file, say) by a shorter marker. Message order, roles, call ids and
   tool names stay, so the conversation remains valid for every provider.

Eliding to half rather than to just under the threshold means the prefix stays unchanged for many
steps afterwards, so provider prompt caching keeps working. Because the rule depends only on the
messages, the window and the cap, a resumed or replayed run elides exactly what the original did.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from agentic.models.base import Message, ToolSpec
from agentic.util import safeyaml

KEEP_TURNS = 3
MIN_ELIDE = 200
START, TARGET = 0.8, 0.5
CHARS_PER_TOKEN = 4
DROPPED = ("[agentic: the output of {tool} ({size:,} characters) was dropped to keep the conversation within "
           "the model's context window; run the tool again if you still need it]")  # fmt: skip
ARG_DROPPED = "[agentic: {size:,} characters dropped for the context window]"


@cache
def _shipped() -> dict[str, int]:
    text = resources.files("agentic").joinpath("data", "context_windows.yaml").read_text("utf-8")
    return {str(k): int(v) for k, v in (safeyaml.load(text) or {}).items()}


def window_of(model: str, setting: int | None = None) -> int | None:
    """The context window of `provider:model` in tokens: the setting, else the shipped table, else None."""
    if setting:
        return setting
    prefix, _, model_id = model.partition(":")
    family = "openai" if prefix == "openai-responses" else prefix
    keys = [k for k in _shipped() if k.startswith(f"{family}:") and model_id.startswith(k.partition(":")[2])]
    return _shipped()[max(keys, key=len)] if keys else None


def chars(messages: list[Message], specs: list[ToolSpec]) -> int:
    """The size of a request in characters: messages, tool-call arguments and tool definitions."""
    size = sum(len(s.name) + len(s.description) + len(json.dumps(s.parameters)) for s in specs)
    for m in messages:
        size += len(str(m.get("content") or "")) + sum(len(c.get("arguments") or "") for c in m.get("tool_calls") or [])
    return size


def estimate(messages: list[Message], specs: list[ToolSpec]) -> int:
    return chars(messages, specs) // CHARS_PER_TOKEN + 1


def fit(messages: list[Message], specs: list[ToolSpec], window: int | None, output_cap: int) -> dict[str, Any] | None:
    """Elide older tool outputs in place when the prompt nears the window; what was done, or None."""
    if not window:
        return None
    room = max(1, window - output_cap)
    before = estimate(messages, specs)
    if before <= START * room:
        return None
    goal = int(TARGET * room) * CHARS_PER_TOKEN
    size = chars(messages, specs)
    elided: list[int] = []
    for index in _elidable(messages):
        if size <= goal:
            break
        saved = _elide(messages[index])
        if saved > 0:
            size -= saved
            elided.append(index)
    if not elided:
        return None
    return {"window": window, "before_tokens": before, "after_tokens": estimate(messages, specs), "elided": elided}


def _elidable(messages: list[Message]) -> list[int]:
    """Indices of messages older than the last KEEP_TURNS assistant turns, past the task message."""
    assistants = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
    if len(assistants) <= KEEP_TURNS:
        return []
    first_kept = assistants[-KEEP_TURNS]
    return [i for i in range(first_kept) if messages[i].get("role") in ("tool", "assistant")]


def _elide(message: Message) -> int:
    """Shorten one message in place; the characters saved (0: nothing to shorten)."""
    if message.get("role") == "tool":
        content = str(message.get("content") or "")
        if len(content) <= MIN_ELIDE or content.startswith("[agentic: the output of"):
            return 0
        message["content"] = DROPPED.format(tool=message.get("name") or "a tool", size=len(content))
        return len(content) - len(message["content"])
    saved = 0
    for call in message.get("tool_calls") or []:
        raw = call.get("arguments") or ""
        try:
            args = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        if not isinstance(args, dict):
            continue
        shorter = {k: ARG_DROPPED.format(size=len(v)) if isinstance(v, str) and len(v) > MIN_ELIDE else v
                   for k, v in args.items()}  # fmt: skip
        if shorter != args:
            call["arguments"] = json.dumps(shorter, ensure_ascii=False)
            saved += len(raw) - len(call["arguments"])
    return saved
