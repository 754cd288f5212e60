"""Who sandboxed commands run as, and handing the worktree to that user.

When the harness is root, each worktree's commands run as a uid/gid of their own (sandbox_user):
process limits do not bind root, and concurrent runs must not share theirs. `adopt` gives the
worktree to that user before every command, without following a link.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass

NOBODY = (65534, 65534)  # the probe's user; a sandbox runs as a user of its own (sandbox_user)
SANDBOX_UIDS = (1_500_000_000, 100_000_000)  # first uid, how many: a range no account or subuid map uses


def sandbox_user(worktree: str) -> tuple[int, int]:
    """The uid/gid a root harness runs this worktree's commands as: one of its own, derived from the
    worktree's path. Concurrent runs (agentic eval) then neither share the per-user process limit
    (RLIMIT_NPROC), nor see each other's processes as their own to signal."""
    first, span = SANDBOX_UIDS
    uid = first + int.from_bytes(hashlib.sha256(os.fsencode(worktree)).digest()[:8], "big") % span
    return uid, uid


def default_run_as() -> tuple[int, int] | None:
    """Who commands run as: uid/gid 65534 when the harness is root, else the harness's own user."""
    return NOBODY if os.geteuid() == 0 else None


def traversable(path: str, uid: int, gid: int) -> bool:
    """May uid:gid (no supplementary groups) search this directory? ACLs are not considered."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
SETTLED_NS = 2_000_000_000  # a directory unchanged for this long is remembered as adopted


ADOPT_MAX_DEPTH = 256  # levels adopt descends (one fd and one frame each); git checks out far less deep


def adopt(root: str, uid: int, gid: int, skip: Iterable[str] = (),
          seen: dict[str, tuple[tuple[int, int, int], list[str]]] | None = None) -> int:  # fmt: skip
    """Give everything under `root` (itself included) to uid:gid; returns how many entries changed.

    Walks with directory fds (one per level) and never follows links, so a link planted in the
    tree cannot redirect it. Entries in `skip` (absolute paths) and hard-linked files are left alone.

    `seen` remembers directories already adopted: an entry can only appear in a directory by
    changing its mtime, so a directory whose inode, mtime and ctime are as remembered is not listed
    again (its subdirectories still are checked). Only directories unchanged for SETTLED_NS are
    remembered, so a change within one timestamp tick of the walk is never missed.
    """
    top = os.open(root, _DIR_FLAGS)
    try:
        st = os.fstat(top)
        changed = 0
        if (st.st_uid, st.st_gid) != (uid, gid):
            os.fchown(top, uid, gid)
            changed = 1
        walk = _Adoption(uid, gid, set(skip), {} if seen is None else seen, time.time_ns())
        return changed + walk.directory(top, root, 0)
    finally:
        os.close(top)


@dataclass
class _Adoption:
    uid: int
    gid: int
    skip: set[str]
    seen: dict[str, tuple[tuple[int, int, int], list[str]]]
    now_ns: int

    def directory(self, fd: int, path: str, depth: int) -> int:
        st = os.fstat(fd)  # before listing: a later change moves mtime, or falls in the unsettled window
        key = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
        known = self.seen.get(path)
        changed = 0
        if known is not None and known[0] == key:
            subdirs = known[1]
        else:
            changed, subdirs = self.entries(fd, path)
            if self.now_ns - max(st.st_mtime_ns, st.st_ctime_ns) > SETTLED_NS:
                self.seen[path] = (key, subdirs)
            else:
                self.seen.pop(path, None)
        for name in subdirs if depth < ADOPT_MAX_DEPTH else ():  # deeper: only the sandbox made it, it owns it
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError:
                continue
            try:
                changed += self.directory(child, os.path.join(path, name), depth + 1)
            finally:
                os.close(child)
        return changed

    def entries(self, fd: int, path: str) -> tuple[int, list[str]]:
        changed, subdirs = 0, []
        with os.scandir(fd) as entries:
            for entry in entries:
                if os.path.join(path, entry.name) in self.skip:
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                is_dir = stat.S_ISDIR(st.st_mode)
                if (st.st_uid, st.st_gid) != (self.uid, self.gid) and (is_dir or st.st_nlink == 1):
                    os.chown(entry.name, self.uid, self.gid, dir_fd=fd, follow_symlinks=False)
                    changed += 1
                if is_dir:
                    subdirs.append(entry.name)
        return changed, subdirs
