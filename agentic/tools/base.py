"""The tool seam: a Protocol, the context a tool runs in, and what it returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from agentic.errors import ToolFailure as ToolFailure  # raised by tools; defined with the other errors
from agentic.models.base import ToolSpec
from agentic.sandbox import Sandbox

# What the policy checks for a call, by kind:
#   read / write   -> the `path` argument, against path globs (writes also against protected paths)
#   command        -> the parsed argv of `command`, against command patterns
#   tests          -> the contract's test command; a plain allow / ask / deny
#   control        -> nothing to check (finish)
ToolKind = Literal["read", "write", "command", "tests", "control", "mcp"]


@dataclass
class ToolContext:
    worktree: Path
    sandbox: Sandbox | None  # bound to the worktree; None: commands cannot run
    test_command: list[str]
    timeout_s: float = 300.0
    max_output_chars: int = 30_000
    idempotency_key: str = ""
    # for tools that read many files (search, list_files): may this path be shown? (the contract decides)
    readable: Callable[[str], bool] | None = None
    seen_at: str | None = None  # the worktree's path as commands see it (the repository's own), if not its own
    said: str = ""  # the model's text in the turn that made the call (shown to a person asked to approve it)


@dataclass
class ToolResult:
    content: str  # what the model sees
    is_error: bool = False
    # structured facts for the journal and the audit: paths read / written, exit status, …
    data: dict[str, Any] = field(default_factory=dict)
    finish: bool = False  # the model proposed it is done; the gate decides


@dataclass
class WritePlan:
    """A write worked out before it happens: the harness journals it (what is there now, what will be
    there after) before `apply`, so a run resumed after a crash can tell whether the write took place."""

    path: str
    before: str | None  # paths.fingerprint of the path now (None: nothing there)
    after: str | None  # its fingerprint once applied (None: deleted)
    result: ToolResult  # what the model is told once it is applied
    apply: Callable[[], object]
    content: bytes | None = None  # what the path will hold (None: deleted), shown to a person asked to approve


class Tool(Protocol):
    name: str
    kind: ToolKind
    description: str  # written for the model
    parameters: dict[str, Any]  # strict JSON Schema of the arguments

    def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult: ...


class WriteTool(Tool, Protocol):
    """A tool of kind "write": its change is planned (and journaled) before it is applied."""

    def plan(self, args: dict[str, Any], ctx: ToolContext) -> WritePlan: ...


def spec(tool: Tool) -> ToolSpec:
    return ToolSpec(tool.name, tool.description, tool.parameters)

