"""Where the suite keeps its temporary files: in memory, when the machine has room for them there.

The suite makes thousands of git repositories, worktrees, checkouts and journals, and fsyncs the
journals as every run does. On a disk-backed /tmp that is writeback and journaling work for the
kernel on top of the tests' own (measured with benchmarks/suite_cost.py on the 2-core CI machine:
364 CPU-s on a tmpfs against 389 on ext4, and 11 s less wall time). So, unless the person chose a
TMPDIR, the session's controller points TMPDIR at a directory of its own on /dev/shm before the
workers start, when /dev/shm is a tmpfs that lets programs run (no noexec: the tests run scripts
and virtual environments from their temporary directories) with ROOM free; every process of the
session (the workers, git, the sandbox, Ray) inherits it. What the tests check is unchanged: the
sandbox gives commands a private /tmp and /dev/shm of their own wherever the worktree lives.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

SHM = "/dev/shm"
ROOM = 4 * 1024**3  # free bytes /dev/shm must have: a session writes about 300 MB, Ray's objects aside


def _mount_options(point: str) -> list[str] | None:
    """The options of the tmpfs mounted at `point`; None when no tmpfs is mounted there."""
    try:
        mounts = Path("/proc/self/mounts").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = None
    for line in mounts.splitlines():  # the last mount at a point is the one in effect
        fields = line.split()
        if len(fields) >= 4 and fields[1] == point:
            found = fields[3].split(",") if fields[2] == "tmpfs" else None
    return found


def memory_dir() -> Path | None:
    """A directory of this user's on /dev/shm for the session's temporary files, made if needed;
    None when /dev/shm will not do (not a tmpfs, noexec, too small, or the name taken by another)."""
    options = _mount_options(SHM)
    if options is None or "noexec" in options:
        return None
    try:
        free = os.statvfs(SHM)
    except OSError:
        return None
    if free.f_bavail * free.f_frsize < ROOM:
        return None
    home = Path(SHM) / f"agentic-{os.getuid()}"
    try:
        home.mkdir(exist_ok=True)
        st = home.lstat()
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid():
            # as /tmp is: a sandbox that runs its commands as another user (as root, the landlock
            # sandbox drops to nobody) makes its own temporary directory in here
            os.chmod(home, 0o1777)
    except OSError:
        return None
    # /dev/shm is everyone's: a name made by another user (or a link) is not ours to use
    return home if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() else None


def use_memory() -> Path | None:
    """In the session's controller: TMPDIR set to memory_dir() unless the person set one. Returns
    the directory used, or None (the default temporary directory stays)."""
    if os.environ.get("TMPDIR"):
        return None
    home = memory_dir()
    if home is not None:
        os.environ["TMPDIR"] = str(home)
        tempfile.tempdir = None  # tempfile reads TMPDIR again on its next use
    return home
