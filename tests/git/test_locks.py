"""Stale git lock files: removed at once when nobody holds them, waited for while a live process does."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from agentic.git.locks import clear_stale, held_open


def test_a_lock_nobody_holds_is_removed_without_waiting(tmp_path: Path) -> None:
    lock = tmp_path / "index.lock"
    lock.write_text("")
    started = time.monotonic()
    clear_stale([lock, tmp_path / "other.lock"], settle_s=5)
    assert not lock.exists() and time.monotonic() - started < 1


def test_a_lock_a_live_process_holds_is_waited_for(tmp_path: Path) -> None:
    lock = tmp_path / "index.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfh = open(sys.argv[1], 'w')\n"
                               "print('held', flush=True)\ntime.sleep(0.5)\nimport os; os.unlink(sys.argv[1])\n",
                               str(lock)], stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    assert held_open([lock]) is True
    started = time.monotonic()
    clear_stale([lock], settle_s=5)
    waited = time.monotonic() - started
    holder.wait()
    assert 0.2 < waited < 4 and not lock.exists()


def test_a_holder_that_outlives_the_wait_loses_the_lock(tmp_path: Path) -> None:
    lock = tmp_path / "index.lock"
    with lock.open("w"):
        started = time.monotonic()
        clear_stale([lock], settle_s=0.3)
        assert time.monotonic() - started >= 0.3
    assert not lock.exists()
