"""A reader that went away: `agentic … | head` closes standard output early. What is printed after
that goes nowhere, and the command itself goes on: a run completes and is journaled, a report is
written, the exit status is the command's own."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import IO


def silence(stream: IO[str]) -> None:
    """Point the stream's descriptor at /dev/null, so that nothing written to it afterwards fails,
    nor the interpreter's flush of it at exit."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)


def write_line(stream: IO[str], line: str) -> bool:
    """Write one line and flush; False (and the stream silenced) when its reader has gone."""
    try:
        stream.write(line + "\n")
        stream.flush()
    except BrokenPipeError:
        silence(stream)
        return False
    return True


def write_bytes(data: bytes) -> bool:
    """Bytes to standard output as they are (a diff to pipe into `git apply`); False (and standard
    output silenced) when its reader has gone."""
    try:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        silence(sys.stdout)
        return False
    return True
