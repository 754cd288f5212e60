"""`agentic eval --executor ray` on a real Ray cluster started on 127.0.0.1 for this module: a head
(no CPUs: it schedules nothing) and two worker nodes. The eval is driven in process through
agentic.eval.driver (the CLI only where Ctrl-C is the subject); every Ray process the module started
is stopped, by its process id, at the end."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agentic.cli.doctor import check_ray
from agentic.eval.compare import compare
from agentic.eval.driver import EvalRequest, EvalRun, chosen_scenarios, plan_eval, run_eval
from agentic.eval.fleet import Fleet, fleet_order
from agentic.eval.onray import FleetHandle, connected
from agentic.eval.rayworker import TEMPLATES_PREFIX, Shipment, attempt_on_worker, bundle_digest, bundle_of
from agentic.eval.runner import Evaluator, Options
from agentic.eval.scenarios import load_all
from agentic.eval.summaryfile import load_summary, summary_dict
from agentic.journal.records import read_records
from agentic.util import scratch
from tests import forkserver
from tests.conftest import cli
from tests.eval.conftest import DogfoodEval
from tests.eval.test_eval import FINISH, FIX, GOOD, scenario

PROJECT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.proof, pytest.mark.xdist_group("ray")]
TIMINGS = {"duration_s", "mean_duration_s", "run_id", "started_at", "wall_s", "setup", "executor"}


LOCAL = {"node_ip_address": "127.0.0.1", "include_dashboard": False}
# a node that dies is known dead after about a second, not Ray's default of tens of seconds
HEALTH = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 300, "health_check_timeout_ms": 300,
          "health_check_failure_threshold": 3}  # fmt: skip


@pytest.fixture(scope="module")
def nodes() -> Iterator[Any]:
    """The module's cluster (ray.cluster_utils.Cluster): a head and two worker nodes."""
    # every node, driver and CLI of this module on the loopback address (Ray reads this as it is imported;
    # by default a Linux node advertises the address it would reach the internet from)
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    if os.environ.get("AGENTIC_REQUIRE_RAY") != "1":
        pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    started = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "_system_config": HEALTH, **LOCAL})
    for _ in range(2):
        started.add_node(num_cpus=1, **LOCAL)
    started.wait_for_nodes()
    try:
        yield started
    finally:
        pids = {p.process.pid for node in started.list_all_nodes() for ps in node.all_processes.values() for p in ps}
        started.shutdown()
        deadline = time.monotonic() + 30
        while (alive := [pid for pid in pids | STARTED if _alive(pid)]) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in alive:
            os.kill(pid, signal.SIGKILL)
        for pid in template_owners():  # of hosts killed with their node, which could not remove them
            if not _alive(pid):
                shutil.rmtree(Path(tempfile.gettempdir()) / f"{TEMPLATES_PREFIX}{pid}", ignore_errors=True)
        scratch.sweep_owned("agentic-eval-", grace=0)  # and the attempts those hosts were running


STARTED: set[int] = set()  # the processes of nodes a test started and removed


