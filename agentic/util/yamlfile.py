"""Loading YAML configuration with positions, so every error names file, line and field.

`load(path)` parses with PyYAML's safe loader, refuses duplicate keys, and returns the data plus a
`Locator` that maps a JSON path (("tools", "read_file", "allow", 0)) back to a line number.
`validate(doc, schema_name)` checks the data against a shipped JSON Schema and raises `ConfigError`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import yaml

from agentic.errors import ConfigError
from agentic.util.safeyaml import SAFE_LOADER

JsonPath = tuple[str | int, ...]


if TYPE_CHECKING:
    _Base = yaml.SafeLoader
else:
    _Base = SAFE_LOADER  # libyaml when available: ~10x faster


class _UniqueKeyLoader(_Base):
    """Safe YAML with the types JSON has and nothing else: keys are plain scalars (never a list or
    a mapping), no key twice, and a date stays the text it was (`2024-01-01` is a string here)."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in _Base.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be a plain value, not a list or a mapping", key_node.start_mark
                )
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _finite_float(loader: Any, node: yaml.ScalarNode) -> float:
    value = float(loader.construct_yaml_float(node))
    if not math.isfinite(value):  # JSON has none, and an infinite timeout_s is no limit
        raise yaml.constructor.ConstructorError(None, None, "a number must be finite (not .inf or .nan)",
                                                node.start_mark)  # fmt: skip
    return value


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:float", _finite_float)


@dataclass
class Locator:
    root: yaml.Node | None

    def line(self, path: JsonPath) -> int | None:
        """1-based line of the deepest node of `path` that exists in the document."""
        node = self.root
        best = node.start_mark.line + 1 if node is not None else None
        for part in path:
            child = None
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if key_node.value == part:
                        child = value_node
                        best = key_node.start_mark.line + 1
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                child = node.value[part]
                best = child.start_mark.line + 1
            if child is None:
                break
            node = child
        return best


@dataclass
class Document:
    path: str  # as shown to the person
    data: Any
    locator: Locator

    def error(self, message: str, at: JsonPath = (), hint: str | None = None) -> ConfigError:
        return ConfigError(
            message, file=self.path, line=self.locator.line(at), field=dotted(at) or None, hint=hint
        )


def dotted(path: JsonPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse(text: str, display_path: str) -> Document:
    try:
        loader = _UniqueKeyLoader(text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc)
        raise ConfigError(f"invalid YAML: {problem}", file=display_path, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=display_path) from None
    return Document(display_path, data, Locator(root))


def read_text(path: Path, shown: str) -> str:
    """A configuration file's text; ConfigError (never a traceback) when it is missing or not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=shown) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", file=shown) from None
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror or exc}", file=shown) from None


def load(path: Path, display_path: str | None = None) -> Document:
    shown = display_path or str(path)
    return parse(read_text(path, shown), shown)


@cache
def schema(name: str) -> dict[str, Any]:
    text = resources.files("agentic").joinpath("schemas", f"{name}.schema.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def validate(doc: Document, schema_name: str) -> None:
    """Raise ConfigError for the most relevant schema violation of `doc`."""
    validator = jsonschema.Draft202012Validator(schema(schema_name))
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc.data))
    if error is None:
        return
    at: JsonPath = tuple(error.absolute_path)
    message = error.message
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        if extra:
            at = (*at, extra[0])
            allowed = ", ".join(sorted(error.schema.get("properties", {})))
            message = f"unknown key {extra[0]!r} (allowed: {allowed})"
    elif error.validator == "type":
        message = f"expected {error.validator_value}, got {json.dumps(error.instance)[:60]}"
    raise doc.error(message, at)
