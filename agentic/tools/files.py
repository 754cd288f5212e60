"""The file tools: list, read, search, write, edit and delete files in the worktree.

All file access goes through agentic.paths, which refuses links, hard links, `..` and `.git`.
Errors the model can act on are raised as ToolFailure; the harness turns them into error results.
"""

from __future__ import annotations

import contextlib
import re
import signal
import stat
import threading
from collections.abc import Callable, Iterator
from typing import Any

from agentic.tools.base import Tool, ToolContext, ToolFailure, ToolKind, ToolResult, WritePlan
from agentic.util import globs, paths

# directories list_files and search do not descend into (.git is always skipped by paths.walk)
JUNK_DIRS = frozenset(
    {
        "__pycache__",
        "node_modules",
        ".venv",
        ".agentic",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
    }
)

MAX_LIST_ENTRIES = 1000
READ_MAX_BYTES = 10 * 1024 * 1024
READ_DEFAULT_LINES = 2000
READ_MAX_LINES = 5000
READ_MAX_LINE_CHARS = 2000
SEARCH_MAX_BYTES = 2 * 1024 * 1024
SEARCH_MAX_MATCHES = 200
SEARCH_LINE_CHARS = 300
BINARY_SNIFF_BYTES = 8192

_PATH = {
    "type": "string",
    "minLength": 1,
    "maxLength": 4096,
    "description": "A path relative to the repository root, e.g. src/app.py.",
}
_DIR = {**_PATH, "description": "A directory relative to the repository root; default: the whole repository."}
_GLOB = {
    "type": "string",
    "minLength": 1,
    "maxLength": 1000,
    "description": "A glob matched against the path from the repository root: '**/*.py', 'src/**/test_*.py'. "
    "'*' stays within one directory, so '*.py' only matches files at the top level.",
}


# ---------------------------------------------------------------------------------------------
# helpers


def _arg_str(args: dict[str, Any], key: str, default: str | None = None) -> str | None:
    value = args.get(key, default)
    if value is not None and not isinstance(value, str):
        raise ToolFailure(f"'{key}' must be a string")
    return value


