"""The fork server's children end as a fresh interpreter does (tests/forkserver.py skips only the
teardown): the same exit status, output and last line of stderr as `python SCRIPT`, for exits,
messages, uncaught exceptions, Ctrl-C, atexit handlers, threads still running and buffered output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import forkserver

PROGRAMS = {
    "plain": "print('out', end='')",
    "status": "import sys; sys.exit(3)",
    "message": "import sys; sys.exit('no luck')",
    "raised": "raise ValueError('boom')",
    "interrupted": "raise KeyboardInterrupt",
    "atexit and threads": (
        "import atexit, sys, threading, time\n"
        "atexit.register(lambda: print('atexit'))\n"
        "threading.Thread(target=lambda: (time.sleep(0.2), print('thread'))).start()\n"
        "sys.stdout.write('buffered ')\n"
    ),
}


def ending(done: subprocess.CompletedProcess[str]) -> tuple[int, str, str]:
    return done.returncode, done.stdout, (done.stderr.strip().splitlines() or [""])[-1]


@pytest.mark.parametrize("name", PROGRAMS)
def test_a_child_ends_as_the_interpreter_does(name: str, tmp_path: Path) -> None:
    script = tmp_path / "program.py"
    script.write_text(PROGRAMS[name])
    env = dict(os.environ)
    child = forkserver.run(forkserver.shared(), [str(script)], tmp_path, env, 30, module=None)
    fresh = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=30)  # fmt: skip
    assert ending(child) == ending(fresh)
    assert fresh.returncode != 0 or fresh.stdout  # each program shows something to compare
