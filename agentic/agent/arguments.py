"""A tool call's arguments, as the model sent them, made safe to use: valid JSON, one object, no
duplicate key, bounded in size and depth (`parse_arguments`), and of the shape the tool's schema
says (`schema_error`). A problem is a message the model can act on."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from agentic.tools.base import Tool

MAX_ARGUMENT_CHARS = 2_000_000
MAX_ARGUMENT_DEPTH = 64  # nested arrays and objects: no tool takes more than a few


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise _Duplicate(f"duplicate key {dupes[0]!r}")
    return dict(pairs)


def parse_arguments(raw: str) -> dict[str, Any]:
    """The call's arguments as an object; ValueError with a message the model can act on."""
    if len(raw) > MAX_ARGUMENT_CHARS:
        raise ValueError(f"arguments are {len(raw)} characters; the limit is {MAX_ARGUMENT_CHARS}")
    try:
        value = json.loads(raw or "{}", object_pairs_hook=_no_duplicates)
    except _Duplicate as exc:
        raise ValueError(f"invalid arguments: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"arguments are not valid JSON: {exc.msg} at position {exc.pos}") from None
    except RecursionError:
        raise ValueError(f"arguments nest deeper than {MAX_ARGUMENT_DEPTH} levels") from None
    if not isinstance(value, dict):
        raise ValueError("arguments must be a JSON object")
    if depth(value) > MAX_ARGUMENT_DEPTH:
        raise ValueError(f"arguments nest deeper than {MAX_ARGUMENT_DEPTH} levels")
    return value


def depth(value: Any) -> int:
    """How deeply arrays and objects nest in a JSON value (counted without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in children)
    return deepest


def schema_error(tool: Tool, args: dict[str, Any]) -> str | None:
    validator = jsonschema.Draft202012Validator(tool.parameters)
    error = jsonschema.exceptions.best_match(validator.iter_errors(args))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(arguments)"
    return f"invalid arguments for {tool.name}: {where}: {error.message}"
