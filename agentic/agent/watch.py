"""Stuck detection: the same call, or the same error, again and again."""

from __future__ import annotations

import json
from dataclasses import dataclass

from agentic.models.base import ToolCall
from agentic.policy.budget import Stuck
from agentic.tools.base import ToolResult

REPEATED = ("\n[agentic: {what} {n} times in a row. Change your approach: one more and the run ends "
            "as stuck.]")  # fmt: skip


@dataclass
class Repeats:
    limit: int  # the contract's limits.max_repeats
    count: int = 0  # identical calls or errors in a row
    last_call: tuple[str, str] | None = None
    last_error: str | None = None

    def see(self, call: ToolCall, result: ToolResult) -> str:
        """A warning (for the model) at `limit` identical calls or errors in a row; Stuck at one more."""
        try:
            args = json.dumps(json.loads(call.arguments), sort_keys=True)
        except (ValueError, RecursionError):
            args = call.arguments
        same_call = (call.name, args) == self.last_call
        same_error = result.is_error and result.content == self.last_error
        self.count = self.count + 1 if same_call or same_error else 1
        self.last_call, self.last_error = (call.name, args), result.content if result.is_error else None
        what = f"you called {call.name} with the same arguments" if same_call else "the same error came back"
        if self.count > self.limit:
            raise Stuck(f"the agent is stuck: {what.replace('you', 'it')} {self.count} times in a row")
        return REPEATED.format(n=self.count, what=what) if self.count == self.limit else ""
