"""Real public projects, from their source distributions on the package index, taken through the whole
of agentic as a person would (issue 13, point 6): `git init` and commit the sdist, `agentic init --yes`,
`agentic doctor`, the upstream test of a real bug committed, then a scripted run that explores with
shell pipelines, reproduces the bug with a script that prints where the package was imported from,
fixes it as upstream did, runs the tests and finishes.

Each project is a directory next to this file: project.yaml (the pinned version, its shape, the
upstream fix and what the reproduction prints before and after it), upstream-test.diff (the upstream
test, as it was added to the next release) and script.yaml (the scripted model's turns).

Shared by tests/run/test_real_projects.py (which asserts) and benchmarks/real_projects.py (which times).
Sdists are downloaded once with pip into a cache outside the repository that survives between runs
(`$AGENTIC_TEST_CACHE`, default ~/.cache/agentic-tests), under a file lock so that xdist workers and
concurrent runs do not race.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests import forkserver

HERE = Path(__file__).resolve().parent
NAMES = ("click", "more_itertools", "cachetools")
PERSON = ["-c", "user.name=Test Person", "-c", "user.email=test@example.invalid"]
# what pip prints when it cannot reach the package index (then the tests skip, saying so)
OFFLINE = re.compile(r"NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution|"
                     r"Name or service not known|Network is unreachable|ProxyError|ConnectTimeout|"
                     r"Read timed out|Max retries exceeded|No route to host|Connection refused")  # fmt: skip


class Unreachable(Exception):
    """The package index cannot be reached from here."""


@dataclass(frozen=True)
class Project:
    name: str
    spec: dict[str, Any]
    turns: list[dict[str, Any]]

    @property
    def dir(self) -> Path:
        return HERE / self.name

    @property
    def script(self) -> Path:
        return self.dir / "script.yaml"

    def repro_source(self) -> str:
        """The reproduction script the run writes with its heredoc (the person runs the same one)."""
        for turn in self.turns:
            for call in turn.get("tool_calls") or []:
                found = re.search(r"<<'PY'\n(.*?)\nPY\n", str(call.get("arguments", {}).get("command", "")), re.S)
                if found:
                    return found.group(1) + "\n"
        raise AssertionError(f"{self.script} writes no reproduction script")


def load(name: str) -> Project:
    spec = yaml.safe_load((HERE / name / "project.yaml").read_text(encoding="utf-8"))
    turns = yaml.safe_load((HERE / name / "script.yaml").read_text(encoding="utf-8"))
    return Project(name, spec, turns)


def cache_dir() -> Path:
    root = Path(os.environ.get("AGENTIC_TEST_CACHE") or Path.home() / ".cache" / "agentic-tests")
    root.mkdir(parents=True, exist_ok=True)
    return root


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pip(args: list[str], cwd: Path | None = None, timeout: float = 300) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip
    if done.returncode != 0:
        output = done.stdout + done.stderr
        if OFFLINE.search(output):
            raise Unreachable(f"the package index is unreachable: pip {' '.join(args[:1])} said "
                              f"{OFFLINE.search(output).group(0)!r}")  # type: ignore[union-attr]  # fmt: skip
        raise RuntimeError(f"pip {' '.join(args)} failed (exit {done.returncode}):\n{output[-3000:]}")


def sdist(requirement: str) -> Path:
    """The source distribution of `name==version`, downloaded once into the cache."""
    name, _, version = requirement.partition("==")
    folder = cache_dir() / "sdists"
    target = folder / f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}.tar.gz"
    with locked(folder / ".lock"):
        if target.is_file():
            return target
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            _pip(["download", "--no-binary", ":all:", "--no-deps", "--retries", "1", "--timeout", "30",
                  "--dest", tmp, requirement])  # fmt: skip
            found = list(Path(tmp).glob("*.tar.gz"))
            if len(found) != 1:
                raise RuntimeError(f"pip download {requirement} left {sorted(p.name for p in found)}")
            shutil.move(found[0], target)
    return target


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *PERSON, *args], cwd=repo, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def checkout(project: Project, parent: Path) -> Path:
    """The person's repository: the sdist as it is, committed, with the project's editable install in
    its .venv when it has one (kept out of git by .git/info/exclude: the sdist's files are not changed)."""
    archive = sdist(project.spec["requirement"])
    with tarfile.open(archive) as tar:
        tops = {m.name.split("/", 1)[0] for m in tar.getmembers()}
        assert len(tops) == 1, f"{archive} has several top directories: {sorted(tops)}"
        tar.extractall(parent, filter="data")  # owned by whoever runs the tests, not the archive's uid
    repo = parent / project.name
    (parent / tops.pop()).rename(repo)
    git(repo, "init", "--quiet", "--initial-branch=main")
    if project.spec.get("venv"):  # as upstream's .gitignore has it: the venv and build metadata stay out
        with (repo / ".git" / "info" / "exclude").open("a") as exclude:
            exclude.write(".venv/\n*.egg-info/\nbuild/\n")
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(repo / ".venv")], check=True)
        _pip(["--python", str(repo / ".venv" / "bin" / "python"), "install", "--quiet", *project.spec["venv"]],
             cwd=repo)  # fmt: skip
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", f"{project.spec['requirement']}: the sdist as published")
    return repo


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """The real `agentic` CLI, as a person runs it: in a test session started by the session's fork
    server (tests/forkserver.py), elsewhere (benchmarks/real_projects.py) as a fresh process."""
    full = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    if forkserver.DIR_ENV in os.environ:
        return forkserver.run(forkserver.shared(), ["agentic", *args], cwd, full, timeout)
    return subprocess.run([sys.executable, "-m", "agentic", *args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip


def doctor(repo: Path, project: Project, env: dict[str, str]) -> tuple[int, dict[str, dict[str, Any]]]:
    done = cli("doctor", "--json", cwd=repo, env={**env, "AGENTIC_MODEL": f"script:{project.script}"})
    return done.returncode, {c["name"]: c for c in map(json.loads, done.stdout.splitlines())}


def host(repo: Path, argv: list[str], env: dict[str, str] | None = None,
         timeout: float = 300) -> tuple[subprocess.CompletedProcess[str], float]:  # fmt: skip
    """A command on the host, in the person's checkout, in the project's environment; and its wall time."""
    start = time.monotonic()
    done = subprocess.run(argv, cwd=repo, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})},
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip
    return done, time.monotonic() - start


