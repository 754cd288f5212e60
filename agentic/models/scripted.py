"""An offline model that answers with scripted turns, in order. Used by the demo, evals and tests.

A script is a YAML list of turns (schema: agentic/schemas/script.schema.json):

    - text: Let me look around.
      tool_calls:
        - {name: list_files, arguments: {}}
    - tool_calls:
        - {name: finish, arguments: {summary: Fixed the bug.}}

Token usage is estimated (4 characters a token) unless a turn states it, so budgets bind offline too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentic import yamlfile
from agentic.errors import ScriptExhausted
from agentic.models.base import Message, ToolCall, ToolSpec, Turn, Usage


def _estimate(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


class ScriptedModel:
    def __init__(self, model_id: str, options: Any = None, *, turns: list[dict[str, Any]] | None = None) -> None:
        self.name = f"script:{model_id}"
        if turns is None:
            doc = yamlfile.load(Path(model_id))
            yamlfile.validate(doc, "script")
            turns = doc.data
        self._turns: list[dict[str, Any]] = list(turns or [])
        self._next = 0

    @property
    def remaining(self) -> int:
        return len(self._turns) - self._next

    def complete(self, messages: list[Message], tools: list[ToolSpec]) -> Turn:
        if self._next >= len(self._turns):
            raise ScriptExhausted(
                f"the scripted model {self.name} has no turn left (it had {len(self._turns)})",
                hint="add turns to the script, or end it with a finish call",
            )
        index = self._next
        self._next += 1
        turn = self._turns[index]
        calls = []
        for n, call in enumerate(turn.get("tool_calls") or []):
            args = call.get("arguments", {})
            raw = args if isinstance(args, str) else json.dumps(args)
            calls.append(ToolCall(call.get("id") or f"call_{index}_{n}", call["name"], raw))
        text = turn.get("text", "")
        prompt = "".join(str(m.get("content") or "") for m in messages)
        stated = turn.get("usage") or {}
        usage = Usage(
            input_tokens=stated.get("input_tokens", _estimate(prompt)),
            output_tokens=stated.get("output_tokens", _estimate(text + "".join(c.arguments for c in calls))),
            cached_input_tokens=stated.get("cached_input_tokens", 0),
        )
        return Turn(text, calls, usage, "tool_calls" if calls else "end", self.name)
