"""Where the test suite's CPU goes: runs the README's test command (`python -m pytest -q -n 4`, or the
pytest arguments given) with tests/cpuprobe.py noting each test's CPU time, and prints the suite's
wall time, the machine's CPU time over it (every process: read from /proc/stat, so run it on a quiet
machine), what the tests were charged (their processes, ended children and CLI processes) by file
and by test, and what no test was charged (the workers' start-up and collection, kernel threads). A test is charged
with everything it started, sandboxed commands and CLI processes included, where a cgroup can be made
for each test process (tests/cpuprobe.py).

On a 2-core machine the suite cannot end before the machine's CPU time over two: that, not the
slowest test, is what the README's figure is made of.

    python benchmarks/suite_cost.py [PYTEST ARGS...]

With SUITE_COST_ROWS=FILE set, every test's row (test, cpu, wall) is also written to FILE as JSON.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.cpuprobe import remove_cgroups  # noqa: E402


def machine_cpu() -> tuple[float, float]:
    """CPU-seconds the machine spent busy, and of those in the kernel, since boot."""
    with open("/proc/stat", encoding="ascii") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, _, _, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / tick, (system + irq + softirq) / tick


def main(args: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="agentic-cpu-probe-") as probe:
        env = {**os.environ, "AGENTIC_CPU_PROBE": probe}
        (busy0, kernel0), started = machine_cpu(), time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", *(args or ["-q", "-n", "4"]), "-rfE", "-p", "tests.cpuprobe"],
                              cwd=ROOT, env=env, capture_output=True, text=True)  # fmt: skip
        wall, (busy1, kernel1) = time.perf_counter() - started, machine_cpu()
        rows = [json.loads(line) for f in Path(probe).glob("*.jsonl") for line in f.read_text().splitlines()]
        remove_cgroups()
    if os.environ.get("SUITE_COST_ROWS"):  # every test's row, for a closer look
        Path(os.environ["SUITE_COST_ROWS"]).write_text(json.dumps(rows), encoding="utf-8")
    print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:])
    for line in done.stdout.splitlines():  # the tests that failed, named (-rf: pytest's short summary)
        if line.startswith(("FAILED ", "ERROR ")):
            print(line)
    busy, kernel = busy1 - busy0, kernel1 - kernel0
    charged = sum(r["cpu"] for r in rows)
    print(f"wall {wall:.1f} s; machine CPU {busy:.1f} CPU-s ({kernel / busy:.0%} in the kernel), "
          f"{busy / wall:.2f} cores busy on average")  # fmt: skip
    if not all(r["cgroup"] for r in rows):
        print("no cgroup could be made (not root?): what runs in a sandbox is charged to no test")
    print(f"charged to the {len(rows)} tests: {charged:.1f} CPU-s ({charged / busy:.0%}); to none "
          f"(the workers' start-up and collection, kernel threads): {busy - charged:.1f} CPU-s")  # fmt: skip
    by_file: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0.0])
    for r in rows:
        entry = by_file[r["test"].split("::")[0]]
        entry[0] += r["cpu"]
        entry[1] += r["wall"]
        entry[2] += 1
    print(f"\n{'CPU-s':>7} {'share':>6} {'wall s':>7} {'tests':>5}  file")
    for name, (cpu, spent, count) in sorted(by_file.items(), key=lambda kv: -kv[1][0])[:20]:
        print(f"{cpu:7.1f} {cpu / busy:6.1%} {spent:7.1f} {int(count):5d}  {name}")
    print(f"\n{'CPU-s':>7} {'wall s':>7}  test")
    for r in sorted(rows, key=lambda r: -r["cpu"])[:10]:
        print(f"{r['cpu']:7.2f} {r['wall']:7.2f}  {r['test']}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
