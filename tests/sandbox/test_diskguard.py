"""limits.max_disk_mb: the guard's check after a command, when space freed elsewhere on the filesystem
hides what the worktree took (other builds, cleanups, parallel tests)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agentic.policy.budget import LimitExceeded
from agentic.sandbox import diskguard
from agentic.sandbox.diskguard import DiskGuard


def fill(root: Path, mb: int) -> None:
    (root / f"blob{mb}.bin").write_bytes(b"\1" * (mb * diskguard.MB))


@pytest.fixture
def steady_free_space(monkeypatch: pytest.MonkeyPatch) -> None:
    """The filesystem's free space never falls: something else frees what the worktree takes."""
    monkeypatch.setattr(diskguard, "_free", lambda root: 10**12)


def test_a_small_worktree_is_measured_after_every_command_whatever_free_space_says(
    tmp_path: Path, steady_free_space: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every walk counts as cheap (a busy machine can take longer than CHEAP_WALK_S over two files)
    monkeypatch.setattr(diskguard, "CHEAP_WALK_S", 60.0)
    guard = DiskGuard(tmp_path, limit_mb=2)
    fill(tmp_path, 1)
    guard.check()  # within the limit
    fill(tmp_path, 3)
    with pytest.raises(LimitExceeded) as raised:
        guard.check()
    assert raised.value.limit == "max_disk_mb"


def test_a_worktree_too_large_to_walk_each_time_is_still_walked_every_few_seconds(
    tmp_path: Path, steady_free_space: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(diskguard, "CHEAP_WALK_S", -1.0)  # every walk counts as expensive
    clock = [1000.0]
    monkeypatch.setattr(diskguard.time, "monotonic", lambda: clock[0])
    guard = DiskGuard(tmp_path, limit_mb=2)
    fill(tmp_path, 3)
    guard.check()  # free space says nothing and the last walk is recent: not walked
    clock[0] += diskguard.RECHECK_S
    with pytest.raises(LimitExceeded):
        guard.check()


def test_the_watcher_kills_a_command_growing_past_the_limit_and_one_thread_serves_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(diskguard, "POLL_S", 0.02)
    guard = DiskGuard(tmp_path, 1)
    killed: list[int] = []
    for _ in range(3):  # commands that stay within the limit: nothing killed, the same thread watches
        with guard.watching(lambda: killed.append(1)):
            time.sleep(0.05)
    watcher = guard._watcher
    assert killed == [] and not guard.tripped and watcher is not None and watcher.is_alive()
    with guard.watching(lambda: killed.append(2)):
        fill(tmp_path, 2)
        deadline = time.monotonic() + 5
        while not killed and time.monotonic() < deadline:
            time.sleep(0.01)
    assert killed == [2] and guard.tripped and guard._watcher is watcher
    with pytest.raises(LimitExceeded):
        guard.check()


def test_the_watcher_kills_nothing_once_the_command_ended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diskguard, "POLL_S", 0.02)
    guard = DiskGuard(tmp_path, 1)
    killed: list[int] = []
    with guard.watching(lambda: killed.append(1)):
        pass
    fill(tmp_path, 2)  # grown between commands: the check after the command finds it, no kill
    time.sleep(0.1)
    assert killed == [] and not guard.tripped
