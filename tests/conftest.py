"""Shared fixtures: real git repositories in temp dirs, scripted models, the CLI as a subprocess."""

from __future__ import annotations

import compileall
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

import agentic
from agentic.git.cmd import git
from tests import bytecode, forkserver, hermetic, ramtemp

CALC = """\
def average(values):
    if not values:
        return 0.0
    return sum(values) / (len(values) - 1)
"""

TESTS = """\
import unittest

from calc import average


class TestCalc(unittest.TestCase):
    def test_average(self):
        self.assertEqual(average([2, 4, 6]), 4)

    def test_empty(self):
        self.assertEqual(average([]), 0.0)
"""

CONTRACT = {
    "version": 1,
    "test_command": ["python", "-m", "unittest", "discover", "-s", "tests", "-t", "."],
    "protected": ["policies/**", "tests/**"],
    "limits": {"max_steps": 12, "max_tool_calls": 24, "timeout_s": 120, "max_gate_attempts": 2},
    "tools": {
        "list_files": {"allow": True},
        "search": {"allow": True, "deny": [".env*"]},
        "read_file": {"allow": True, "deny": [".env*"]},
        "write_file": {"allow": ["*.py", "src/**"]},
        "edit_file": {"allow": ["*.py", "src/**"]},
        "delete_file": {"ask": True},
        "run_tests": {"allow": True, "timeout_s": 60},
        "run_command": {"allow": ["python -m unittest *", "echo *"], "timeout_s": 30},
    },
    "invariants": [
        {"id": "tests-pass", "check": {"tests": True}},
        {"id": "protected-unchanged", "check": {"protected_unchanged": True}},
        {"id": "small", "check": {"max_files_changed": 3}},
    ],
}

FIX = {
    "name": "edit_file",
    "arguments": {
        "path": "calc.py",
        "old_text": "return sum(values) / (len(values) - 1)",
        "new_text": "return sum(values) / len(values)",
    },
}
FINISH = {"name": "finish", "arguments": {"summary": "fixed average"}}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


