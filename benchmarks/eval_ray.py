"""`agentic eval --executor ray` beside the local executor: the same suite, the same concurrency.

The suite is benchmarks/eval.py's (40 generated scripted scenarios x 3 repeats: bug fixes and
refusals). It runs first with the local executor (threads of this process), then on a Ray cluster
started here on 127.0.0.1: a head that schedules nothing and --nodes worker nodes, each with room
for its share of --concurrency attempts. Both go through agentic.eval.driver as `agentic eval` does.

Ray runs the suite first on fresh nodes (cold: the attempt hosts start, each a process that imports
agentic), then --rounds times on the running cluster (warm: each eval a Ray job of its own, as
`agentic eval` is, finding the hosts the previous eval left up, as a long-lived cluster gives every
eval within --keep-hosts), in turns with further local runs, so that a slow spell of a shared
machine falls on both executors; each figure is the median of its runs. Each local eval starts
with no memo of base-commit test counts, as an `agentic eval` process does. Prints, side by side: wall time, attempts per second, wall time
per attempt slot (wall x concurrency / attempts: what one attempt costs the fleet), the mean
attempt as its worker sees it (set-up, run, checks), the whole machine's CPU time per attempt
(every process, Ray's daemons included), and Ray's added cost per attempt in percent (target
<= 15 %); then the cluster's start-up, which an eval against a running cluster (--address) does
not pay. Verdicts must be identical. The nodes run their workers at nice 0 like the local
executor's threads (RAY_worker_niceness=0; Ray's default is 15, which on one shared machine
starves the attempts behind the driver).

    python benchmarks/eval_ray.py [--scenarios 40] [--repeats 3] [--concurrency 4] [--nodes 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # nodes on 127.0.0.1 (read as Ray is imported)
# Ray runs task workers at nice 15 (its worker_niceness): beside this driver at nice 0, preparing scenarios
# on the same two cores, the attempts would be starved. The local executor's attempts run at nice 0.
os.environ.setdefault("RAY_worker_niceness", "0")

from agentic.eval.driver import EvalRequest, EvalRun, chosen_scenarios, plan_eval, run_eval  # noqa: E402
from agentic.eval.onray import ATTEMPT_CPUS  # noqa: E402
from agentic.eval.runner import Options  # noqa: E402
from agentic.gate.counting import REMEMBERED  # noqa: E402
from benchmarks.eval import generate  # noqa: E402


def evaluate(suite: Path, options: Options) -> tuple[float, EvalRun, list[Any]]:
    results: list[Any] = []
    req, state = plan_eval(EvalRequest([suite], [], options))
    started = time.perf_counter()
    run = run_eval(req, state, chosen_scenarios(req), results.append)
    return time.perf_counter() - started, run, results


def busy_s() -> float | None:
    """CPU seconds the whole machine has spent busy (every process, Ray's daemons included), or None
    where /proc/stat is not there."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return None
    return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6]) / os.sysconf("SC_CLK_TCK")


def measured(suite: Path, options: Options) -> dict[str, Any]:
    # Each `agentic eval` is a process of its own, which counts each base commit's tests once; here
    # the evals share this process, whose memo of those counts would spare every local eval after the
    # first. Ray's evals start theirs empty too: each is a new Ray job, with worker processes of its own.
    REMEMBERED.clear()
    before = busy_s()
    wall, run, results = evaluate(suite, options)
    after = busy_s()
    n = len(results)
    seen = [r.setup_s + r.attempt.duration_s + r.check_s for r in results]
    return {"wall_s": wall, "per_s": n / wall, "slot_s": wall * options.concurrency / n,
            "attempt_s": statistics.mean(seen), "cpu_s": None if before is None or after is None else (after - before) / n,
            "verdicts": [(x.scenario, x.attempt, x.verdict) for x in run.summary.attempts],
            "passes": run.summary.overall.passes}  # fmt: skip


def row(name: str, rows: list[dict[str, Any]]) -> dict[str, float]:
    """The median of each figure over the rounds."""
    med = {k: statistics.median(r[k] for r in rows) for k in ("wall_s", "per_s", "slot_s", "attempt_s")}
    cpus = [r["cpu_s"] for r in rows if r["cpu_s"] is not None]
    med["cpu_s"] = statistics.median(cpus) if cpus else float("nan")
    print(f"{name:<10}{med['wall_s']:8.2f} s {med['per_s']:9.2f}/s {med['slot_s']:10.3f} s {med['attempt_s']:10.3f} s"
          f" {med['cpu_s']:10.3f} s   ({len(rows)} run{'s' if len(rows) > 1 else ''})")  # fmt: skip
    return med


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="local and warm-Ray evals, taken in turns")
    opts = parser.parse_args()
    from ray.cluster_utils import Cluster

    local_opts = Options(repeats=opts.repeats, concurrency=opts.concurrency)
    with tempfile.TemporaryDirectory(prefix="agentic-bench-eval-ray-") as tmp:
        suite = generate(Path(tmp), opts.scenarios)
        local = [measured(suite, local_opts)]
        started = time.perf_counter()
        node = {"node_ip_address": "127.0.0.1", "include_dashboard": False}
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, **node})
        share = max(1, round(-(-opts.concurrency // opts.nodes) * ATTEMPT_CPUS))  # room for its share of the attempts
        for _ in range(opts.nodes):
            cluster.add_node(num_cpus=share, **node)
        cluster.wait_for_nodes()
        start_s = time.perf_counter() - started
        try:
            options = Options(repeats=opts.repeats, concurrency=opts.concurrency, executor="ray", address=cluster.address)
            cold = [measured(suite, options)]  # the attempt hosts start
            warm: list[dict[str, Any]] = []
            for i in range(opts.rounds):  # in turns, so a slow spell of a shared machine falls on both
                warm.append(measured(suite, options))
                if i:
                    local.append(measured(suite, local_opts))
        finally:
            cluster.shutdown()
    total = len(local[0]["verdicts"])
    print(f"{opts.scenarios} scenarios x {opts.repeats} repeats = {total} attempts at concurrency {opts.concurrency}; "
          f"Ray: {opts.nodes} worker nodes on 127.0.0.1, {ATTEMPT_CPUS} CPU an attempt; medians of the rounds")  # fmt: skip
    print(f"{'executor':<9} {'wall':>10} {'attempts':>11} {'per slot':>12} {'attempt':>12} {'CPU/attempt':>12}")
    a = row("local", local)
    c = row("ray cold", cold)
    b = row("ray", warm)
    print(f"Ray's added cost per attempt: {100 * (b['slot_s'] / a['slot_s'] - 1):+.1f} % on a running cluster "
          f"(target <= 15 %), {100 * (c['slot_s'] / a['slot_s'] - 1):+.1f} % on the first eval of fresh nodes "
          "(its attempt hosts start and import agentic); the connection to the cluster included")  # fmt: skip
    print(f"machine CPU per attempt (every process, Ray's daemons included): {100 * (b['cpu_s'] / a['cpu_s'] - 1):+.1f} %")
    print(f"cluster start-up (head + {opts.nodes} nodes): {start_s:.2f} s, not counted above")
    runs = local + cold + warm
    same = all(r["verdicts"] == runs[0]["verdicts"] for r in runs)
    print(f"verdicts identical: {same} ({runs[0]['passes']} passed each)")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
