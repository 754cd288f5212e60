"""A pytest plugin that notes what each test costs, for benchmarks/suite_cost.py: `-p tests.cpuprobe`
with AGENTIC_CPU_PROBE set to a directory. Each process that runs tests appends one JSON line per
test to `<dir>/<pid>.jsonl`: its wall time and its CPU time.

Where it can (root, cgroup v1's cpuacct or cgroup v2), the process moves itself into a cgroup of its
own, and so does each CLI process the fork server starts for it (tests/forkserver.py): a test's CPU
time is then that of everything it started, sandboxed commands included. Without one it is the
process's own CPU time, its ended children's and its ended fork-server children's, which misses what
runs inside bubblewrap (the namespace's init is reaped by the host's init, not by the caller). What
no test is charged with (the workers' start-up and collection, kernel threads) is the difference from
the machine's CPU time, which the benchmark reads."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import time
from collections.abc import Generator
from pathlib import Path
from typing import IO

import pytest

from tests import forkserver

CGROUP_ENV = "AGENTIC_CPU_PROBE_CGROUP"  # the cgroup.procs file fork-server children move themselves into
V1, V2 = Path("/sys/fs/cgroup/cpuacct"), Path("/sys/fs/cgroup")
_OUT: list[IO[str]] = []
_GROUP: list[Path] = []


def _own_cgroup() -> Path | None:
    """A cgroup holding this process (and what it starts from now on); None where none can be made."""
    parent = V1 if (V1 / "cpuacct.usage").exists() else V2 if (V2 / "cgroup.controllers").exists() else None
    if parent is None:
        return None
    group = parent / f"agentic-probe-{os.getpid()}"
    try:
        group.mkdir(exist_ok=True)
        (group / "cgroup.procs").write_text(str(os.getpid()))
    except OSError:
        return None
    os.environ[CGROUP_ENV] = str(group / "cgroup.procs")
    return group


def _cpu() -> float:
    if _GROUP:
        group = _GROUP[0]
        if (group / "cpuacct.usage").exists():
            return int((group / "cpuacct.usage").read_text()) / 1e9
        stat = dict(line.split() for line in (group / "cpu.stat").read_text().splitlines())
        return int(stat["usage_usec"]) / 1e6
    own, ended = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + ended.ru_utime + ended.ru_stime + forkserver.CHILDREN_CPU[0]


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("AGENTIC_CPU_PROBE"):
        group = _own_cgroup()
        _GROUP.extend([group] if group else [])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    directory = os.environ.get("AGENTIC_CPU_PROBE")
    if not directory:
        yield
        return
    cpu, wall = _cpu(), time.perf_counter()
    yield
    if not _OUT:
        _OUT.append(open(os.path.join(directory, f"{os.getpid()}.jsonl"), "a", encoding="utf-8"))  # noqa: SIM115
    line = {"test": item.nodeid, "cpu": round(_cpu() - cpu, 4), "wall": round(time.perf_counter() - wall, 4),
            "cgroup": bool(_GROUP)}  # fmt: skip
    _OUT[0].write(json.dumps(line) + "\n")
    _OUT[0].flush()


def remove_cgroups() -> None:
    """After the session (benchmarks/suite_cost.py): the probes' cgroups, their processes gone."""
    for parent in (V1, V2):
        for group in parent.glob("agentic-probe-*"):
            with contextlib.suppress(OSError):
                group.rmdir()
