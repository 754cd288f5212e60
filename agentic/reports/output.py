"""Writing a report file: a path that cannot be written is the user's to fix (UsageError), not a crash."""

from __future__ import annotations

from pathlib import Path

from agentic.errors import UsageError


def write_file(path: str | Path, text: str) -> None:
    """Write a report as UTF-8 text; the directory must exist."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
