"""What a person asked to approve a write sees of it: a unified diff, or a new file's content.

The write is planned (as it would be applied) without being applied; a plan that cannot apply (an
`old_text` not found, say) is shown as the error the model would get.
"""

from __future__ import annotations

import difflib
from typing import Any

from agentic.tools.base import Tool, ToolContext, ToolFailure, WriteTool
from agentic.tools.filetext import READ_MAX_BYTES, is_binary
from agentic.util import paths

MAX_LINES = 400  # of a diff or a content preview; the rest is counted


def preview(tool: Tool, args: dict[str, Any], ctx: ToolContext) -> str:
    """The change a write tool would make, as text for a person ("" for other tools)."""
    if tool.kind != "write" or not hasattr(tool, "plan"):
        return ""
    writer: WriteTool = tool  # type: ignore[assignment]
    try:
        plan = writer.plan(args, ctx)
        before = paths.read_bytes(ctx.worktree, plan.path, READ_MAX_BYTES) if plan.before is not None else None
    except (ToolFailure, OSError) as exc:
        return f"({tool.name} would fail: {exc})"
    return change(plan.path, before, plan.content)


def change(path: str, before: bytes | None, after: bytes | None) -> str:
    """A unified diff of `path` from `before` to `after` (None: absent), or the new file's content."""
    if any(data is not None and is_binary(data) for data in (before, after)):
        sizes = " → ".join(f"{len(d)} bytes" if d is not None else "absent" for d in (before, after))
        return f"(binary file: {sizes})"
    old = _lines(before)
    new = _lines(after)
    if before is None:
        return _capped([f"new file {path} ({len(new)} lines):", *(line.rstrip("\n") for line in new)])
    diff = difflib.unified_diff(old, new, f"a/{path}", "/dev/null" if after is None else f"b/{path}")
    return _capped([line.rstrip("\n") for line in diff])


def _lines(data: bytes | None) -> list[str]:
    if data is None:
        return []
    return data.decode("utf-8", errors="replace").splitlines(keepends=True)


def _capped(lines: list[str]) -> str:
    if len(lines) <= MAX_LINES:
        return "\n".join(lines)
    return "\n".join([*lines[:MAX_LINES], f"[… {len(lines) - MAX_LINES} more lines]"])
