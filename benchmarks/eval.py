"""`agentic eval` throughput: 40 scripted scenarios x 3 repeats at concurrency 2.

The scenarios are generated in a temp dir from small fixture variants (each its own module, test and
contract): three in four are bug fixes (explore, run the tests, fix, run them again, finish; judged
by fail_to_pass, pass_to_pass, changed_paths and tools_called), one in four is a refusal (an edit
of a protected path is refused, the agent gives up: judged by status rejected, tools_denied and
changed_paths). The eval runs through the same code as `agentic eval` (scenarios.load_all,
eval.Evaluator, eval.summary_of).

Prints the total wall time (target < 60 s on a 2-core machine), the mean attempt time (set-up, run
and checks, as a worker sees it), the per-scenario set-up cost (fixture -> template repository, and
template -> the attempt's repository -> the run's worktree; medians) and where an attempt's time goes.

    python benchmarks/eval.py [--scenarios 40] [--repeats 3] [--concurrency 2] [--profile out.html]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONTRACT = {
    "version": 1,
    "test_command": ["python", "-m", "unittest", "discover", "-s", "tests", "-t", "."],
    "protected": ["policies/**", "tests/**", "config/**"],
    "limits": {"max_steps": 10, "max_tool_calls": 20, "timeout_s": 120, "max_gate_attempts": 2},
    "tools": {"list_files": {"allow": True}, "read_file": {"allow": True}, "edit_file": {"allow": ["*.py"]},
              "run_tests": {"allow": True}, "finish": {"allow": True}},
    "invariants": [{"id": "tests-pass", "check": {"tests": True}},
                   {"id": "protected-unchanged", "check": {"protected_unchanged": True}}],
}  # fmt: skip


def fixture(root: Path, i: int) -> None:
    """Module m{i}.py whose scale() adds one too many; two tests, one failing; a protected config."""
    (root / "tests").mkdir(parents=True)
    (root / "policies").mkdir()
    (root / "config").mkdir()
    (root / f"m{i}.py").write_text(f'"""Variant {i}."""\n\n\ndef scale(x):\n    return x * {i + 2} + 1\n\n\n'
                                   f'def zero():\n    return 0\n')  # fmt: skip
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "test_m.py").write_text(
        f"import unittest\n\nfrom m{i} import scale, zero\n\n\nclass T(unittest.TestCase):\n"
        f"    def test_scale(self):\n        self.assertEqual(scale(3), {3 * (i + 2)})\n\n"
        "    def test_zero(self):\n        self.assertEqual(zero(), 0)\n"
    )
    (root / "config" / "app.ini").write_text("[app]\nlevel = 1\n")
    (root / "policies" / "contract.yaml").write_text(yaml.safe_dump(CONTRACT, sort_keys=False))


def bugfix(i: int) -> tuple[dict[str, object], list[dict[str, object]]]:
    edit = {"path": f"m{i}.py", "old_text": f"x * {i + 2} + 1", "new_text": f"x * {i + 2}"}
    turns = [{"tool_calls": [{"name": "list_files", "arguments": {}}]},
             {"tool_calls": [{"name": "read_file", "arguments": {"path": f"m{i}.py"}}]},
             {"tool_calls": [{"name": "run_tests", "arguments": {}}]},
             {"tool_calls": [{"name": "edit_file", "arguments": edit}]},
             {"tool_calls": [{"name": "run_tests", "arguments": {}}]},
             {"tool_calls": [{"name": "finish", "arguments": {"summary": "fixed scale"}}]}]  # fmt: skip
    checks = {"fail_to_pass": ["tests.test_m.T.test_scale"], "pass_to_pass": ["tests.test_m.T.test_zero"],
              "changed_paths": [f"m{i}.py"], "tools_called": ["run_tests", "edit_file"]}  # fmt: skip
    return checks, turns


def refusal(i: int) -> tuple[dict[str, object], list[dict[str, object]]]:
    edit = {"path": "config/app.ini", "old_text": "level = 1", "new_text": "level = 2"}
    turns = [{"tool_calls": [{"name": "read_file", "arguments": {"path": "config/app.ini"}}]},
             {"tool_calls": [{"name": "edit_file", "arguments": edit}]},
             {"text": "That file is protected; I cannot change it."},
             {"text": "Stopping."}]  # fmt: skip
    return {"status": "rejected", "tools_denied": ["edit_file"], "changed_paths": []}, turns


def generate(directory: Path, count: int) -> Path:
    suite = directory / "scenarios"
    (suite / "scripts").mkdir(parents=True)
    for i in range(count):
        fixture(suite / "fixtures" / f"f{i}", i)
        checks, turns = refusal(i) if i % 4 == 3 else bugfix(i)
        (suite / "scripts" / f"s{i}.yaml").write_text(yaml.safe_dump(turns, sort_keys=False))
        scenario = {"id": f"s{i:02d}", "task": f"Fix scale() in m{i}.py" if i % 4 != 3 else "Raise the level to 2",
                    "repo": f"fixtures/f{i}", "model": f"script:scripts/s{i}.yaml", "checks": checks}  # fmt: skip
        (suite / f"s{i:02d}.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    return suite


def run(suite: Path, repeats: int, concurrency: int) -> tuple[float, list[object], object]:
    from agentic.eval.runner import Evaluator, Options, summary_of
    from agentic.eval.scenarios import load_all

    scenarios = load_all([suite])
    started = time.time()
    with Evaluator(scenarios, Options(repeats=repeats, concurrency=concurrency)) as evaluator:
        results = evaluator.run()
        summary = summary_of(evaluator, results, started, [str(suite)])
    return time.time() - started, results, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--profile", type=Path, help="Write a pyinstrument HTML profile here.")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentic-bench-eval-") as tmp:
        suite = generate(Path(tmp), opts.scenarios)
        profiler = None
        if opts.profile is not None:
            from pyinstrument import Profiler

            profiler = Profiler(async_mode="disabled")
            profiler.start()
        wall, results, summary = run(suite, opts.repeats, opts.concurrency)
        if profiler is not None:
            profiler.stop()
            opts.profile.write_text(profiler.output_html())
    attempts = [r.attempt for r in results]  # type: ignore[attr-defined]
    verdicts = {v: sum(1 for a in attempts if a.verdict == v) for v in ("pass", "fail", "error")}
    setup = summary.meta["setup"]  # type: ignore[attr-defined]
    templates = [s["template_s"] for s in setup.values()]
    attempt_setup = [r.setup_s for r in results]  # type: ignore[attr-defined]
    checks = [r.check_s for r in results]  # type: ignore[attr-defined]
    runs = [a.duration_s for a in attempts]
    per_attempt = [r.setup_s + a.duration_s + r.check_s for r, a in zip(results, attempts, strict=True)]  # type: ignore[attr-defined]
    print(f"{opts.scenarios} scenarios x {opts.repeats} repeats = {len(attempts)} attempts at concurrency "
          f"{opts.concurrency}: {verdicts}")  # fmt: skip
    print(f"total wall time            {wall:7.2f} s   (target < 60 s)")
    print(f"throughput                 {len(attempts) / wall:7.2f} attempts/s")
    print(f"per attempt (mean)         {statistics.mean(per_attempt):7.3f} s   = set-up {statistics.mean(attempt_setup):.3f}"
          f" + run {statistics.mean(runs):.3f} + checks {statistics.mean(checks):.3f}")  # fmt: skip
    print(f"set-up per scenario        {statistics.median(templates):7.3f} s   fixture -> template repository "
          "(median, once per scenario, base verified apart)")  # fmt: skip
    print(f"set-up per attempt         {statistics.median(attempt_setup):7.3f} s   template -> attempt repository -> "
          "run worktree (median)")  # fmt: skip
    if verdicts["pass"] != len(attempts):
        bad = [f"{a.scenario}#{a.attempt} {a.verdict}: {a.reason}" for a in attempts if a.verdict != "pass"]
        sys.exit("not every attempt passed:\n" + "\n".join(bad[:10]))


if __name__ == "__main__":
    main()
