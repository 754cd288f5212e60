"""Model providers, loaded lazily by the prefix of a model name (`openai:gpt-4.1`, `script:turns.yaml`).

Provider SDKs are imported only when a model of theirs is used, so `agentic --help` stays fast.
"""

from __future__ import annotations

import importlib

from agentic.errors import UsageError
from agentic.models.base import Message, Model, ModelFactory, ModelOptions, ToolCall, ToolSpec, Turn, Usage

__all__ = [
    "PROVIDERS",
    "Message",
    "Model",
    "ModelOptions",
    "ToolCall",
    "ToolSpec",
    "Turn",
    "Usage",
    "load_model",
]


# prefix -> "module:factory"; the factory is called as factory(model_id, options) -> Model
PROVIDERS: dict[str, str] = {
    "openai": "agentic.models.openai_chat:OpenAIChatModel",
    "openai-responses": "agentic.models.openai_responses:OpenAIResponsesModel",
    "anthropic": "agentic.models.anthropic:AnthropicModel",
    "script": "agentic.models.scripted:ScriptedModel",
}


def split_model_name(name: str) -> tuple[str, str]:
    prefix, sep, model_id = name.partition(":")
    if not sep or not model_id or prefix not in PROVIDERS:
        known = ", ".join(f"{p}:…" for p in PROVIDERS)
        raise UsageError(f"unknown model {name!r}", hint=f"model names look like {known}")
    return prefix, model_id


def load_model(name: str, options: ModelOptions | None = None) -> Model:
    """Build the model named `prefix:id`. Raises UsageError / MissingCredentials before any request."""
    prefix, model_id = split_model_name(name)
    module_name, _, attr = PROVIDERS[prefix].partition(":")
    factory: ModelFactory = getattr(importlib.import_module(module_name), attr)
    return factory(model_id, options or ModelOptions())
