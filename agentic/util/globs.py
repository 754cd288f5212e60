"""Path globs for contract rules, without a dependency.

A glob is matched against a POSIX path relative to the repository root (``src/app.py``; a leading
``./``, repeated slashes and ``.`` segments are normalised away; the root itself is ``""`` or ``"."``).

    *        any run of characters within one segment (never ``/``); matches dotfiles too, so
             ``.env*`` matches ``.env.local``
    ?        one character other than ``/``
    [abc]    one character from the class; ``[!abc]`` / ``[^abc]`` negate it; ranges like ``[a-z]``
    **       as a whole segment: zero or more segments. ``src/**`` matches ``src``, ``src/a`` and
             ``src/a/b.py``; ``**/*.py`` matches ``a.py`` and ``x/y/a.py``; ``a/**/b`` matches ``a/b``.
             Elsewhere (``a**``) it is just two ``*``.
    dir/     a trailing slash means the directory and everything beneath it (same as ``dir/**``)
    !glob    (leading) every path the glob does not match: ``ask: ["!src/**"]`` asks outside src/

A glob is anchored at the repository root and matches whole paths: a pattern without ``/`` matches
only at the top level, so ``*.py`` matches ``a.py`` but not ``src/a.py`` (write ``**/*.py`` for that).
Matching is case-sensitive. A path that is absolute or has a ``..`` segment matches nothing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
FAST_STARS = 3  # up to this many wildcards (`**` counts two) a glob is matched by a regex


def validate(pattern: str) -> None:
    """Raise ValueError with a message for a person if `pattern` is not a usable glob."""
    _check(pattern)
    _build(pattern.removeprefix("!"))  # raises for an unbalanced '[' or a bad range like [z-a]


def _check(pattern: str) -> None:
    """validate's checks of the text (the glob is not built)."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise ValueError("a glob must be a non-empty string")
    if pattern.startswith("!"):
        if pattern.startswith("!!") or not pattern[1:].strip():
            raise ValueError("a negated glob is '!' followed by one glob")
        pattern = pattern[1:]
    if _CONTROL.search(pattern):
        raise ValueError("a glob must not contain NUL or control characters")
    if pattern.startswith("/"):
        raise ValueError("a glob is relative to the repository root; remove the leading '/'")
    if ".." in pattern.split("/"):
        raise ValueError("a glob must not contain a '..' segment")


def match(pattern: str, path: str) -> bool:
    """Whether the relative POSIX `path` matches the glob `pattern` (see the module docstring).

    `!glob` matches every path that `glob` does not: `ask: ["!src/**"]` asks for anything outside src/.
    """
    normal = _normalise(path)
    if normal is None:
        return False
    if pattern.startswith("!"):
        return not _compile(pattern[1:]).matches(normal)
    return _compile(pattern).matches(normal)


def match_any(patterns: Iterable[str], path: str) -> str | None:
    """The first pattern that matches `path`, or None."""
    for pattern in patterns:
        if match(pattern, path):
            return pattern
    return None


def _normalise(path: str) -> str | None:
    if path.startswith("/"):
        return None
    segments = [s for s in path.split("/") if s not in ("", ".")]
    if ".." in segments:
        return None
    return "/".join(segments)


class _Segment:
    """One glob segment without `/`, matched without backtracking: the pieces between its `*`s
    are fixed-width, so the first is matched at the start, the last at the end, and each one
    between at its leftmost place. Time is linear in the text whatever the pattern (a model's
    `*a*a*a*a*b` cannot stall the harness)."""

    def __init__(self, segment: str) -> None:
        pieces: list[list[str]] = [[]]
        i = 0
        while i < len(segment):
            char = segment[i]
            if char == "*":
                pieces.append([])
            elif char == "?":
                pieces[-1].append("[^/]")
            elif char == "[":
                regex, i = _translate_class(segment, i)
                pieces[-1].append(regex)
                continue
            else:
                pieces[-1].append(re.escape(char))
            i += 1
        try:
            self.pieces = [(re.compile("".join(atoms), re.DOTALL), len(atoms)) for atoms in pieces]
        except re.error as exc:
            raise ValueError(f"bad character class: {exc.msg}") from None

    def matches(self, text: str) -> bool:
        (first, first_len), *middle_last = self.pieces
        if not middle_last:
            return len(text) == first_len and first.fullmatch(text) is not None
        *middle, (last, last_len) = middle_last
        end = len(text) - last_len
        if end < first_len or first.match(text, 0, first_len) is None or last.fullmatch(text, end) is None:
            return False
        pos = first_len
        for piece, width in middle:
            found = piece.search(text, pos, end)
            if found is None:
                return False
            pos = found.start() + width
        return True