def state(repo: Path, project: Project) -> dict[str, Any]:
    """What must not change in the person's checkout: HEAD, branch, status and the fixed files."""
    return {"head": git(repo, "rev-parse", "HEAD").strip(), "branch": git(repo, "branch", "--show-current").strip(),
            "status": git(repo, "status", "--porcelain"),
            "files": {p: (repo / p).read_bytes() for p in project.spec["fix_files"]}}  # fmt: skip


@dataclass
class Walk:
    """Everything one walk through a project saw, for the test to judge and the benchmark to print."""

    project: Project
    repo: Path
    init: subprocess.CompletedProcess[str] | None = None
    contract: dict[str, Any] = field(default_factory=dict)
    doctor_before_env: tuple[int, dict[str, dict[str, Any]]] | None = None
    doctor: tuple[int, dict[str, dict[str, Any]]] | None = None
    bare: subprocess.CompletedProcess[str] | None = None
    bare_s: float = 0.0
    repro_before: str = ""
    repro_after: str = ""
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    outcome: Any = None
    run_s: float = 0.0
    gate_s: float = 0.0
    results: list[str] = field(default_factory=list)
    committed: list[str] = field(default_factory=list)
    setup_s: float = 0.0


def gate_seconds(journal: Path) -> float:
    """Wall time of the run's gates: from each checkpoint to its verdict (the baseline count included)."""
    from agentic.journal.records import read_records

    total, start = 0.0, None
    for record in read_records(journal):
        if record["kind"] == "checkpoint":
            start = record["ts"]
        elif record["kind"] == "gate.verdict" and start is not None:
            total, start = total + record["ts"] - start, None
    return total


def walk(project: Project, parent: Path, bare: bool = True) -> Walk:
    """The person's whole way through `project`, in `parent` (a fresh directory); `bare`: also time the
    project's suite on the host, without agentic (for the benchmark's side-by-side figures)."""
    from tests.inproc import run, tool_results

    started = time.monotonic()
    env = {"XDG_CONFIG_HOME": str(parent / "config")}  # no settings of the machine's person
    repo = checkout(project, parent)
    seen = Walk(project, repo, setup_s=time.monotonic() - started)
    seen.init = cli("init", "--yes", cwd=repo, env=env)
    contract_file = repo / "policies" / "contract.yaml"
    if seen.init.returncode != 0 or not contract_file.is_file():
        return seen
    if extra := project.spec.get("contract_env"):
        # doctor names what is missing; the person adds the project's import path to the contract
        seen.doctor_before_env = doctor(repo, project, env)
        with contract_file.open("a", encoding="utf-8") as out:
            out.write("# the tests import the package from src/ (it is not installed)\n")
            out.write(yaml.safe_dump({"env": extra}, sort_keys=False))
    seen.contract = yaml.safe_load(contract_file.read_text(encoding="utf-8"))
    git(repo, "add", ".agentic.yaml", "policies/contract.yaml")
    git(repo, "commit", "--quiet", "-m", "agentic: settings and contract")
    project_env = {**project.spec.get("contract_env", {}), **project.spec.get("repro_env", {})}
    if bare:
        seen.bare, seen.bare_s = host(repo, list(seen.contract["test_command"]), project_env)
    git(repo, "apply", str(project.dir / project.spec["test_patch"]))
    git(repo, "commit", "--quiet", "-am", f"the failing test of the upstream fix: {project.spec['failing_test']}")
    seen.doctor = doctor(repo, project, env)
    (parent / "repro.py").write_text(project.repro_source(), encoding="utf-8")
    repro = [*project.spec["repro_host"], str(parent / "repro.py")]
    seen.repro_before = host(repo, repro, project_env)[0].stdout
    seen.before = state(repo, project)
    start = time.monotonic()
    seen.outcome = run(repo, project.turns, task=" ".join(project.spec["task"].split()))
    seen.run_s = time.monotonic() - start
    seen.gate_s = gate_seconds(seen.outcome.journal)
    seen.results = [str(r.get("content", "")) for r in tool_results(seen.outcome)]
    seen.after = state(repo, project)
    seen.repro_after = host(repo, repro, project_env)[0].stdout
    if seen.outcome.commit:
        seen.committed = git(repo, "show", "--name-only", "--format=", seen.outcome.branch).split()
    return seen


def repro_lines(text: str, tag: str) -> list[str]:
    """The values of the reproduction's `TAG value` lines in an output."""
    return [line[len(tag) + 1:] for line in text.splitlines() if line.startswith(tag + " ")]