def _arg_int(args: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = args.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ToolFailure(f"'{key}' must be an integer from {low} to {high}")
    return value


def _glob(pattern: str | None) -> str | None:
    if pattern is not None:
        try:
            globs.validate(pattern)
        except ValueError as exc:
            raise ToolFailure(f"bad glob {pattern!r}: {exc}") from None
    return pattern


def _candidates(ctx: ToolContext, base: str, pattern: str | None) -> Iterator[paths.Entry]:
    """Entries beneath `base` that match `pattern` and that the contract lets this tool show.

    The contract's filter is `ctx.readable` (a `Callable[[str], bool]`, e.g. from
    agentic.policy.readable) when the harness sets one; without it every entry is shown.
    """
    readable: Callable[[str], bool] | None = ctx.readable
    for entry in paths.walk_entries(ctx.worktree, base, JUNK_DIRS):
        if pattern is not None and not globs.match(pattern, entry.path):
            continue
        if readable is None or readable(entry.path):
            yield entry


def _is_binary(data: bytes) -> bool:
    return b"\x00" in data[:BINARY_SNIFF_BYTES]


def _shown(path: str) -> str:
    """A path as text the model can read, even for a name that is not valid UTF-8."""
    return path.encode("utf-8", "backslashreplace").decode("utf-8")


def _lines(text: str) -> list[str]:
    """Lines split on '\\n' only (as editors and grep count them), without '\\r'."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _read_text(ctx: ToolContext, rel: str) -> tuple[str, int]:
    """The UTF-8 text of a non-binary file and its size in bytes."""
    data = paths.read_bytes(ctx.worktree, rel, READ_MAX_BYTES)
    if _is_binary(data):
        raise ToolFailure(f"{rel} is a binary file ({len(data)} bytes); only text files can be read")
    return data.decode("utf-8", errors="replace"), len(data)


# ---------------------------------------------------------------------------------------------
# read tools


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
        "properties": {"path": _DIR, "pattern": _GLOB},
    }

    def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        base = paths.check_relative(_arg_str(args, "path", ".") or ".")
        pattern = _glob(_arg_str(args, "pattern"))
        entries = sorted(_candidates(ctx, base, pattern), key=lambda e: e.path)
        shown = entries[:MAX_LIST_ENTRIES]
        lines = [_shown(e.path) + (" -> (link)" if e.is_link else "") for e in shown]
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
            "path": _PATH,
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
        rel = paths.check_relative(_arg_str(args, "path") or "")
        offset = _arg_int(args, "offset", 1, 1, 10**9)
        limit = _arg_int(args, "limit", READ_DEFAULT_LINES, 1, READ_MAX_LINES)
        text, size = _read_text(ctx, rel)
        lines = _lines(text)
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


class Search:
    name = "search"
    kind: ToolKind = "read"
    description = (
        "Search the repository's text files for a Python regular expression, line by line. Results are "
        "'path:line: text'. Narrow with `path` (a directory or file) and `glob` (matched against the path "
        f"from the repository root, e.g. '**/*.py'). At most {SEARCH_MAX_MATCHES} matches are shown; "
        "binary files and files over 2 MiB are skipped."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["pattern"],
        "properties": {
            "pattern": {
                "type": "string",
                "minLength": 1,
                "maxLength": 1000,
                "description": "e.g. def \\w+_total\\(",
            },
            "path": _DIR,
            "glob": _GLOB,
        },
    }

    def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        regex = _compile_regex(_arg_str(args, "pattern") or "")
        base = paths.check_relative(_arg_str(args, "path", ".") or ".")
        pattern = _glob(_arg_str(args, "glob"))
        hits: list[str] = []
        searched = skipped = 0
        with _time_limit(SEARCH_TIMEOUT_S, f"the search took longer than {SEARCH_TIMEOUT_S:g}s: use a simpler "
                         "pattern (nested quantifiers backtrack) or narrow it with path or glob"):  # fmt: skip
            for entry in _candidates(ctx, base, pattern):
                if entry.is_link:
                    continue
                text = _searchable(ctx, entry.path)
                if text is None:
                    skipped += 1
                    continue
                searched += 1
                hits.extend(_search_text(regex, entry.path, text, SEARCH_MAX_MATCHES - len(hits)))
                if len(hits) >= SEARCH_MAX_MATCHES:
                    break
        return _search_result(regex.pattern, base, hits, searched, skipped)


SEARCH_TIMEOUT_S = 10.0


class _Expired(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float, message: str) -> Iterator[None]:
    """Bound a regex search: the model's pattern may backtrack catastrophically (ReDoS).

    Python's regex engine checks for signals while matching, so a timer signal interrupts it. Only
    the main thread receives signals; elsewhere the search runs unbounded.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise _Expired

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Expired:
        raise ToolFailure(message) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _compile_regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ToolFailure(f"invalid regular expression {pattern!r}: {exc}") from None


def _searchable(ctx: ToolContext, rel: str) -> str | None:
    """The text of a file worth searching, or None (binary, too large, unreadable, refused)."""
    try:
        data = paths.read_bytes(ctx.worktree, rel, SEARCH_MAX_BYTES)
    except ToolFailure:
        return None
    return None if _is_binary(data) else data.decode("utf-8", errors="replace")


def _search_text(regex: re.Pattern[str], rel: str, text: str, room: int) -> list[str]:
    hits: list[str] = []
    for n, line in enumerate(_lines(text), start=1):
        if regex.search(line):
            hits.append(f"{_shown(rel)}:{n}: {line.strip()[:SEARCH_LINE_CHARS]}")
            if len(hits) >= room:
                break
    return hits


def _search_result(pattern: str, base: str, hits: list[str], searched: int, skipped: int) -> ToolResult:
    data = {"path": base, "matches": len(hits), "files_searched": searched, "files_skipped": skipped,
            "truncated": len(hits) >= SEARCH_MAX_MATCHES}  # fmt: skip
    if not hits:
        return ToolResult(f"no matches for {pattern!r} in {searched} files beneath {base}", data=data)
    text = "\n".join(hits)
    if data["truncated"]:
        text += f"\n… stopped after {SEARCH_MAX_MATCHES} matches; narrow the search with path or glob"
    return ToolResult(text, data=data)


# ---------------------------------------------------------------------------------------------
# write tools


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
            "path": _PATH,
            "content": {"type": "string", "maxLength": 1_000_000, "description": "The complete new content."},
        },
    }

    def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        return _apply(self.plan(args, ctx))

    def plan(self, args: dict[str, Any], ctx: ToolContext) -> WritePlan:
        rel = paths.check_relative(_arg_str(args, "path") or "")
        content = _arg_str(args, "content")
        if content is None:
            raise ToolFailure("'content' is required")
        data = content.encode("utf-8")
        before = paths.fingerprint(ctx.worktree, rel)
        verb = "created" if before is None else "overwrote"
        result = ToolResult(f"{verb} {rel} ({len(data)} bytes)",
                            data={"path": rel, "bytes": len(data), "created": before is None})  # fmt: skip
        return WritePlan(rel, before, paths.content_fingerprint(data), result,
                         lambda: paths.write_bytes(ctx.worktree, rel, data))  # fmt: skip


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
            "path": _PATH,
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
        rel = paths.check_relative(_arg_str(args, "path") or "")
        old, new = _arg_str(args, "old_text") or "", _arg_str(args, "new_text")
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
                         result, lambda: paths.write_bytes(ctx.worktree, rel, data))  # fmt: skip


def _apply(plan: WritePlan) -> ToolResult:
    plan.apply()
    return plan.result


def _read_utf8(ctx: ToolContext, rel: str) -> str:
    data = paths.read_bytes(ctx.worktree, rel, READ_MAX_BYTES)
    if _is_binary(data):
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
        "properties": {"path": _PATH},
    }

    def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        return _apply(self.plan(args, ctx))

    def plan(self, args: dict[str, Any], ctx: ToolContext) -> WritePlan:
        rel = paths.check_relative(_arg_str(args, "path") or "")
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


FILE_TOOLS: list[Tool] = [ListFiles(), ReadFile(), Search(), WriteFile(), EditFile(), DeleteFile()]
