"""What model calls cost: a price table shipped as data (agentic/data/prices.yaml), overridable and
extendable in settings (`prices:`), turning token usage into US dollars.

`openai-responses:` models use the `openai:` prices. A scripted model costs nothing. A model with no
price has an unknown cost (None): cost limits cannot bind for it, token limits still do, and the
run says so once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from agentic.models.base import Usage
from agentic.util import safeyaml

PER = 1_000_000  # prices are per million tokens


@dataclass(frozen=True)
class Price:
    input: float
    cached_input: float
    output: float

    def cost(self, usage: Usage) -> float:
        """Dollars for one call: cached prompt tokens at their price, the rest of the prompt at input."""
        cached = min(usage.cached_input_tokens, usage.input_tokens)
        return ((usage.input_tokens - cached) * self.input + cached * self.cached_input
                + usage.output_tokens * self.output) / PER  # fmt: skip


FREE = Price(0.0, 0.0, 0.0)


@cache
def shipped() -> dict[str, Price]:
    text = resources.files("agentic").joinpath("data", "prices.yaml").read_text("utf-8")
    return {key: _price(value) for key, value in (safeyaml.load(text) or {}).items()}


def _price(value: dict[str, Any]) -> Price:
    return Price(float(value["input"]), float(value.get("cached_input", value["input"])), float(value["output"]))


def price_of(model: str, overrides: dict[str, Any] | None = None) -> Price | None:
    """The price of `provider:model` (settings first, then the shipped table), or None when unknown."""
    prefix, _, model_id = model.partition(":")
    family = "openai" if prefix == "openai-responses" else prefix
    table = {**shipped(), **{k: _price(v) for k, v in (overrides or {}).items()}}
    candidates = [k for k in table if k.startswith(f"{family}:") and model_id.startswith(k.partition(":")[2])]
    if candidates:  # the longest key the id starts with; `provider:` alone prices all of its models
        return table[max(candidates, key=len)]
    return FREE if prefix == "script" else None
