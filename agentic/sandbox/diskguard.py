"""A run's disk use, bounded across all its commands (`limits.max_disk_mb`).

RLIMIT_FSIZE caps one file, and the sandbox's /tmp is a tmpfs of its own size; neither stops a
command that writes ten thousand files into the worktree, nor ten commands that each write a
little. The guard measures how much the worktree has grown since the run began (allocated blocks,
links not followed, no deeper than trees.walk_dirs goes) after every command, and watches while
one runs: the filesystem's free space is read once a second (cheap), and only when it has fallen by
the room that was left is the worktree measured; over the limit, the command's sandbox is killed
(one watcher thread for the run, armed while a command runs).

Free space alone is not proof: whatever else frees space on the filesystem while a command runs
(another build, a cleanup) hides what the worktree took. So after a command the worktree is walked
whenever a walk is cheap (a few milliseconds: most repositories), and a large worktree, whose walk
is not, is walked when free space says it may have grown past the limit and at least every
RECHECK_S seconds of commands.
The run then stops with `limit_exceeded`, its journal saying why, and `resume` finds the worktree
as the command left it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from agentic.policy.budget import LimitExceeded
from agentic.util.trees import walk_dirs

MB = 1024 * 1024
POLL_S = 1.0
CHEAP_WALK_S = 0.005  # a worktree walked faster than this is walked after every command
RECHECK_S = 5.0  # a larger one at least this often (seconds since its last walk)


def used_bytes(root: Path) -> int:
    """Bytes allocated to everything under `root` (hard links counted once)."""
    total, seen = 0, set()
    for top, _dirs, files in walk_dirs(root, max_depth=4096):
        for name in files:
            try:
                info = os.lstat(os.path.join(top, name))
            except OSError:
                continue
            if info.st_nlink > 1:
                if (info.st_dev, info.st_ino) in seen:
                    continue
                seen.add((info.st_dev, info.st_ino))
            total += info.st_blocks * 512
    return total


def _free(root: Path) -> int:
    stats = os.statvfs(root)
    return stats.f_bavail * stats.f_frsize


class DiskGuard:
    def __init__(self, root: Path, limit_mb: float, start_bytes: int | None = None) -> None:
        self.root, self.limit = root, int(limit_mb * MB)
        self.walk_s, self.walked_at = 0.0, 0.0
        now = self._used()
        self.start = now if start_bytes is None else start_bytes
        self.free_start, self.grown_before = _free(root), now - self.start  # a resumed run has grown before
        self.tripped = False
        self._armed = threading.Condition()
        self._watch: _Watch | None = None
        self._watcher: threading.Thread | None = None

    def _used(self) -> int:
        began = time.monotonic()
        used = used_bytes(self.root)
        self.walked_at = time.monotonic()
        self.walk_s = self.walked_at - began
        return used

    def grown(self) -> int:
        return self._used() - self.start

    def check(self) -> None:
        """LimitExceeded when the worktree has grown past the limit (see the module's docstring for
        when it is walked)."""
        cheap = self.walk_s <= CHEAP_WALK_S or time.monotonic() - self.walked_at >= RECHECK_S
        lost = self.grown_before + self.free_start - _free(self.root)
        if not (self.tripped or cheap or lost > self.limit):
            return
        grown = self.grown()
        if self.tripped or grown > self.limit:
            raise LimitExceeded("max_disk_mb", self.limit / MB, round(max(grown, 0) / MB, 1),
                                "the worktree grew past it; remove what is not needed and resume")  # fmt: skip

    @contextmanager
    def watching(self, kill: Callable[[], object]) -> Iterator[None]:
        """While a command runs: kill it (`kill`) once the worktree has grown past the limit. One
        watcher thread serves the run's commands (starting one per command cost a millisecond);
        it kills only while armed, and disarming waits for a check in progress."""
        watch = _Watch(self.limit - self.grown(), _free(self.root), kill)
        with self._armed:
            self._watch = watch
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch_loop, name="agentic-disk-guard", daemon=True)
                self._watcher.start()
            self._armed.notify()
        try:
            yield
        finally:
            with self._armed:
                self._watch = None
                self._armed.notify()

    def _watch_loop(self) -> None:
        while True:
            with self._armed:
                while self._watch is None:
                    self._armed.wait()
                watch = self._watch
                self._armed.wait(POLL_S)
                if self._watch is not watch:
                    continue  # disarmed (or armed for the next command) meanwhile
                if watch.free_at_start - _free(self.root) > watch.room and self.grown() > self.limit:
                    self.tripped = True
                    self._watch = None
                    watch.kill()


@dataclass(frozen=True)
class _Watch:
    room: int  # bytes the worktree may still grow
    free_at_start: int
    kill: Callable[[], object]
