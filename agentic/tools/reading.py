"""The tools that read the worktree: list_files and read_file."""

from __future__ import annotations

from typing import Any

from agentic.tools.base import ToolContext, ToolFailure, ToolKind, ToolResult
from agentic.tools.fileargs import DIR, GLOB, PATH, arg_int, arg_str, checked_glob
from agentic.tools.filetext import candidates, lines_of, printable, read_text
from agentic.util import paths

MAX_LIST_ENTRIES = 1000
READ_DEFAULT_LINES = 2000
READ_MAX_LINES = 5000
READ_MAX_LINE_CHARS = 2000


class ListFiles:
    name = "list_files"
    kind: ToolKind = "read"
    description = (
        "List the files beneath a directory of the repository (default: all of it), one path per line "
        "relative to the repository root, sorted. Optionally filter with a glob that is matched against "
        "that full path from the repository root (use '**/*.py' for Python files at any depth). "
        "Symbolic links are marked ' -> (link)'. .git and generated directories (__pycache__, "
        f"node_modules, .venv, caches) are skipped. At most {MAX_LIST_ENTRIES} paths are shown."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"path": DIR, "pattern": GLOB},
    }

    def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        base = paths.check_relative(arg_str(args, "path", ".") or ".")
        pattern = checked_glob(arg_str(args, "pattern"))
        entries = sorted(candidates(ctx, base, pattern), key=lambda e: e.path)
        shown = entries[:MAX_LIST_ENTRIES]
        lines = [printable(e.path) + (" -> (link)" if e.is_link else "") for e in shown]
        if not lines:
            lines = [
                f"(no files match {pattern!r} beneath {base})" if pattern else f"(no files beneath {base})"
            ]
        left_out = len(entries) - len(shown)
        if left_out:
            lines.append(f"… {left_out} more files not shown; narrow the listing with path or pattern")
        data = {"path": base, "pattern": pattern, "entries": len(shown), "total": len(entries)}
        return ToolResult("\n".join(lines), data=data)


class ReadFile:
    name = "read_file"
    kind: ToolKind = "read"
    description = (
        "Read a text file of the repository. Each line is shown as its line number, a tab and the line "
        f"(numbers are not part of the file). Shows up to {READ_DEFAULT_LINES} lines from line `offset` "
        "(default 1); use offset and limit to page through a long file. Binary files and files over "
        f"10 MiB cannot be read; lines longer than {READ_MAX_LINE_CHARS} characters are cut."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["path"],
        "properties": {
            "path": PATH,
            "offset": {"type": "integer", "minimum": 1, "description": "The first line to show (1-based)."},
            "limit": {
                "type": "integer",
                "minimum": 1,
                "maximum": READ_MAX_LINES,
                "description": "How many lines.",
            },
        },
    }

    def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        rel = paths.check_relative(arg_str(args, "path") or "")
        offset = arg_int(args, "offset", 1, 1, 10**9)
        limit = arg_int(args, "limit", READ_DEFAULT_LINES, 1, READ_MAX_LINES)
        text, size = read_text(ctx, rel)
        lines = lines_of(text)
        data: dict[str, Any] = {"path": rel, "bytes": size, "lines": len(lines)}
        if not lines:
            return ToolResult(f"({rel} is empty)", data={**data, "shown": 0})
        if offset > len(lines):
            raise ToolFailure(f"offset {offset} is past the end: {rel} has {len(lines)} lines")
        chunk = lines[offset - 1 : offset - 1 + limit]
        out = [f"{n:>6}\t{_cut(line)}" for n, line in enumerate(chunk, start=offset)]
        remaining = len(lines) - (offset - 1 + len(chunk))
        if remaining > 0:
            out.append(
                f"… {remaining} more lines; call read_file with offset={offset + len(chunk)} to continue"
            )
        return ToolResult("\n".join(out), data={**data, "offset": offset, "shown": len(chunk)})


def _cut(line: str) -> str:
    if len(line) <= READ_MAX_LINE_CHARS:
        return line
    return line[:READ_MAX_LINE_CHARS] + f"… [{len(line) - READ_MAX_LINE_CHARS} more characters]"
