"""Writing a report file: a path that cannot be written is the user's to fix (UsageError), not a crash."""

from __future__ import annotations

from pathlib import Path

from agentic.errors import UsageError


def write_file(path: str | Path, text: str) -> None:
    """Write a report as UTF-8 text; the directory must exist. A path Python holds with surrogate escapes
    (a directory whose name is not UTF-8) is written as the escape (`caf\\udce9`), as the terminal shows
    it: the file stays valid UTF-8 (and its XML or JSON valid)."""
    try:
        Path(path).write_text(text, encoding="utf-8", errors="backslashreplace")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
