"""Directories of one process in the system's temporary directory, named after its pid
(`<prefix><pid>` or `<prefix><pid>-<more>`): the process removes its own as it ends, and the next
process to make one with the same prefix removes those that processes no longer running left (a
harness killed mid-run cannot remove anything)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def sweep(prefix: str) -> None:
    """Remove the directories with `prefix` whose process is no longer running."""
    for other in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        pid = other.name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not running(int(pid)):
            shutil.rmtree(other, ignore_errors=True)


def own_dir(prefix: str) -> Path:
    """A new directory of this process (`<prefix><pid>-<random>`, mode 0700), made after a sweep."""
    sweep(prefix)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process
    return True
