"""The model seam: one Protocol and the vendor-neutral types every adapter speaks.

The conversation is a list of plain dicts in one neutral shape, easy to journal and to replay:

    {"role": "system",    "content": str}
    {"role": "user",      "content": str}
    {"role": "assistant", "content": str, "tool_calls": [{"id": str, "name": str, "arguments": str}]}
    {"role": "tool",      "tool_call_id": str, "name": str, "content": str, "is_error": bool}

`arguments` is the raw JSON text the model produced: the harness validates it, never the adapter,
so a malformed call reaches the loop and comes back to the model as an error it can act on.
Adapters translate this shape to their vendor's wire format and the answer back into a `Turn`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

Message = dict[str, Any]


@dataclass(frozen=True)
class ToolSpec:
    """What the model is told about a tool."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text, unvalidated


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
        )

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class Turn:
    """One answer of the model."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    stop_reason: str = ""  # vendor's word, normalised where obvious: "end", "tool_calls", "max_tokens"
    model: str = ""  # the model name the provider reported
    cost_usd: float | None = None  # priced by the harness (agentic.models.pricing); None: unknown

    def to_message(self) -> Message:
        return {
            "role": "assistant",
            "content": self.text,
            "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in self.tool_calls],
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "tool_calls": [asdict(c) for c in self.tool_calls],
            "usage": self.usage.to_dict(),
            "stop_reason": self.stop_reason,
            "model": self.model,
            "cost_usd": self.cost_usd,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        return cls(
            text=data.get("text", ""),
            tool_calls=[ToolCall(**c) for c in data.get("tool_calls", [])],
            usage=Usage(**data.get("usage", {})),
            stop_reason=data.get("stop_reason", ""),
            model=data.get("model", ""),
            cost_usd=data.get("cost_usd"),
        )


@runtime_checkable
class Model(Protocol):
    """A model provider. `complete` sends the whole conversation and returns one turn.

    Raises `agentic.errors.ProviderError` when the provider fails.
    """

    name: str  # e.g. "openai:gpt-4.1-mini"

    def complete(self, messages: list[Message], tools: list[ToolSpec], *, timeout_s: float | None = None) -> Turn:
        """`timeout_s`: how long this call may take (the harness passes the run's remaining time when it
        is shorter than the request timeout); None: the adapter's configured request timeout."""
        ...


@dataclass(frozen=True)
class ModelOptions:
    """Provider-independent settings a model adapter honours."""

    base_url: str | None = None
    temperature: float | None = None
    max_output_tokens: int = 4096
    timeout_s: float = 120.0
    stream: bool = False


class ModelFactory(Protocol):
    """How a provider's adapter is built from the id after the prefix (agentic.models.PROVIDERS)."""

    def __call__(self, model_id: str, options: ModelOptions, /) -> Model: ...