def make_repo(root: Path, contract: dict[str, Any] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write(root / "calc.py", CALC)
    write(root / "tests" / "__init__.py", "")
    write(root / "tests" / "test_calc.py", TESTS)
    write(root / ".env", "SECRET_TOKEN=canary-0123456789abcdef\n")
    write(root / "policies" / "contract.yaml", yaml.safe_dump(contract or CONTRACT, sort_keys=False))
    return commit_initial(root)


def commit_initial(root: Path) -> Path:
    """`git init` the directory as the person would (their identity) and commit everything in it."""
    git(["init", "--quiet", "--initial-branch=main"], root)
    with open(root / ".git" / "config", "a", encoding="utf-8") as config:  # what `git config user.*` writes
        config.write("[user]\n\tname = Test Person\n\temail = test@example.invalid\n")
    git(["add", "--all"], root)
    git(["commit", "--quiet", "-m", "initial"], root)
    return root


def pytest_configure(config: pytest.Config) -> None:
    if "PYTEST_XDIST_WORKER" not in os.environ:
        ramtemp.use_memory()  # the session's temporary files in memory when there is room (tests/ramtemp.py)
    if sys.flags.dont_write_bytecode and "PYTEST_XDIST_WORKER" not in os.environ:
        # With PYTHONDONTWRITEBYTECODE set, no process writes agentic's bytecode, and every fresh one that
        # imports agentic (an `agentic` CLI process, a Ray worker) compiles it again: compiled once here,
        # beside the sources as Python would (__pycache__ is ignored by git), before the workers start.
        compileall.compile_dir(Path(agentic.__file__).parent, quiet=2)
    if "PYTEST_XDIST_WORKER" not in os.environ and config.getoption("numprocesses", None):
        bytecode.write(config)  # the test modules rewritten once, not by each worker (tests/bytecode.py)
    hermetic.install()  # sandboxed commands get a Python with pytest and no other plugin (tests/hermetic.py)
    forkserver.shared_dir()  # one fork server for the session, found there by every worker
    # Started as a background job of a shell without job control (`.ci/run &`), the suite inherits
    # SIGINT ignored, and so would every process it starts: the Ctrl-C tests would find their runs
    # deaf to it. A handler here (not an ignore) is reset to the default in each process started.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_unconfigure(config: pytest.Config) -> None:
    forkserver.end_shared_dir()


def pytest_collection_finish(session: pytest.Session) -> None:
    """What the worker holds by now (pytest, the SDKs and agentic's modules, the collected tests) stays
    for the session: frozen, the collector stops walking it again in every full collection the tests'
    garbage sets off (about a sixth of a worker's CPU time went there)."""
    gc.freeze()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The proofs left out of a plain `python -m pytest` (see proofs_left_out); then long tests first:
    xdist hands out tests in collection order, so the long ones start at once on every worker instead
    of ending the run alone."""
    if proofs_left_out(config):
        proofs = [item for item in items if item.get_closest_marker("proof") is not None]
        if proofs:
            items[:] = [item for item in items if item.get_closest_marker("proof") is None]
            config.hook.pytest_deselected(items=proofs)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def proofs_left_out(config: pytest.Config) -> bool:
    """Tests marked `proof` (exhaustive sweeps and end-to-end proofs: the crash sweeps, the forgery
    matrix, the Ray cluster, real projects, runs through outside programs, the offline eval of
    scenarios/) run when asked for: by a marker expression (`-m proof`; `-m "proof or not proof"` for
    everything) or by naming them (a file, a directory, a test id). A plain `python -m pytest`, the
    README's test command, leaves them out."""
    return not config.option.markexpr and config.args_source is pytest.Config.ArgsSource.TESTPATHS


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Said at the end of a plain run, where a person reads the outcome (xdist's workers collect, not
    the controller that writes it, so the count is not known here)."""
    if proofs_left_out(config) and not hasattr(config, "workerinput"):
        terminalreporter.write_line("the proofs (tests marked proof) were left out: "
                                    "`python -m pytest -q -n 4 -m proof` runs them; CI runs both")  # fmt: skip


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """make_repo() once per worker: the `repo` fixture hands out copies of it."""
    return make_repo(tmp_path_factory.mktemp("template") / "repo")


def copy_repo(template: Path, dest: Path) -> Path:
    """A copy of a committed repository (made by make_repo or the like), cheaper than making it again."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(template, dest, symlinks=True)
    git(["update-index", "-q", "--refresh"], dest)  # the index's stat data, for the copies' new inodes
    return dest


@pytest.fixture
def repo(tmp_path: Path, template_repo: Path) -> Path:
    return copy_repo(template_repo, tmp_path / "repo")


def write_script(path: Path, turns: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump(turns, sort_keys=False), encoding="utf-8")
    return path


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120, input: str | None = None,
    stdout: int | None = None,
) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run the real `agentic` CLI in a separate process (`python -m agentic ARGS`, forked by the
    worker's fork server: the interpreter and its heavy libraries are loaded once, agentic afresh);
    `input` is its standard input's text, `stdout` a descriptor it writes its output to instead of a
    pipe read here."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    return forkserver.run(forkserver.shared(), ["agentic", *args], cwd, full_env, timeout, input=input, stdout=stdout)


def events_of(stdout: str) -> list[dict[str, Any]]:
    """The JSON lines of `agentic run/resume/fork --json` (every line must be one)."""
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def summary_of(done: subprocess.CompletedProcess[str] | str) -> dict[str, Any]:
    """The summary object of `agentic run/resume/fork --json`: the last line of its event stream."""
    events = events_of(done if isinstance(done, str) else done.stdout)
    assert events, done if isinstance(done, str) else done.stderr
    return events[-1]


def start_run(repo: Path, script: Path) -> forkserver.Running:
    """`agentic run --json` in the background (for tests that act on a run in progress), forked by the
    session's fork server as cli() runs one: signal it, kill it, communicate() with it as with a Popen."""
    return forkserver.Running(forkserver.shared(), ["agentic", "run", "x", "--model", f"script:{script}", "--json"],
                              repo, dict(os.environ), "agentic")  # fmt: skip


def wait_for_journal(repo: Path, needle: str, timeout_s: float = 20) -> None:
    """Wait until the run's journal contains `needle` (the run reached that point)."""
    import time

    runs = repo / ".agentic" / "runs"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        journals = list(runs.glob("*/journal.jsonl")) if runs.exists() else []
        if journals and needle in journals[0].read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"the run never journaled {needle!r}")
