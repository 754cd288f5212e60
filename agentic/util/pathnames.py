"""The first check on a path chosen by an untrusted model: the string itself.

`check_relative` refuses a path string that could mean something other than a plain relative path
(absolute, ``~``, ``..``, control or invisible characters, percent-encoded dots and slashes,
over-long names, anything inside ``.git``) and returns it normalised. agentic.util.paths then
reaches it beneath the worktree without following links.
"""

from __future__ import annotations

import re
import unicodedata

from agentic.errors import ToolFailure

MAX_COMPONENT_BYTES = 255
MAX_PATH_BYTES = 4096

_PERCENT = re.compile(r"%(2e|2f|5c)", re.IGNORECASE)
_INVISIBLE_RANGES = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x200B, 0x200F),  # zero-width space / joiners, LRM, RLM
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x2064),  # word joiner, invisible operators
    (0x2066, 0x2069),  # bidi isolates
    (0xFEFF, 0xFEFF),  # zero-width no-break space (BOM)
    (0xE0000, 0xE007F),  # tag characters
)


class PathRefused(ToolFailure):
    """A path the model may not use: it could reach outside the worktree or into .git."""


def check_relative(path: str) -> str:
    """The normalised POSIX relative form of `path` (``"."`` for the root), or PathRefused."""
    if not isinstance(path, str):
        raise PathRefused("a path must be a string")
    _check_characters(path)
    if path.startswith("/"):
        raise PathRefused(f"{path!r} is absolute; use a path relative to the repository root")
    if path.startswith("~"):
        raise PathRefused(f"{path!r} starts with '~'; use a path relative to the repository root")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PathRefused(f"{path!r} contains '..'; paths must stay inside the repository")
    _check_lengths(path, parts)
    if any(p.casefold() == ".git" for p in parts):
        raise PathRefused(f"{path!r} is inside .git, which no tool may touch")
    return "/".join(parts) or "."


def _check_characters(path: str) -> None:
    for char in path:
        code = ord(char)
        if code < 0x20 or 0x7F <= code <= 0x9F:
            raise PathRefused(f"the path contains a control character (U+{code:04X})")
        if _is_invisible(char):
            raise PathRefused(f"the path contains an invisible or bidi character (U+{code:04X})")
    if "\\" in path:
        raise PathRefused("the path contains '\\'; use '/' to separate directories")
    if _PERCENT.search(path):
        raise PathRefused("the path contains a percent-encoded '.', '/' or '\\'; write it plainly")


def _is_invisible(char: str) -> bool:
    code = ord(char)
    if any(lo <= code <= hi for lo, hi in _INVISIBLE_RANGES):
        return True
    return unicodedata.category(char) in ("Cf", "Cs")  # other format characters, lone surrogates


def _check_lengths(path: str, parts: list[str]) -> None:
    if len(path.encode("utf-8")) > MAX_PATH_BYTES:
        raise PathRefused(f"the path is longer than {MAX_PATH_BYTES} bytes")
    for part in parts:
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            raise PathRefused(f"a path component is longer than {MAX_COMPONENT_BYTES} bytes: {part[:40]!r}…")


def split_relative(rel: str) -> list[str]:
    """The components of a checked relative path (none for the root)."""
    normal = check_relative(rel)
    return [] if normal == "." else normal.split("/")
