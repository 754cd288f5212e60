"""The tools that change the worktree: write_file, edit_file and delete_file.

Each plans its change first (agentic.tools.base.WritePlan): the harness journals the plan before it applies it.
Errors the model can act on are raised as ToolFailure; the harness turns them into error results.
"""

from __future__ import annotations

import stat
from typing import Any

from agentic.tools.base import ToolContext, ToolFailure, ToolKind, ToolResult, WritePlan
from agentic.tools.fileargs import PATH, arg_str
from agentic.tools.filetext import READ_MAX_BYTES, is_binary
from agentic.util import paths


class WriteFile:
    name = "write_file"
    kind: ToolKind = "write"
    description = (
        "Create a file, or replace the whole content of an existing one, with `content` (UTF-8 text). "
        "Missing parent directories are created. To change part of an existing file, prefer edit_file."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["path", "content"],
        "properties": {
            "path": PATH,
            "content": {"type": "string", "maxLength": 1_000_000, "description": "The complete new content."},
        },
    }

    def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        return _apply(self.plan(args, ctx))

    def plan(self, args: dict[str, Any], ctx: ToolContext) -> WritePlan:
        rel = paths.check_relative(arg_str(args, "path") or "")
        content = arg_str(args, "content")
        if content is None:
            raise ToolFailure("'content' is required")
        data = content.encode("utf-8")
        before = paths.fingerprint(ctx.worktree, rel)
        verb = "created" if before is None else "overwrote"
        result = ToolResult(f"{verb} {rel} ({len(data)} bytes)",
                            data={"path": rel, "bytes": len(data), "created": before is None})  # fmt: skip
        return WritePlan(rel, before, paths.content_fingerprint(data), result,
                         lambda: paths.write_bytes(ctx.worktree, rel, data), data)  # fmt: skip


class EditFile:
    name = "edit_file"
    kind: ToolKind = "write"
    description = (
        "Replace one exact piece of text in a file. `old_text` must occur exactly once in the file, "
        "character for character including indentation (copy it from read_file output without the line "
        "numbers); include a few surrounding lines to make it unique. `new_text` replaces it."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["path", "old_text", "new_text"],
        "properties": {
            "path": PATH,
            "old_text": {
                "type": "string",
                "minLength": 1,
                "maxLength": 1_000_000,
                "description": "Text to replace.",
            },
            "new_text": {"type": "string", "maxLength": 1_000_000, "description": "Its replacement."},
        },
    }

    def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        return _apply(self.plan(args, ctx))

    def plan(self, args: dict[str, Any], ctx: ToolContext) -> WritePlan:
        rel = paths.check_relative(arg_str(args, "path") or "")
        old, new = arg_str(args, "old_text") or "", arg_str(args, "new_text")
        if not old or new is None:
            raise ToolFailure("'old_text' (non-empty) and 'new_text' are required")
        if old == new:
            raise ToolFailure("old_text and new_text are identical; nothing to change")
        text = _read_utf8(ctx, rel)
        if old not in text and "\r\n" in text:  # the model saw CRLF lines without their '\r'
            old, new = old.replace("\n", "\r\n"), new.replace("\n", "\r\n")
        at = _unique(text, old, rel)
        data = (text[:at] + new + text[at + len(old) :]).encode("utf-8")
        line = text.count("\n", 0, at) + 1
        result = ToolResult(f"edited {rel} at line {line} ({len(data)} bytes)",
                            data={"path": rel, "bytes": len(data), "created": False, "line": line})  # fmt: skip
        return WritePlan(rel, paths.content_fingerprint(text.encode("utf-8")), paths.content_fingerprint(data),
                         result, lambda: paths.write_bytes(ctx.worktree, rel, data), data)  # fmt: skip


def _apply(plan: WritePlan) -> ToolResult:
    plan.apply()
    return plan.result


def _read_utf8(ctx: ToolContext, rel: str) -> str:
    data = paths.read_bytes(ctx.worktree, rel, READ_MAX_BYTES)
    if is_binary(data):
        raise ToolFailure(f"{rel} is a binary file; edit_file changes text files only")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolFailure(f"{rel} is not valid UTF-8; use write_file to replace it whole") from None


def _unique(text: str, old: str, rel: str) -> int:
    """The index of the only occurrence of `old` in `text` (overlapping occurrences count)."""
    first = text.find(old)
    if first < 0:
        raise ToolFailure(
            f"old_text not found in {rel}; read_file it and copy the text exactly, with its indentation"
        )
    count, at = 1, text.find(old, first + 1)
    while at >= 0:
        count += 1
        at = text.find(old, at + 1)
    if count > 1:
        raise ToolFailure(
            f"old_text occurs {count} times in {rel}; include more surrounding lines to make it unique"
        )
    return first


class DeleteFile:
    name = "delete_file"
    kind: ToolKind = "write"
    description = "Delete one file (or symbolic link) of the repository. Directories cannot be deleted."
    parameters: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["path"],
        "properties": {"path": PATH},
    }

    def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        return _apply(self.plan(args, ctx))

    def plan(self, args: dict[str, Any], ctx: ToolContext) -> WritePlan:
        rel = paths.check_relative(arg_str(args, "path") or "")
        st = paths.stat(ctx.worktree, rel)
        if st is None:
            raise ToolFailure(f"{rel}: no such file")
        if stat.S_ISDIR(st.st_mode):
            raise ToolFailure(f"{rel} is a directory; only files and links can be deleted")
        kind = "link" if stat.S_ISLNK(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) else "other"
        what = "symbolic link" if kind == "link" else "file"
        result = ToolResult(f"deleted {what} {rel}", data={"path": rel, "deleted": kind})
        return WritePlan(rel, paths.fingerprint(ctx.worktree, rel), None, result,
                         lambda: paths.delete(ctx.worktree, rel))  # fmt: skip
