"""`agentic eval --executor ray` beside the local executor: the same suite, the same concurrency.

The suite is benchmarks/eval.py's (40 generated scripted scenarios x 3 repeats: bug fixes and
refusals). It runs first with the local executor (threads of this process), then on a Ray cluster
started here on 127.0.0.1: a head that schedules nothing and --nodes worker nodes, each with room
for its share of --concurrency attempts. Both go through agentic.eval.driver as `agentic eval` does.

Ray runs the suite twice: on fresh nodes (cold: worker processes start and import agentic) and
again on the running cluster (warm: what a long-lived cluster gives every eval). Prints, side by
side: wall time, attempts per second, wall time per attempt slot (wall x concurrency
/ attempts: what one attempt costs the fleet), the mean attempt as its worker sees it (set-up, run,
checks), and Ray's added cost per attempt in percent (target <= 15 %); then the cluster's start-up,
which an eval against a running cluster (--address) does not pay. Verdicts must be identical.
The nodes run their workers at nice 0 like the local executor's threads (RAY_worker_niceness=0;
Ray's default is 15, which on one shared machine starves the attempts behind the driver).

    python benchmarks/eval_ray.py [--scenarios 40] [--repeats 3] [--concurrency 4] [--nodes 2]
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
from benchmarks.eval import generate  # noqa: E402


def evaluate(suite: Path, options: Options) -> tuple[float, EvalRun, list[Any]]:
    results: list[Any] = []
    req, state = plan_eval(EvalRequest([suite], [], options))
    started = time.perf_counter()
    run = run_eval(req, state, chosen_scenarios(req), results.append)
    return time.perf_counter() - started, run, results


def figures(name: str, wall: float, results: list[Any], concurrency: int) -> dict[str, float]:
    n = len(results)
    seen = [r.setup_s + r.attempt.duration_s + r.check_s for r in results]
    row = {"wall_s": wall, "per_s": n / wall, "slot_s": wall * concurrency / n, "attempt_s": statistics.mean(seen)}
    print(f"{name:<9}{wall:8.2f} s {row['per_s']:9.2f}/s {row['slot_s']:10.3f} s {row['attempt_s']:10.3f} s")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--nodes", type=int, default=2)
    opts = parser.parse_args()
    from ray.cluster_utils import Cluster

    with tempfile.TemporaryDirectory(prefix="agentic-bench-eval-ray-") as tmp:
        suite = generate(Path(tmp), opts.scenarios)
        local_wall, local, local_results = evaluate(suite, Options(repeats=opts.repeats, concurrency=opts.concurrency))
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
            cold_wall, _, cold_results = evaluate(suite, options)  # the nodes start their worker processes
            ray_wall, ray, ray_results = evaluate(suite, options)  # a running cluster's workers
        finally:
            cluster.shutdown()
    total = len(local_results)
    print(f"{opts.scenarios} scenarios x {opts.repeats} repeats = {total} attempts at concurrency {opts.concurrency}; "
          f"Ray: {opts.nodes} worker nodes on 127.0.0.1, {ATTEMPT_CPUS} CPU an attempt")  # fmt: skip
    print(f"{'executor':<9} {'wall':>10} {'attempts':>11} {'per slot':>12} {'attempt':>12}")
    a = figures("local", local_wall, local_results, opts.concurrency)
    c = figures("ray cold", cold_wall, cold_results, opts.concurrency)
    b = figures("ray", ray_wall, ray_results, opts.concurrency)
    print(f"Ray's added cost per attempt: {100 * (b['slot_s'] / a['slot_s'] - 1):+.1f} % on a running cluster "
          f"(target <= 15 %), {100 * (c['slot_s'] / a['slot_s'] - 1):+.1f} % on the first eval of fresh nodes "
          "(their worker processes start and import agentic); the connection to the cluster included")  # fmt: skip
    print(f"cluster start-up (head + {opts.nodes} nodes): {start_s:.2f} s, not counted above")
    same = [(x.scenario, x.attempt, x.verdict) for x in local.summary.attempts] == [
        (x.scenario, x.attempt, x.verdict) for x in ray.summary.attempts]  # fmt: skip
    print(f"verdicts identical: {same} ({local.summary.overall.passes} passed each)")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
