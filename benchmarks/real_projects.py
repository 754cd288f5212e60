"""Real projects (issue 13, point 6): for each public project of tests/realprojects/, the same walk as
tests/run/test_real_projects.py (sdist -> git -> agentic init -> doctor -> the upstream failing test ->
a scripted run that reproduces and fixes the bug), timed. Prints, per project, side by side:

- set-up: extracting the sdist, `git init` and commit, the editable install into .venv when it has one;
- bare tests: the project's test command on the host, in the project's environment, without agentic;
- run: the whole scripted run, wall clock (its commands, two test runs and the gate);
- gate: from the checkpoint to the verdict (the base count and the test command in a clean checkout).

    python benchmarks/real_projects.py [--only click] [--repeats 1] [--json]

Sdists come from the package index once and are cached (tests/realprojects/projects.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.realprojects import projects  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=projects.NAMES, help="a project (repeatable)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="one JSON line per project")
    args = parser.parse_args()
    rows = []
    for name in args.only or projects.NAMES:
        project = projects.load(name)
        times: dict[str, list[float]] = {"setup_s": [], "bare_test_s": [], "run_s": [], "gate_s": []}
        status = ""
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix=f"agentic-real-{name}-") as tmp:
                try:
                    seen = projects.walk(project, Path(tmp))
                except projects.Unreachable as exc:
                    print(f"{name}: skipped, {exc}", file=sys.stderr)
                    break
                status = seen.outcome.status if seen.outcome else f"not run (init exit {seen.init.returncode})"
                for key, value in (("setup_s", seen.setup_s), ("bare_test_s", seen.bare_s),
                                   ("run_s", seen.run_s), ("gate_s", seen.gate_s)):  # fmt: skip
                    times[key].append(value)
        if not times["run_s"]:
            continue
        row = {"project": project.spec["requirement"], "shape": project.spec["shape"], "status": status,
               **{k: round(statistics.median(v), 2) for k, v in times.items()}}  # fmt: skip
        rows.append(row)
        if args.json:
            print(json.dumps(row), flush=True)
    if not args.json and rows:
        print(f"{'project':<22} {'set-up':>7} {'bare tests':>11} {'run':>7} {'gate':>7}  status   shape")
        for row in rows:
            print(f"{row['project']:<22} {row['setup_s']:>6.1f}s {row['bare_test_s']:>10.1f}s {row['run_s']:>6.1f}s "
                  f"{row['gate_s']:>6.1f}s  {row['status']:<8} {row['shape']}")  # fmt: skip
        print("run: the whole scripted run (wall clock); gate: checkpoint to verdict, within the run; "
              f"medians of {args.repeats}")  # fmt: skip
    return 0 if rows and all(r["status"] == "accepted" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
