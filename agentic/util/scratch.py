"""Directories of one process in the system's temporary directory, named after its pid
(`<prefix><pid>` or `<prefix><pid>-<more>`), or naming it in a file inside (`owned_dir`, for a
directory whose path must not say it): the process removes its own as it ends, and the next process
to make one with the same prefix removes those that processes no longer running left (a harness
killed mid-run, an eval's host killed with its attempt, cannot remove anything).

An `owned_dir` a dead process left is only marked by the first sweep to find it and removed by a sweep
at least ORPHAN_GRACE_S later: an eval's driver salvages the journal of a try lost with its host from
that directory, and any process of the node making its own (another host of the eval, another eval)
must not remove it first."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
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
ORPHANED = ".orphaned"  # beside it, once a sweep found that process ended: when (the file's mtime)
ORPHAN_GRACE_S = 600.0  # a salvage is asked for within a minute or two of the end


def owned_dir(prefix: str) -> Path:
    """A new directory of this process named as `tempfile.mkdtemp(prefix=prefix)` names one (mode 0700;
    its path as long on every machine: a model sees it), its pid in OWNER inside; made after removing
    the directories with `prefix` whose OWNER has named a process no longer running for ORPHAN_GRACE_S.
    One without an OWNER (not made here, or its process killed before it wrote one) is left alone."""
    sweep_owned(prefix)
    made = Path(tempfile.mkdtemp(prefix=prefix))
    (made / OWNER).write_text(str(os.getpid()), encoding="ascii")
    return made


def sweep_owned(prefix: str, grace: float = ORPHAN_GRACE_S) -> None:
    """Remove the directories with `prefix` whose OWNER names a process found no longer running at
    least `grace` seconds ago; mark those found so now (ORPHANED)."""
    for other in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        try:
            pid = (other / OWNER).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if not pid.isdigit() or int(pid) == os.getpid() or running(int(pid)):
            continue
        if grace <= 0 or _orphaned_for(other / ORPHANED) >= grace:
            shutil.rmtree(other, ignore_errors=True)


def _orphaned_for(mark: Path) -> float:
    """Seconds since the first sweep found the directory's process ended (0.0: this one, which marks it)."""
    try:
        os.close(os.open(mark, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return 0.0
    except FileExistsError:
        try:
            return time.time() - mark.stat().st_mtime
        except OSError:
            return 0.0
    except OSError:  # the directory went meanwhile, or is not ours to write
        return 0.0


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process
    return True
