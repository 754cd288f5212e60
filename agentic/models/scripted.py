"""An offline model that answers with scripted turns, in order. Used by the demo, evals and tests.

A script is a YAML list of turns (schema: agentic/schemas/script.schema.json):

    - text: Let me look around.
      tool_calls:
        - {name: list_files, arguments: {}}
    - tool_calls:
        - {name: finish, arguments: {summary: Fixed the bug.}}

Token usage is estimated (4 characters a token) unless a turn states it, so budgets bind offline too.

Like a remote API, the model keeps no state between calls: it answers the conversation's N-th
model call with turn N (N counts the assistant messages already in the conversation, minus
`offset`). So a resumed run picks up where its script left off, and a script given to
`agentic fork` answers from the fork point (the fork sets `offset`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentic.errors import ScriptExhausted
from agentic.models.base import Message, ToolCall, ToolSpec, Turn, Usage
from agentic.util import yamlfile


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
        self.offset = 0  # assistant messages of the conversation that this script did not write

    def complete(self, messages: list[Message], tools: list[ToolSpec], *, timeout_s: float | None = None) -> Turn:
        index = sum(1 for m in messages if m.get("role") == "assistant") - self.offset
        if not 0 <= index < len(self._turns):
            raise ScriptExhausted(
                f"the scripted model {self.name} has no turn left (it had {len(self._turns)})",
                hint="add turns to the script, or end it with a finish call",
            )
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
