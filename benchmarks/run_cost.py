"""What one whole run costs besides its steps: start, gate and commit of a scripted one-edit fix.

Each run starts from its own copy of one small repository (unittest, the calc bug of the test suite):
the scripted model fixes the bug and finishes, the gate runs the tests on a clean checkout and the
change is committed. Measured in process (runner.execute, as the suite and an eval's workers drive
it: the second and later runs find the base's test count remembered) and through the CLI (a fresh
`python -m agentic run` each time, as a person runs it).

Prints, per run (medians): wall time, the machine's CPU time (every process: git, bubblewrap, the
sandboxed tests; read from /proc/stat, so run it on a quiet machine) and the git processes started
(counted through a PATH shim in a separate pass, whose own cost is left out of the times).

    python benchmarks/run_cost.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import hermetic, inproc
from tests.conftest import FINISH, FIX, make_repo, write_script

TURNS = [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}]
SHIM = """#!/bin/sh
echo "$0" >> {log}
exec {real} "$@"
"""


def machine_cpu_s() -> float:
    with open("/proc/stat", encoding="ascii") as fh:
        fields = fh.readline().split()
    return sum(int(fields[i]) for i in (1, 2, 3, 6, 7)) / os.sysconf("SC_CLK_TCK")


def one_run(template: Path, where: Path, cli: bool) -> None:
    repo = where / "repo"
    shutil.copytree(template, repo, symlinks=True)
    if cli:
        script = write_script(where / "turns.yaml", TURNS)
        done = subprocess.run([sys.executable, "-m", "agentic", "run", "fix the bug", "--model", f"script:{script}"],
                              cwd=repo, capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    else:
        assert inproc.run(repo, TURNS).status == "accepted"


def measure(template: Path, work: Path, runs: int, cli: bool) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for n in range(runs):
        cpu, start = machine_cpu_s(), time.perf_counter()
        one_run(template, work / f"{'cli' if cli else 'inproc'}-{n}", cli)
        walls.append(time.perf_counter() - start)
        cpus.append(machine_cpu_s() - cpu)
    return walls, cpus


def count(template: Path, work: Path, runs: int, cli: bool) -> float:
    """Git processes per run, through a shim first on PATH."""
    shims, log = work / "shims", work / "calls.log"
    shims.mkdir(exist_ok=True)
    real = shutil.which("git")
    assert real is not None, "git is not installed"
    shim = shims / "git"
    shim.write_text(SHIM.format(log=log, real=real))
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    os.environ["PATH"] = f"{shims}{os.pathsep}{os.environ['PATH']}"
    try:
        log.write_text("")
        for n in range(runs):
            one_run(template, work / f"count-{'cli' if cli else 'inproc'}-{n}", cli)
        calls = log.read_text().split()
    finally:
        os.environ["PATH"] = os.environ["PATH"].split(os.pathsep, 1)[1]
    return len(calls) / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    hermetic.install()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        template = make_repo(work / "template")
        one_run(template, work / "warm", cli=False)  # the interpreter's caches and the sandbox probe
        print(f"{'':24} {'wall ms':>9} {'cpu ms':>9} {'git':>6}")
        for cli in (False, True):
            walls, cpus = measure(template, work, args.runs, cli)
            gits = count(template, work, min(args.runs, 5), cli)
            label = "cli (fresh process)" if cli else "in process (warm)"
            print(f"{label:24} {statistics.median(walls) * 1000:9.0f} {statistics.median(cpus) * 1000:9.0f} "
                  f"{gits:6.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
