"""A process's scratch directories: what dead processes left is removed by the next one to make one."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from agentic.util import scratch

PREFIX = "agentic-test-scratch-"


def test_the_dirs_of_dead_processes_go_and_those_of_live_ones_stay() -> None:
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(ended.stdout)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    tmp = Path(tempfile.gettempdir())
    left = [tmp / f"{PREFIX}{dead}", tmp / f"{PREFIX}{dead}-abc123"]
    kept = [tmp / f"{PREFIX}{alive.pid}-def456", tmp / f"{PREFIX}notapid"]
    try:
        for path in left + kept:
            (path / "inside").mkdir(parents=True)
        mine = scratch.own_dir(PREFIX)
        assert mine.name.startswith(f"{PREFIX}{os.getpid()}-") and mine.is_dir()
        assert oct(mine.stat().st_mode & 0o777) == "0o700"
        assert not any(p.exists() for p in left)
        assert all(p.is_dir() for p in kept)
        scratch.own_dir(PREFIX)  # this process's own are not swept by itself
        assert mine.is_dir()
    finally:
        alive.kill()
        alive.wait()
        for path in tmp.glob(f"{PREFIX}*"):
            subprocess.run(["rm", "-rf", str(path)], check=True)
