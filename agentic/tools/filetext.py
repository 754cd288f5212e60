"""How the file tools see the worktree's files: which entries they may show, and files as text.

All file access goes through agentic.util.paths, which refuses links, hard links, `..` and `.git`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from agentic.tools.base import ToolContext, ToolFailure
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

READ_MAX_BYTES = 10 * 1024 * 1024
BINARY_SNIFF_BYTES = 8192


def candidates(ctx: ToolContext, base: str, pattern: str | None) -> Iterator[paths.Entry]:
    """Entries beneath `base` that match `pattern` and that the contract lets this tool show.

    The contract's filter is `ctx.readable` (a `Callable[[str], bool]`, e.g. from
    agentic.policy.engine.readable) when the harness sets one; without it every entry is shown.
    """
    readable: Callable[[str], bool] | None = ctx.readable
    for entry in paths.walk_entries(ctx.worktree, base, JUNK_DIRS):
        if pattern is not None and not globs.match(pattern, entry.path):
            continue
        if readable is None or readable(entry.path):
            yield entry


def is_binary(data: bytes) -> bool:
    return b"\x00" in data[:BINARY_SNIFF_BYTES]


def printable(path: str) -> str:
    """A path as text the model can read, even for a name that is not valid UTF-8."""
    return path.encode("utf-8", "backslashreplace").decode("utf-8")


def lines_of(text: str) -> list[str]:
    """Lines split on '\\n' only (as editors and grep count them), without '\\r'."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_text(ctx: ToolContext, rel: str) -> tuple[str, int]:
    """The UTF-8 text of a non-binary file and its size in bytes."""
    data = paths.read_bytes(ctx.worktree, rel, READ_MAX_BYTES)
    if is_binary(data):
        raise ToolFailure(f"{rel} is a binary file ({len(data)} bytes); only text files can be read")
    return data.decode("utf-8", errors="replace"), len(data)
