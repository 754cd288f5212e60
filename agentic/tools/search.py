"""The search tool: a regular expression over the worktree's text files, bounded in matches and time."""

from __future__ import annotations

import contextlib
import re
import signal
import threading
from collections.abc import Iterator
from typing import Any

from agentic.tools.base import ToolContext, ToolFailure, ToolKind, ToolResult
from agentic.tools.fileargs import DIR, GLOB, arg_str, checked_glob
from agentic.tools.filetext import candidates, is_binary, lines_of, printable
from agentic.util import paths

SEARCH_MAX_BYTES = 2 * 1024 * 1024
SEARCH_MAX_MATCHES = 200
SEARCH_LINE_CHARS = 300


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
            "path": DIR,
            "glob": GLOB,
        },
    }

    def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        regex = _compile_regex(arg_str(args, "pattern") or "")
        base = paths.check_relative(arg_str(args, "path", ".") or ".")
        pattern = checked_glob(arg_str(args, "glob"))
        hits: list[str] = []
        searched = skipped = 0
        with _time_limit(SEARCH_TIMEOUT_S, f"the search took longer than {SEARCH_TIMEOUT_S:g}s: use a simpler "
                         "pattern (nested quantifiers backtrack) or narrow it with path or glob"):  # fmt: skip
            for entry in candidates(ctx, base, pattern):
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
    return None if is_binary(data) else data.decode("utf-8", errors="replace")


def _search_text(regex: re.Pattern[str], rel: str, text: str, room: int) -> list[str]:
    hits: list[str] = []
    for n, line in enumerate(lines_of(text), start=1):
        if regex.search(line):
            hits.append(f"{printable(rel)}:{n}: {line.strip()[:SEARCH_LINE_CHARS]}")
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