class _Glob:
    """A whole-path glob: segments, `**` (None) spanning zero or more path segments."""

    def __init__(self, pattern: str) -> None:
        if pattern.endswith("/"):
            pattern = pattern.rstrip("/") + "/**"
        self.segments = [s for s in pattern.split("/") if s not in ("", ".")]
        stars = sum(part.count("*") for part in self.segments if part != "**") + 2 * self.segments.count("**")
        # few wildcards cannot backtrack far: the C regex engine is then the faster way
        self.regex: re.Pattern[str] | None = None
        if stars <= FAST_STARS:
            try:
                self.regex = re.compile(_translate(self.segments), re.DOTALL)
            except re.error as exc:
                raise ValueError(f"bad character class: {exc.msg}") from None
        else:
            _ = self.parts  # built now: a bad character class is refused here

    @functools.cached_property
    def parts(self) -> list[_Segment | None]:
        """The segments for the linear matcher (built only when the regex is not used)."""
        return [None if part == "**" else _Segment(part) for part in self.segments]

    def matches(self, path: str) -> bool:
        if self.regex is not None:
            return self.regex.fullmatch(path) is not None
        names = path.split("/") if path else []
        parts = self.parts
        # reach[j]: the first j path segments are matched by the pattern's parts so far (O(parts * names))
        reach = [True] + [False] * len(names)
        for part in parts:
            if part is None:
                for j in range(1, len(names) + 1):
                    reach[j] = reach[j] or reach[j - 1]
            else:
                reach = [False] + [reach[j - 1] and part.matches(names[j - 1]) for j in range(1, len(names) + 1)]
        return reach[len(names)]


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str) -> _Glob:
    _check(pattern)
    return _build(pattern)  # once: validate() would build it a second time


def _build(pattern: str) -> _Glob:
    return _Glob(pattern)


def _translate(segments: list[str]) -> str:
    """A regex for whole paths from glob segments; ``**`` segments span zero or more path segments."""
    out = ""
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        after_globstar = i > 0 and segments[i - 1] == "**"  # which already ended with its "/"
        sep = "" if i == 0 or after_globstar else "/"
        if segment == "**":
            if last:
                out += "(?:/.*)?" if sep else ".*"
            else:
                out += sep + "(?:.*/)?"
        else:  # the lookahead: a segment is never empty, so `*` alone does not match the root
            out += sep + "(?=[^/])" + _translate_segment(segment)
    return out


def _translate_segment(segment: str) -> str:
    """A regex for one segment: ``*``, ``?`` and ``[...]`` never match ``/``."""
    out: list[str] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            regex, i = _translate_class(segment, i)
            out.append(regex)
            continue
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _translate_class(segment: str, start: int) -> tuple[str, int]:
    """Translate the class opening at segment[start]; returns the regex and the index after ``]``."""
    i = start + 1
    negate = i < len(segment) and segment[i] in "!^"
    if negate:
        i += 1
    body: list[str] = []
    first = True
    while i < len(segment) and (segment[i] != "]" or first):
        char = segment[i]
        body.append(char if char == "-" and not first else re.escape(char))
        first = False
        i += 1
    if i >= len(segment):
        raise ValueError(f"unbalanced '[' in {segment!r}")
    inner = "".join(body)
    return ("[^/" + inner + "]" if negate else "(?!/)[" + inner + "]"), i + 1
