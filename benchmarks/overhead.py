"""Harness overhead: the same 100-step trajectory through `agentic run` and through a bare loop.

The trajectory repeats read_file, edit_file, read_file, run_tests (25 test runs in all) against a
small repository, driven by a zero-latency scripted model. The bare loop performs the same reads,
edits and test commands directly (plain subprocess, no sandbox, no journal, no policy).

Prints: per-step time of both, the per-step overhead and the ratio; time from process start to the
first model request; `agentic --help` wall time. Targets: overhead ≤ 10 ms/step, first request
< 0.5 s, --help < 250 ms.

    python benchmarks/overhead.py [--steps 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

TEST_COMMAND = [sys.executable, "-m", "unittest", "discover", "-s", "tests", "-t", "."]
CONTRACT = {
    "version": 1,
    "test_command": ["python", "-m", "unittest", "discover", "-s", "tests", "-t", "."],
    "protected": ["tests/**"],
    "limits": {"max_steps": 1000, "max_tool_calls": 1000, "timeout_s": 600},
    "tools": {
        "read_file": {"allow": True},
        "edit_file": {"allow": ["*.py"]},
        "run_tests": {"allow": True},
    },
    "invariants": [{"id": "tests", "check": {"tests": True}}],
}


def git(args: list[str], cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(root: Path) -> None:
    (root / "tests").mkdir(parents=True)
    (root / "mod.py").write_text("VALUE = 0\n\n\ndef double(x):\n    return 2 * x\n")
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "test_mod.py").write_text(
        "import unittest\n\nfrom mod import double\n\n\nclass T(unittest.TestCase):\n"
        "    def test_double(self):\n        self.assertEqual(double(2), 4)\n"
    )
    (root / "policies").mkdir()
    (root / "policies" / "contract.yaml").write_text(yaml.safe_dump(CONTRACT))
    git(["init", "-q", "-b", "main"], root)
    git(["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "init", "--allow-empty"], root)
    git(["add", "-A"], root)
    git(["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "files"], root)


def trajectory(steps: int) -> list[tuple[str, dict[str, str]]]:
    """(tool, arguments) for each step; edits toggle VALUE so every edit is a real change."""
    out: list[tuple[str, dict[str, str]]] = []
    value = 0
    for i in range(steps):
        phase = i % 4
        if phase in (0, 2):
            out.append(("read_file", {"path": "mod.py"}))
        elif phase == 1:
            out.append(("edit_file", {"path": "mod.py", "old_text": f"VALUE = {value}", "new_text": f"VALUE = {1 - value}"}))
            value = 1 - value
        else:
            out.append(("run_tests", {}))
    return out


def bare_loop(root: Path, steps: list[tuple[str, dict[str, str]]]) -> float:
    env = {"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.perf_counter()
    for tool, args in steps:
        path = root / args.get("path", "")
        if tool == "read_file":
            "\n".join(f"{n:>6}\t{line}" for n, line in enumerate(path.read_text().splitlines(), 1))
        elif tool == "edit_file":
            text = path.read_text()
            assert text.count(args["old_text"]) == 1
            path.write_text(text.replace(args["old_text"], args["new_text"]))
        else:
            subprocess.run(TEST_COMMAND, cwd=root, env=env, capture_output=True, check=False)
    return time.perf_counter() - start


def agentic_run(root: Path, steps: list[tuple[str, dict[str, str]]]) -> tuple[float, float]:
    """(steady-state seconds for the steps, seconds from process start to the first model request)."""
    turns = [{"tool_calls": [{"name": t, "arguments": a}]} for t, a in steps]
    turns.append({"tool_calls": [{"name": "finish", "arguments": {"summary": "done"}}]})
    script = root.parent / "script.yaml"
    script.write_text(yaml.safe_dump(turns))
    started = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "agentic", "run", "benchmark", "--model", f"script:{script}", "--json"],
        cwd=root, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"agentic run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    records = [json.loads(line) for line in Path(summary["journal"]).read_text().splitlines()]
    first_request = next(r["ts"] for r in records if r["kind"] == "model.request")
    results = [r["ts"] for r in records if r["kind"] == "tool.result"]
    last_step_result = results[len(steps) - 1]
    return last_step_result - first_request, first_request - started


def help_time(repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "agentic", "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    opts = parser.parse_args()
    steps = trajectory(opts.steps)
    bare, harness, first = [], [], []
    with tempfile.TemporaryDirectory(prefix="agentic-bench-") as tmp:
        for n in range(opts.repeats):  # interleaved: bare, agentic, bare, agentic, …
            root = Path(tmp) / f"bare{n}"
            make_repo(root)
            bare.append(bare_loop(root, steps))
            root = Path(tmp) / f"run{n}" / "repo"
            root.parent.mkdir()
            make_repo(root)
            steady, to_first = agentic_run(root, steps)
            harness.append(steady)
            first.append(to_first)
    b, h = statistics.median(bare), statistics.median(harness)
    per_bare, per_harness = b / opts.steps * 1000, h / opts.steps * 1000
    print(f"trajectory: {opts.steps} steps (reads, edits, {opts.steps // 4} test runs), median of {opts.repeats}")
    print(f"bare loop          {per_bare:8.2f} ms/step   total {b:6.2f} s")
    print(f"agentic run        {per_harness:8.2f} ms/step   total {h:6.2f} s")
    print(f"overhead           {per_harness - per_bare:8.2f} ms/step   ratio {h / b:5.2f}x   (target ≤ 10 ms/step)")
    print(f"first model request {statistics.median(first) * 1000:7.0f} ms after process start   (target < 500 ms)")
    print(f"agentic --help      {help_time() * 1000:7.0f} ms wall   (target < 250 ms)")


if __name__ == "__main__":
    main()
