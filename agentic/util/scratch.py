"""Directories of one process in the system's temporary directory, named after its pid
(`<prefix><pid>` or `<prefix><pid>-<more>`), or naming it in a file inside (`owned_dir`, for a
directory whose path must not say it): the process removes its own as it ends, and the next process
to make one with the same prefix removes those that processes no longer running left (a harness
killed mid-run, an eval's host killed with its attempt, cannot remove anything)."""

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


OWNER = ".owner"  # inside a directory owned_dir made: the pid of the process it belongs to


def owned_dir(prefix: str) -> Path:
    """A new directory of this process named as `tempfile.mkdtemp(prefix=prefix)` names one (mode 0700;
    its path as long on every machine: a model sees it), its pid in OWNER inside; made after removing
    the directories with `prefix` whose OWNER names a process no longer running. One without an OWNER
    (not made here, or its process killed before it wrote one) is left alone."""
    sweep_owned(prefix)
    made = Path(tempfile.mkdtemp(prefix=prefix))
    (made / OWNER).write_text(str(os.getpid()), encoding="ascii")
    return made


def sweep_owned(prefix: str) -> None:
    """Remove the directories with `prefix` whose OWNER names a process no longer running."""
    for other in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        try:
            pid = (other / OWNER).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if pid.isdigit() and int(pid) != os.getpid() and not running(int(pid)):
            shutil.rmtree(other, ignore_errors=True)


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process
    return True
