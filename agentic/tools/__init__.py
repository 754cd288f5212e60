"""The built-in tools, by name. The contract's `tools:` section refers to these names."""

from __future__ import annotations

from agentic.tools.base import Tool, ToolContext, ToolFailure, ToolResult, spec
from agentic.tools.commands import Finish, RunCommand, RunTests
from agentic.tools.files import FILE_TOOLS


def builtin_tools() -> dict[str, Tool]:
    tools: list[Tool] = [*FILE_TOOLS, RunTests(), RunCommand(), Finish()]
    return {t.name: t for t in tools}


__all__ = ["Tool", "ToolContext", "ToolFailure", "ToolResult", "builtin_tools", "spec"]