@pytest.fixture(scope="module")
def cluster(nodes: Any) -> Iterator[str]:
    """The cluster's address, this process connected to it once for the module: the evals driven here
    use that connection (agentic.eval.onray.connected) and so share one Ray job, whose worker
    processes serve them all, where `agentic eval` processes (the CLI tests) each connect anew."""
    import ray

    ray.init(address=nodes.address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield str(nodes.address)
    finally:
        ray.shutdown()


@pytest.fixture(autouse=True)
def two_worker_nodes(request: pytest.FixtureRequest) -> None:
    """Before each test on the cluster: its two worker nodes, one added back if a test removed one."""
    if "cluster" not in request.fixturenames:
        return
    nodes = request.getfixturevalue("nodes")
    if len(nodes.worker_nodes) < 2:
        for _ in range(2 - len(nodes.worker_nodes)):
            nodes.add_node(num_cpus=1, **LOCAL)
        nodes.wait_for_nodes()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
    return " Z " not in stat  # a zombie is gone, only not yet reaped


def evaluate(paths: list[Path], options: Options, cwd: Path, resume: str | None = None) -> EvalRun:
    req, state = plan_eval(EvalRequest(paths, [], options, cwd / ".agentic", resume))
    return run_eval(req, state, chosen_scenarios(req), lambda _: None)


def comparable(value: Any) -> Any:
    """A summary's JSON object without what may differ between two evals of one suite: timings, run ids."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k not in TIMINGS}
    return [comparable(v) for v in value] if isinstance(value, list) else value


def matching(pattern: str) -> list[int]:
    """The processes whose command line (its arguments joined by spaces) `pattern` finds, as `pgrep -f`
    finds them; read here, without a pgrep process each time a test polls."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                line = Path(entry.path, "cmdline").read_bytes().rstrip(b"\0").replace(b"\0", b" ")
            except OSError:  # ended meanwhile
                continue
            if re.search(pattern, line.decode("utf-8", "replace")):
                found.append(int(entry.name))
    return found


def hosts_up() -> list[int]:
    """The attempt hosts' processes, running an attempt or not."""
    return matching("^ray::AttemptHost")


def template_owners() -> list[int]:
    """The processes whose template directories are on this machine."""
    return [int(p.name.rpartition("-")[2]) for p in Path(tempfile.gettempdir()).glob(f"{TEMPLATES_PREFIX}*")]


def templates_kept() -> dict[int, set[str]]:
    """The digests of the scenario templates each process keeps (rayworker.template_of)."""
    kept = {}
    for home in Path(tempfile.gettempdir()).glob(f"{TEMPLATES_PREFIX}*"):
        try:
            kept[int(home.name.rpartition("-")[2])] = {t.name for t in home.iterdir() if (t / ".git").is_dir()}
        except OSError:  # its host ended and removed it meanwhile
            continue
    return kept


def commands(code: str) -> list[int]:
    """The sandboxed `python -c '<code>'` commands running now."""
    return [pid for pid in matching(re.escape(code)) if pid != os.getpid()]


def hosts_in(code: str) -> list[int]:
    """The attempt hosts whose try is in that command now: the host among each command's ancestors.
    (A host's process title does not say: it names the last method to start or end on any of its threads.)"""
    hosts, found = set(hosts_up()), []
    for pid in commands(code):
        while pid > 1 and pid not in hosts:
            try:
                pid = int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                break
        if pid in hosts:
            found.append(pid)
    return found


def test_the_dogfood_scenarios_give_on_ray_what_they_give_locally(
    cluster: str, tmp_path: Path, dogfood_eval: DogfoodEval, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same suite as test_dogfood's local `agentic eval scenarios/` (dogfood_eval), on the cluster."""
    monkeypatch.chdir(PROJECT)  # the paths as that eval was given them (the summary names them so)
    paths = [Path("scenarios")]
    work = tmp_path / "work"
    ray = evaluate(paths, Options(repeats=1, concurrency=4, executor="ray", address=cluster, workdir=work), tmp_path)
    local = load_summary(dogfood_eval.json_file)
    assert ray.summary.meta["executor"] == "ray" and local.meta["executor"] == "local"
    assert comparable(summary_dict(ray.summary)) == comparable(dogfood_eval.summary), [
        a.reason for a in ray.summary.attempts if a.verdict == "error"]  # fmt: skip
    baseline = load_summary(PROJECT / "scenarios" / "baseline.json")
    assert compare(ray.summary, baseline, max_drop=0.0) == compare(local, baseline, max_drop=0.0)
    assert ray.summary.overall.passing == ray.summary.overall.scenarios >= 10
    # each host unbundled a scenario's template once and its attempts cloned that; the hosts keep them
    assert template_owners() and set(template_owners()) <= set(hosts_up()), (template_owners(), hosts_up())
    # the journals came back: stored in each attempt's repository as if the attempt had run there
    fixed = ray.summary.scenario("fix-average")
    assert fixed is not None
    root = work / "attempts" / "fix-average" / "1"
    run_id = fixed.results[0].run_id
    shown = {}
    for command in ("audit", "show"):
        done = cli(command, str(run_id), cwd=root, env={"COLUMNS": "400"})
        assert done.returncode == 0, done.stdout + done.stderr
        shown[command] = done.stdout
    assert "head matches the run database's anchor" in shown["audit"] and "its HMAC verified" in shown["audit"]
    branch = subprocess.run(["git", "log", "--format=%s", "-1", f"agentic/{run_id}"], cwd=root, capture_output=True,
                            text=True)  # fmt: skip
    assert branch.returncode == 0 and branch.stdout.strip(), branch.stderr


def test_the_next_eval_finds_the_hosts_warm_and_idle_hosts_end(cluster: str, tmp_path: Path) -> None:
    """The hosts outlive their eval: the next one runs on the same processes, which keep the templates
    and the base commit's test count; with no attempt for --keep-hosts seconds they end, templates gone."""
    scenario(tmp_path / "s", "warm", GOOD, repeats=2)
    options = Options(concurrency=3, executor="ray", address=cluster, workdir=tmp_path / "first")
    first = evaluate([tmp_path / "s"], options, tmp_path)
    up = set(hosts_up())
    assert len(up) >= 3
    [loaded] = load_all([tmp_path / "s"])
    with Evaluator([loaded], Options(workdir=tmp_path / "digest")) as ev:  # the name hosts keep it under
        digest = bundle_digest(bundle_of(ev.prepared(loaded).template))

    def warm() -> set[int]:
        return {pid for pid, digests in templates_kept().items() if digest in digests}

    # a host that ran an attempt keeps the scenario's template (and the base's test count). A busy machine
    # can let one host take both attempts while another starts, and hosts an earlier test left up (with
    # templates of other scenarios) can serve too: three at once warm the ones left cold
    warming = [evaluate([tmp_path / "s"], replace(options, repeats=3, workdir=tmp_path / f"warming-{n}"), tmp_path)
               for n in range(3) if not up <= warm()]  # fmt: skip
    assert up <= warm(), (warming, up, templates_kept())
    second = evaluate([tmp_path / "s"], replace(options, concurrency=2, workdir=tmp_path / "second",
                                                keep_hosts_s=1.0), tmp_path)  # fmt: skip
    assert [a.verdict for a in first.summary.attempts + second.summary.attempts] == ["pass"] * 4
    assert set(hosts_up()) <= up  # no new process: the same hosts ran the second eval
    deadline = time.monotonic() + 20
    while len(hosts_up()) > 2 and time.monotonic() < deadline:  # the third, beyond --concurrency 2, ended
        time.sleep(0.1)
    assert len(hosts_up()) == 2
    baselines = [r for j in (tmp_path / "second").glob("attempts/*/*/.agentic/runs/*/journal.jsonl")
                 for r in read_records(j) if r["kind"] == "gate.baseline"]  # fmt: skip
    assert len(baselines) == 2 and all(r["data"].get("remembered") for r in baselines), baselines  # counted before
    deadline = time.monotonic() + 20
    while set(hosts_up()) & up and time.monotonic() < deadline:  # idle past the second eval's --keep-hosts 1
        time.sleep(0.1)
    assert not set(hosts_up()) & up
    assert not set(template_owners()) & up  # each removed its templates as it ended


def test_a_try_whose_fleet_is_gone_stops_as_cancelled(cluster: str) -> None:
    """A driver that dies takes its eval's fleet with it: the hosts' tries then find the eval cancelled."""
    import ray

    actor = ray.remote(Fleet).options(num_cpus=0).remote()
    fleet = FleetHandle(actor)
    assert fleet.cancelled() is None
    ray.kill(actor)
    deadline = time.monotonic() + 20
    while (why := fleet.cancelled()) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert why == "the eval ended (its driver is gone)"


def test_a_worker_killed_mid_attempt_is_tried_again_and_counted_once(cluster: str, tmp_path: Path) -> None:
    wait = {"name": "run_command", "arguments": {"command": "python -c 'import time; time.sleep(3)'"}}
    contract = {"tools": {"run_command": {"allow": ["python -c *"]}}}
    scenario(tmp_path / "s", "killed", [{"tool_calls": [wait]}, *GOOD], contract=contract, repeats=1)
    options = Options(concurrency=1, executor="ray", address=cluster, max_attempt_retries=1)
    killed: list[int] = []

    def kill_the_first_try() -> None:
        deadline = time.monotonic() + 60
        while not (pids := hosts_in("time.sleep(3)")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)  # inside its sleep: the run has journaled its first steps
        os.kill(pids[0], signal.SIGKILL)
        killed.append(pids[0])

    killer = threading.Thread(target=kill_the_first_try)
    killer.start()
    run = evaluate([tmp_path / "s"], options, tmp_path)
    killer.join()
    assert killed
    [only] = run.summary.attempts
    assert (only.verdict, only.attempt) == ("pass", 1), only
    assert run.summary.overall.attempts == 1  # counted once
    assert run.state is not None
    lines = run.state.lines()
    lost = [line for line in lines if "lost" in line]
    assert len(lost) == 1 and lost[0]["try"] == 1, lines
    assert "journal is kept at" in lost[0]["attempt"]["reason"]
    [kept] = (run.state.dir / "lost").glob("killed-1-try1/*/journal.jsonl")
    kinds = [r["kind"] for r in read_records(kept)]
    assert kinds[0] == "run.start" and "run.end" not in kinds  # the lost try's journal, cut where it died
    assert [line["try"] for line in lines if "lost" not in line] == [2]


def test_the_rate_limit_and_the_budget_hold_across_workers(cluster: str, tmp_path: Path) -> None:
    rpm, window = 3, 2.0
    settings = {"rate_limits": {"script": {"requests_per_minute": rpm}}}
    for sid in ("a", "b"):
        scenario(tmp_path / "s", sid, GOOD, settings=settings, repeats=2)
    work = tmp_path / "work"
    options = Options(concurrency=4, executor="ray", address=cluster, workdir=work, rate_window_s=window)
    run = evaluate([tmp_path / "s"], options, tmp_path)
    assert [a.verdict for a in run.summary.attempts] == ["pass"] * 4, run.summary.attempts
    journals = list(work.glob("attempts/*/*/.agentic/runs/*/journal.jsonl"))
    records = [r for j in journals for r in read_records(j)]
    assert any(r["kind"] == "model.wait" for r in records)
    # a call is booked after its model.request is journaled and answered at once (a script): its
    # model.response is a little after the booking. Never more than rpm bookings in a window, across
    # both workers: the (i + rpm)-th answer comes a window after the i-th, less that little.
    answered = sorted(r["ts"] for r in records if r["kind"] == "model.response")
    assert len(answered) == 12
    assert all(answered[i + rpm] - answered[i] >= window - 0.5 for i in range(len(answered) - rpm)), answered

    # the budget: once 1 token is spent the eval is cancelled everywhere
    budget = Options(concurrency=2, executor="ray", address=cluster, max_total_tokens=1)
    cut = evaluate([tmp_path / "s"], budget, tmp_path)
    verdicts = [a.verdict for a in cut.summary.attempts]
    assert verdicts == ["cancelled"] * 4, cut.summary.attempts
    assert cut.summary.overall.cancelled == 4 and cut.summary.overall.errors == 0
    # the attempts in flight (two at most) made one call each at most; the others never started
    runs = sum(a.run_id is not None for a in cut.summary.attempts)
    spent = [a.tokens for a in cut.summary.attempts if a.tokens]
    assert 1 <= len(spent) <= runs <= 2, cut.summary.attempts
    assert all("budget of 1 tokens was reached" in a.reason for a in cut.summary.attempts)


SLEEP = "time.sleep(60.125)"


def test_ctrl_c_cancels_what_runs_and_resume_runs_only_what_did_not_end(cluster: str, tmp_path: Path) -> None:
    for command in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "the eval's own repository"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *command], cwd=tmp_path, check=True)
    # a command line no other test runs (commands() finds every process on the machine whose line has it)
    sleep = {"name": "run_command", "arguments": {"command": f"python -c 'import time; {SLEEP}'"}}
    contract = {"tools": {"run_command": {"allow": ["python -c *"]}}}
    scenario(tmp_path / "s", "fast", GOOD, repeats=2)
    slow = scenario(tmp_path / "s", "slow", [{"tool_calls": [sleep]}, *GOOD], contract=contract, repeats=2)
    # a host for each attempt: the slow tries are in their command and the fast ones have ended, whichever
    # scenario is prepared first (the driver sends a prepared one's attempts out at once)
    command = ["agentic", "eval", "s", "--executor", "ray", "--address", cluster, "--concurrency", "4"]
    # forked by the session's fork server (as cli() runs the CLI): a process of its own, Ctrl-C and all
    proc = forkserver.Running(forkserver.shared(), command, tmp_path, {**os.environ, "NO_COLOR": "1"}, "agentic")
    deadline = time.monotonic() + 90
    states = tmp_path / ".agentic" / "evals"
    while not (list(states.glob("*/attempts.jsonl")) and len(hosts_in(SLEEP)) == 2
               and len(next(states.glob("*/attempts.jsonl")).read_text().splitlines()) == 2):  # fmt: skip
        if time.monotonic() > deadline or proc.poll() is not None:
            seen = {"hosts": hosts_up(), "in the command": hosts_in(SLEEP),
                    "ended": [p.read_text() for p in states.glob("*/attempts.jsonl")]}  # fmt: skip
            proc.kill()
            raise AssertionError((seen, proc.communicate(timeout=30)))
        time.sleep(0.1)
    time.sleep(1.0)  # both slow tries are in their command
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert time.monotonic() - started < 15  # not the command's 60 s, nor the grace period
    [state] = states.iterdir()
    ended = [json.loads(line)["attempt"] for line in (state / "attempts.jsonl").read_text().splitlines()]
    # the fast attempts ended; the slow ones were cancelled (not failed), their commands killed
    assert sorted((a["scenario"], a["verdict"]) for a in ended) == [("fast", "pass")] * 2 + [("slow", "cancelled")] * 2
    assert all(a["run_id"] for a in ended), ended  # each came back with its run
    assert not commands(SLEEP)

    fixed = slow.parent / "scripts" / "slow.yaml"
    fixed.write_text(fixed.read_text().replace(SLEEP, "time.sleep(0)"))
    resumed = cli("eval", "--resume", state.name, *command[3:], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"kept 2 attempts that had ended in {state.name}" in resumed.stderr
    assert "4/4" in resumed.stdout
    lines = [json.loads(line)["attempt"] for line in (state / "attempts.jsonl").read_text().splitlines()]
    assert sorted((a["scenario"], a["verdict"]) for a in lines[4:]) == [("slow", "pass")] * 2  # only those ran


def test_attempts_go_scenario_major_with_the_models_interleaved(tmp_path: Path) -> None:
    turns = [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}]
    for sid, model in (("a1", "m1"), ("a2", "m1"), ("b1", "m2")):
        scenario(tmp_path, sid, turns, repeats=2, model=f"script:scripts/{model}.yaml")
    loaded = {s.id: s for s in load_all([tmp_path])}
    todo = [(loaded[sid], n) for n in (1, 2) for sid in ("a1", "a2", "b1")]
    order = fleet_order(todo, lambda s: str(s.model))
    assert [(s.id, n) for s, n in order] == [("a1", 1), ("b1", 1), ("a1", 2), ("b1", 2), ("a2", 1), ("a2", 2)]


