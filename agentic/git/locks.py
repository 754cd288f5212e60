"""Git's lock files left by a git that died with the harness: wait while a live process still holds
one, remove it once nobody does."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

POLL_S = 0.01


def held_open(paths: Iterable[Path]) -> bool | None:
    """Whether a live process has one of `paths` open (git holds its lock file open while it works);
    None when this system cannot tell (no /proc)."""
    wanted = {os.path.abspath(p) for p in paths}
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return None
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # gone, or another user's
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") in wanted:
                    return True
            except OSError:
                continue
    return False


def clear_stale(locks: Iterable[Path], settle_s: float = 2.0) -> None:
    """Remove the lock files once no live process holds them, waiting at most `settle_s` for one that
    does (a git of a dead harness, still finishing). Where that cannot be told, wait `settle_s` while
    they exist. Only for locks the caller knows no live harness of its own is using."""
    locks = list(locks)
    deadline = time.monotonic() + settle_s
    while time.monotonic() < deadline:
        present = [lock for lock in locks if lock.exists()]
        if not present or held_open(present) is False:
            break
        time.sleep(POLL_S)
    for lock in locks:
        lock.unlink(missing_ok=True)
