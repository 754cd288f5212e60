"""A process's scratch directories: what dead processes left is removed by the next one to make one."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agentic.util import scratch

# one prefix per test: each sweeps and removes what bears its prefix, and xdist runs them side by side
BY_NAME, BY_OWNER = "agentic-test-scratch-byname-", "agentic-test-scratch-byowner-"


def test_the_dirs_of_dead_processes_go_and_those_of_live_ones_stay() -> None:
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(ended.stdout)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    tmp = Path(tempfile.gettempdir())
    left = [tmp / f"{BY_NAME}{dead}", tmp / f"{BY_NAME}{dead}-abc123"]
    kept = [tmp / f"{BY_NAME}{alive.pid}-def456", tmp / f"{BY_NAME}notapid"]
    try:
        for path in left + kept:
            (path / "inside").mkdir(parents=True)
        mine = scratch.own_dir(BY_NAME)
        assert mine.name.startswith(f"{BY_NAME}{os.getpid()}-") and mine.is_dir()
        assert oct(mine.stat().st_mode & 0o777) == "0o700"
        assert not any(p.exists() for p in left)
        assert all(p.is_dir() for p in kept)
        scratch.own_dir(BY_NAME)  # this process's own are not swept by itself
        assert mine.is_dir()
    finally:
        alive.kill()
        alive.wait()
        for path in tmp.glob(f"{BY_NAME}*"):
            subprocess.run(["rm", "-rf", str(path)], check=True)


def test_a_directory_that_names_its_process_inside_goes_a_grace_period_after_the_process_ended() -> None:
    """owned_dir: the name as mkdtemp makes it (as long on every machine: a model sees the path), the
    pid in a file inside. One made after a process ended marks that process's directories; one made
    ORPHAN_GRACE_S after that removes them (meanwhile an eval's driver salvages a lost try's journal
    from it). Never another's that runs, nor one that names no process (a person's directory)."""
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    tmp = Path(tempfile.gettempdir())
    left, kept, persons = tmp / f"{BY_OWNER}dead0001", tmp / f"{BY_OWNER}live0001", tmp / f"{BY_OWNER}mine0001"
    try:
        for path, owner in ((left, ended.stdout.strip()), (kept, str(alive.pid)), (persons, None)):
            (path / "attempts").mkdir(parents=True)
            if owner is not None:
                (path / scratch.OWNER).write_text(owner)
        made = scratch.owned_dir(BY_OWNER)
        assert made.parent == tmp and len(made.name) == len(BY_OWNER) + 8
        assert (made / scratch.OWNER).read_text() == str(os.getpid())
        assert oct(made.stat().st_mode & 0o777) == "0o700"
        assert (left / "attempts").is_dir() and (left / scratch.ORPHANED).is_file()  # marked, kept
        assert not (kept / scratch.ORPHANED).exists() and not (persons / scratch.ORPHANED).exists()
        scratch.owned_dir(BY_OWNER)
        assert (left / "attempts").is_dir()  # within the grace period
        past = time.time() - scratch.ORPHAN_GRACE_S - 1
        os.utime(left / scratch.ORPHANED, (past, past))
        assert scratch.owned_dir(BY_OWNER) != made and made.is_dir()  # this process's own stay
        assert not left.exists() and kept.is_dir() and persons.is_dir()
    finally:
        alive.kill()
        alive.wait()
        for path in tmp.glob(f"{BY_OWNER}*"):
            subprocess.run(["rm", "-rf", str(path)], check=True)