def test_doctor_asks_every_node_and_a_node_that_cannot_sandbox_refuses_attempts(cluster: str, tmp_path: Path) -> None:
    import ray

    # a node whose PATH has python and git but no bubblewrap
    bare = tmp_path / "bin"
    bare.mkdir()
    for tool in ("python", "python3", "git", "setpriv"):
        found = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
        if found:
            (bare / tool).symlink_to(found)
    (bare / "python").unlink(missing_ok=True)
    (bare / "python").symlink_to(sys.executable)
    node = subprocess.Popen([sys.executable, "-c", (
        "import sys, ray._private.node as n, ray._private.parameter as p, time\n"
        f"params = p.RayParams(gcs_address={cluster!r}, node_ip_address='127.0.0.1', num_cpus=1, "
        "resources={'nobwrap': 1}, include_dashboard=False, min_worker_port=0, max_worker_port=0)\n"
        "node = n.Node(params, head=False, shutdown_at_exit=True, spawn_reaper=True)\n"
        "print('up', flush=True); sys.stdin.read(); node.kill_all_processes(check_alive=False, allow_graceful=True)\n")],
        env={**os.environ, "PATH": str(bare)}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert node.stdout is not None and node.stdout.readline().strip() == "up"
        checks = check_ray(cluster)
        nodes = [c for c in checks if c.name.startswith("ray node")]
        assert len(nodes) == 4 and sum(c.ok for c in nodes) == 3, checks
        [bad] = [c for c in nodes if not c.ok]
        assert "bwrap" in bad.detail and bad.fix, bad

        scenario(tmp_path / "s", "refused", GOOD)
        [loaded] = load_all([tmp_path / "s"])
        with Evaluator([loaded], Options()) as ev, connected(cluster):
            prep = ev.prepared(loaded)
            assert prep.template is not None
            fleet = FleetHandle(ray.remote(Fleet).options(num_cpus=0).remote())
            task = ray.remote(attempt_on_worker).options(num_cpus=0, resources={"nobwrap": 1}, max_retries=0)
            returned = ray.get(task.remote(Shipment.of(prep), bundle_of(prep.template), 1, 1, fleet))
        attempt = returned.result.attempt
        assert attempt.verdict == "error" and attempt.run_id is None, attempt
        assert "refused on node" in attempt.reason and "never runs unconfined" in attempt.reason
    finally:
        node.communicate("", timeout=60)


def test_a_node_that_dies_mid_attempt_gets_the_attempt_tried_on_another(cluster: str, nodes: Any, tmp_path: Path) -> None:
    """Last in the module: the node it kills is not added back unless a test after it needs it
    (two_worker_nodes)."""
    wait = {"name": "run_command", "arguments": {"command": "python -c 'import time; time.sleep(3)'"}}
    contract = {"tools": {"run_command": {"allow": ["python -c *"]}}}
    scenario(tmp_path / "s", "stranded", [{"tool_calls": [wait]}, *GOOD], contract=contract, repeats=1)
    options = Options(concurrency=1, executor="ray", address=cluster, max_attempt_retries=1)
    ended: list[EvalRun] = []
    driver = threading.Thread(target=lambda: ended.append(evaluate([tmp_path / "s"], options, tmp_path)))
    driver.start()
    deadline = time.monotonic() + 60
    while not (pids := hosts_in("time.sleep(3)")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)  # inside its sleep: the run has journaled its first steps
    raylet = int(Path(f"/proc/{pids[0]}/stat").read_text().rpartition(")")[2].split()[1])  # the worker's parent
    [doomed] = [n for n in nodes.list_all_nodes() if n.all_processes["raylet"][0].process.pid == raylet]
    STARTED.update(p.process.pid for ps in doomed.all_processes.values() for p in ps)
    nodes.remove_node(doomed, allow_graceful=False)  # its raylet and workers killed: the node is gone
    driver.join(timeout=120)
    [run] = ended
    [only] = run.summary.attempts
    assert (only.verdict, only.attempt, run.summary.overall.attempts) == ("pass", 1, 1), only  # counted once
    assert run.state is not None
    lines = run.state.lines()
    [lost] = [line for line in lines if "lost" in line]
    assert lost["try"] == 1 and "ActorDiedError" in lost["lost"] and "its node has died" in lost["lost"], lost
    assert "its journal was lost with its node" in lost["attempt"]["reason"], lost
    assert [line["try"] for line in lines if "lost" not in line] == [2]
