"""`agentic gate`: a cold gate against a cached re-gate of the unchanged tree.

A repository of `--files` Python modules with a unittest suite, a contract with a tests check and
three path checks, and an uncommitted edit plus an untracked file (so the working-tree mode has a
real tree to build). Measured in-process (`gatecheck.run_gate`: the work the gate does) and through
the CLI in a subprocess (what a pre-commit hook pays: interpreter start and imports included;
`agentic --version` is timed as the floor of that).

Prints: cold gate time (median of --cold runs, cache bypassed), cached re-gate time (median, p90 and
max of --runs), for the working tree and --staged. Target: a cached re-gate < 100 ms of work.

    python benchmarks/gate.py [--files 200] [--runs 30] [--cold 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from agentic.gate.hook import GateRequest, run_gate

CONTRACT = {
    "version": 1,
    "test_command": ["python", "-m", "unittest", "discover", "-s", "tests", "-t", "."],
    "protected": ["tests/**", "policies/**"],
    "invariants": [
        {"id": "tests-pass", "check": {"tests": True}},
        {"id": "protected-unchanged", "check": {"protected_unchanged": True}},
        {"id": "scope", "check": {"changed_paths": {"allow": ["pkg/**"]}}},
        {"id": "no-secrets", "check": {"no_secrets": True}},
    ],
}
TARGET_MS = 100.0


def git(args: list[str], cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@b", *args], cwd=cwd, check=True,
                   capture_output=True)  # fmt: skip


def make_repo(root: Path, files: int) -> None:
    """`files` modules under pkg/, one test module, the contract; committed, then edited."""
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "policies").mkdir()
    for i in range(files):
        (root / "pkg" / f"mod{i:04d}.py").write_text(f"def value():\n    return {i}\n")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "test_pkg.py").write_text(
        "import unittest\n\nfrom pkg import mod0000, mod0001\n\n\nclass T(unittest.TestCase):\n"
        "    def test_values(self):\n        self.assertEqual(mod0000.value() + mod0001.value(), 1)\n"
    )
    (root / "policies" / "contract.yaml").write_text(yaml.safe_dump(CONTRACT, sort_keys=False))
    git(["init", "-q", "-b", "main"], root)
    git(["add", "-A"], root)
    git(["commit", "-qm", "init"], root)
    (root / "pkg" / "mod0002.py").write_text("def value():\n    return 2  # edited\n")
    (root / "pkg" / "extra.py").write_text("EXTRA = True\n")  # untracked
    git(["add", "pkg/mod0002.py"], root)


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def line(label: str, ms: list[float]) -> str:
    ordered = sorted(ms)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return (f"  {label:<44} median {statistics.median(ms):8.1f} ms   p90 {p90:8.1f} ms   "
            f"max {max(ms):8.1f} ms   (n={len(ms)})")  # fmt: skip


def in_process(repo: Path, runs: int, cold: int) -> float:
    """Prints the in-process figures; returns the worst cached median (checked against the target)."""
    print("in-process (agentic.gatecheck.run_gate):")
    worst = 0.0
    for staged in (False, True):
        mode = "--staged" if staged else "working tree"
        fresh = GateRequest(repo, staged=staged, use_cache=False)
        cold_ms = timed(lambda req=fresh: run_gate(req), cold)  # type: ignore[misc]
        result = run_gate(GateRequest(repo, staged=staged))
        assert result.cached, "the re-gate of an unchanged tree must be a cache hit"
        cached_ms = timed(lambda s=staged: run_gate(GateRequest(repo, staged=s)), runs)  # type: ignore[misc]
        print(line(f"cold gate, {mode} ({'passed' if result.passed else 'failed'})", cold_ms))
        print(line(f"cached re-gate, {mode}", cached_ms))
        worst = max(worst, statistics.median(cached_ms))
    return worst


def via_cli(repo: Path, runs: int, cold: int) -> None:
    print("CLI subprocess (python -m agentic …, interpreter start and imports included):")
    base = [sys.executable, "-m", "agentic"]

    def cli(*args: str) -> None:
        done = subprocess.run([*base, *args], cwd=repo, capture_output=True, text=True, check=False)
        if done.returncode not in (0, 1):
            raise SystemExit(f"agentic {' '.join(args)} failed:\n{done.stderr}")

    print(line("agentic --version (the floor)", timed(lambda: cli("--version"), runs)))
    print(line("cold gate (--no-cache)", timed(lambda: cli("gate", "--no-cache"), cold)))
    print(line("cached re-gate", timed(lambda: cli("gate"), runs)))
    print(line("cached re-gate --staged", timed(lambda: cli("gate", "--staged"), runs)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200, help="modules in the repository")
    parser.add_argument("--runs", type=int, default=30, help="cached re-gates timed")
    parser.add_argument("--cold", type=int, default=3, help="cold gates timed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentic-gate-bench-") as tmp:
        repo = Path(tmp) / "repo"
        make_repo(repo, args.files)
        print(f"repository: {args.files + 4} files, 1 staged edit, 1 untracked file; "
              f"{len(CONTRACT['invariants'])} invariants")  # fmt: skip
        worst = in_process(repo, args.runs, args.cold)
        via_cli(repo, args.runs, args.cold)
        verdict = "PASS" if worst < TARGET_MS else "FAIL"
        print(f"target: cached re-gate < {TARGET_MS:.0f} ms of work (in-process median): "
              f"{worst:.1f} ms — {verdict}")


if __name__ == "__main__":
    main()
