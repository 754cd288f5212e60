"""Settings discovery and precedence.

Lowest first: built-in defaults < ~/.config/agentic/config.yaml ($XDG_CONFIG_HOME honoured)
< the repository's .agentic.yaml < AGENTIC_* environment variables < command-line flags.
Every layer is validated against agentic/schemas/settings.schema.json; errors name where.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from agentic.errors import ConfigError
from agentic.models import ModelOptions
from agentic.util import safeyaml, yamlfile

REPO_FILE = ".agentic.yaml"
DEFAULT_CONTRACT = "policies/contract.yaml"


@dataclass(frozen=True)
class Settings:
    model: str | None = None
    contract: str = DEFAULT_CONTRACT
    base_url: str | None = None
    temperature: float | None = None
    max_output_tokens: int = 4096
    request_timeout_s: float = 120.0
    stream: bool = False
    sandbox: str = "auto"  # "auto" (bubblewrap, else the Landlock fallback) or "bubblewrap" (strict)
    prices: dict[str, Any] | None = None  # provider:model -> {input, cached_input, output} per 1M tokens
    notify: dict[str, Any] | None = None  # webhook and/or command when a run ends: agentic/run/notify.py
    context_window: int | None = None  # tokens; overrides the shipped table (agentic/data/context_windows.yaml)
    rate_limits: dict[str, Any] | None = None  # provider[:model] -> {requests_per_minute, tokens_per_minute}
    # key -> where its value came from ("default", a file path, "env AGENTIC_MODEL", "flag --model")
    origins: dict[str, str] = field(default_factory=dict, compare=False)

    def model_options(self) -> ModelOptions:
        return ModelOptions(
            base_url=self.base_url,
            temperature=self.temperature,
            max_output_tokens=self.max_output_tokens,
            timeout_s=self.request_timeout_s,
            stream=self.stream,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("origins")
        return data

    def to_record(self) -> dict[str, Any]:
        """to_dict as the journal keeps it: a URL without its user, password and query, the webhook's
        also without its path (where services put the token)."""
        data = self.to_dict()
        if data.get("base_url"):
            data["base_url"] = public_url(data["base_url"])
        if isinstance(data.get("notify"), dict) and data["notify"].get("webhook"):
            data["notify"] = {**data["notify"], "webhook": public_url(data["notify"]["webhook"], path=False)}
        return data


def public_url(url: str, path: bool = True) -> str:
    """scheme://host[:port][/path] of a URL: what can be shown of it (no credentials, no query)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(a URL that does not parse)"
    rest = (parts.path if path else ("/…" if parts.path.strip("/") else "")) + ("?…" if parts.query else "")
    return f"{parts.scheme}://{host}{port}{rest}"


KEYS = [f.name for f in fields(Settings) if f.name != "origins"]


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "agentic" / "config.yaml"


def _file_layer(path: Path) -> tuple[dict[str, Any], str] | None:
    if not path.is_file():
        return None
    doc = yamlfile.load(path)
    if doc.data is None:
        return {}, str(path)
    if not isinstance(doc.data, dict):
        raise doc.error("expected a mapping of settings")
    yamlfile.validate(doc, "settings")
    return doc.data, str(path)


def _env_layer(environ: dict[str, str]) -> list[tuple[dict[str, Any], str]]:
    layers = []
    for key in KEYS:
        name = f"AGENTIC_{key.upper()}"
        if name in environ:
            raw = environ[name]
            value: Any = raw
            if key not in ("model", "contract", "base_url", "sandbox"):
                try:
                    value = safeyaml.load(raw)
                except yaml.YAMLError:
                    value = raw
            doc = yamlfile.Document(f"environment variable {name}", {key: value}, yamlfile.Locator(None))
            yamlfile.validate(doc, "settings")
            layers.append(({key: value}, f"env {name}"))
    return layers


def load_settings(
    repo_root: Path | None,
    flags: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    environ = dict(os.environ) if environ is None else environ
    values: dict[str, Any] = {}
    origins = dict.fromkeys(KEYS, "default")
    layers: list[tuple[dict[str, Any], str]] = []
    for path in (user_config_path(), repo_root / REPO_FILE if repo_root else None):
        if path is not None and (layer := _file_layer(path)) is not None:
            layers.append(layer)
    layers.extend(_env_layer(environ))
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    if given:
        doc = yamlfile.Document("command line", given, yamlfile.Locator(None))
        yamlfile.validate(doc, "settings")
        layers.append((given, "flag"))
    for data, origin in layers:
        for key, value in data.items():
            values[key] = value
            origins[key] = origin if origin != "flag" else f"flag --{key.replace('_', '-')}"
    try:
        return Settings(**values, origins=origins)
    except TypeError as exc:  # pragma: no cover - the schema rejects unknown keys first
        raise ConfigError(str(exc)) from None
