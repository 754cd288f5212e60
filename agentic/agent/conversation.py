"""The conversation with the model: its messages, how much of it was sent, and what the loop adds to it."""

from __future__ import annotations

from dataclasses import dataclass, field

from agentic.agent import context
from agentic.agent.dispatch import for_model
from agentic.journal.records import Journal
from agentic.models.base import Message, ToolCall, ToolSpec, Turn
from agentic.tools.base import ToolResult

TOOL_OUTPUT_CHARS = 30_000  # of one tool result, as the model sees it (head and tail kept)


@dataclass
class Conversation:
    specs: list[ToolSpec]
    window: int | None = None  # the model's context window in tokens (None: unknown, nothing is elided)
    messages: list[Message] = field(default_factory=list)
    sent: int = 0  # messages already journaled with a model.request

    @classmethod
    def opening(cls, system: str, task: str, specs: list[ToolSpec], window: int | None = None) -> Conversation:
        return cls(specs, window, [{"role": "system", "content": system}, {"role": "user", "content": task}])

    def send(self, journal: Journal | None, model: str, step: int, output_cap: int) -> None:
        """Fit the messages into the window, then journal what is new since the last request (nothing
        when `journal` is None: a resumed run's recorded request is on disk already)."""
        trim = context.fit(self.messages, self.specs, self.window, output_cap)
        if journal is not None:
            if trim is not None:
                journal.append("context.trim", trim, step=step)
            journal.append("model.request", {"model": model, "from": self.sent, "messages": self.messages[self.sent :]},
                           step=step)  # fmt: skip
        self.sent = len(self.messages)

    def estimate(self) -> int:
        """The prompt's size in tokens, roughly."""
        return context.estimate(self.messages, self.specs)

    def receive(self, turn: Turn) -> None:
        self.messages.append(turn.to_message())

    def reply(self, call: ToolCall, result: ToolResult, content: str | None = None) -> None:
        text = content if content is not None else for_model(result, TOOL_OUTPUT_CHARS)
        self.messages.append({"role": "tool", "tool_call_id": call.id, "name": call.name,
                              "content": f"<tool_output>\n{text}\n</tool_output>", "is_error": result.is_error})  # fmt: skip

    def say(self, text: str) -> None:
        """A message of the harness, as the user."""
        self.messages.append({"role": "user", "content": text})
