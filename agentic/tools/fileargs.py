"""What the file tools share about their arguments: the checks, and the pieces of their JSON Schemas."""

from __future__ import annotations

from typing import Any

from agentic.tools.base import ToolFailure
from agentic.util import globs

PATH = {
    "type": "string",
    "minLength": 1,
    "maxLength": 4096,
    "description": "A path relative to the repository root, e.g. src/app.py.",
}
DIR = {**PATH, "description": "A directory relative to the repository root; default: the whole repository."}
GLOB = {
    "type": "string",
    "minLength": 1,
    "maxLength": 1000,
    "description": "A glob matched against the path from the repository root: '**/*.py', 'src/**/test_*.py'. "
    "'*' stays within one directory, so '*.py' only matches files at the top level.",
}


def arg_str(args: dict[str, Any], key: str, default: str | None = None) -> str | None:
    value = args.get(key, default)
    if value is not None and not isinstance(value, str):
        raise ToolFailure(f"'{key}' must be a string")
    return value


def arg_int(args: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = args.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ToolFailure(f"'{key}' must be an integer from {low} to {high}")
    return value


def checked_glob(pattern: str | None) -> str | None:
    if pattern is not None:
        try:
            globs.validate(pattern)
        except ValueError as exc:
            raise ToolFailure(f"bad glob {pattern!r}: {exc}") from None
    return pattern
