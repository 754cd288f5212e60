"""A cheap proof that a worktree has not changed since it was last staged: its stat seal.

Staging the worktree after a command costs two or three git processes (agentic.git.staging), most
often to find that the command changed nothing (a `git diff`, a `grep`). The seal is every entry
under the worktree (path, inode, mode, size, mtime and ctime; for a link its target) and the state of
the git files staging reads (the snapshot index, the repository's exclude and config files). When
the seal after a command equals the seal taken when the tree was last staged, the tree is the same.
(Both are taken with the same settle line, so an entry that merely aged is sealed alike in both.)

Why this is sound: any change to an entry (content, mode, a rename onto it, a utime) sets its ctime
to the current time, which no unprivileged process can set back; adding or removing an entry changes
the listing the seal holds. What a timestamp cannot prove is a change within the same tick as the
seal (the filesystem's clock is coarse, and some filesystems truncate further): an entry whose
ctime is within SETTLE_NS of the time the seal began is sealed with its content's digest too,
so a change that keeps its timestamp still breaks the seal. A worktree with more than MAX_ENTRIES
entries, an entry that cannot be read, or a fresh file larger than MAX_FRESH_BYTES gives no seal:
the caller stages with git as before.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

MAX_ENTRIES = 1_000  # past this the walk costs about what the git processes it spares do
SETTLE_NS = 3_000_000_000  # timestamps younger are not trusted alone: FAT's 2 s granularity, the clock's tick
MAX_FRESH_BYTES = 1 << 20

Seal = tuple[object, ...]


class Unsealable(Exception):
    """The worktree cannot be sealed cheaply and soundly right now."""


def settle_line() -> int:
    """The ctime (ns) from which an entry is sealed with its content too."""
    return time.time_ns() - SETTLE_NS


def worktree_seal(root: Path, since: int) -> Seal | None:
    """The seal of everything under root, or None when it cannot be taken (see the module's docstring).
    Seals compare equal only when taken with the same `since` (settle_line() at the first of them)."""
    try:
        return tuple(_walk(os.fspath(root), since))
    except (Unsealable, OSError):
        return None


def files_seal(paths: Sequence[Path], since: int) -> Seal | None:
    """The seal of single files (a missing one sealed as missing), or None."""
    try:
        return tuple(_file(path, since) for path in paths)
    except (Unsealable, OSError):
        return None


class Sealed(NamedTuple):
    """What a worktree was when it was staged: its seals, taken from `since`, and its tree."""

    since: int
    walked: Seal
    files: Seal
    tree: str


def _file(path: Path, since: int) -> object:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return (os.fspath(path), None)
    return (os.fspath(path), *_stamp(os.fspath(path), info, since))


def _stamp(path: str, info: os.stat_result, since: int) -> tuple[object, ...]:
    stamp: tuple[object, ...] = (info.st_ino, info.st_mode, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    if stat.S_ISLNK(info.st_mode):
        return (*stamp, os.readlink(path))
    if info.st_ctime_ns >= since and stat.S_ISREG(info.st_mode):
        if info.st_size > MAX_FRESH_BYTES:
            raise Unsealable(path)
        with open(path, "rb") as fh:
            return (*stamp, hashlib.blake2b(fh.read(), digest_size=16).digest())
    return stamp


def _walk(root: str, since: int) -> list[object]:
    """Every entry under root, root included, links not followed; Unsealable past MAX_ENTRIES."""
    out: list[object] = [("", *_stamp(root, os.lstat(root), since))]
    pending = [root]
    while pending:
        top = pending.pop()
        with os.scandir(top) as listing:
            children = sorted(listing, key=lambda e: e.name)
        for entry in children:
            if len(out) >= MAX_ENTRIES:
                raise Unsealable(root)
            info = entry.stat(follow_symlinks=False)
            out.append((entry.path, *_stamp(entry.path, info, since)))
            if stat.S_ISDIR(info.st_mode):
                pending.append(entry.path)
    return out
