"""An `agentic` command for shell scripts the tests run (the docs' blocks, the Actions example): the CLI
started by the session's fork server (tests/forkserver.py), as the tests' `cli()` starts it.

A script that calls `agentic` a dozen times paid a fresh interpreter, its imports and the model SDKs
each time: 0.71 CPU-s for a `doctor`, 0.41 for a `contract check`, against 0.18 and 0.06 through the
server. The command put first on the script's PATH is a small program (this interpreter, -IS: no
site-packages) that imports tests/forkserver.py alone: through its Server and Child it hands the server
its argv, directory, environment and standard streams, passes on the signals a shell sends it (Ctrl-C,
a timeout's TERM) to the CLI process, and ends as that process
ended: its exit status, or killed by the same signal. tests/gate/test_precommit.py keeps the
installed `agentic` script, so the entry point a person runs is still tested.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from tests import forkserver

ROOT = Path(__file__).resolve().parents[1]  # where `tests` is imported from

PROGRAM = """\
#!{python} -IS
import os, signal, sys

sys.path.insert(0, {root!r})
from tests.forkserver import Server  # the request and the answer as the tests' cli() makes and reads them

child = Server({path!r}).start(["agentic", *sys.argv[1:]], os.getcwd(), dict(os.environ), "agentic", 0, 1, 2)
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(sig, lambda number, _: child.send_signal(number))
code = child.wait()
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


def bin_dir(where: Path) -> Path:
    """A directory holding the `agentic` command, made in `where`: put it first on PATH."""
    where.mkdir(parents=True, exist_ok=True)
    program = where / "agentic"
    program.unlink(missing_ok=True)  # never written through: a link there may name the installed script
    program.write_text(PROGRAM.format(python=sys.executable, root=str(ROOT), path=forkserver.shared().path),
                       encoding="utf-8")
    program.chmod(program.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return where


def path_with(where: Path, path: str | None = None) -> str:
    """PATH with the `agentic` command in `where` first."""
    return os.pathsep.join([str(bin_dir(where)), path if path is not None else os.environ.get("PATH", "")])
