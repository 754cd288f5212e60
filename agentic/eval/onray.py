"""`agentic eval --executor ray`: every attempt a Ray actor task on an attempt host, the eval's shared
state one Ray actor.

    driver ─ prepare every scenario (template, settings, contract, base verified), as locally
      │      put each template bundle and Shipment once in the object store (by content hash)
      │      the Fleet (agentic.eval.fleet) as an actor: rate limits, budget, cancel, where tries run
      │      --concurrency attempt hosts (agentic.eval.raypool): detached actors, each ATTEMPT_CPUS of
      │      a node, kept up between evals (--keep-hosts), so the next eval finds them warm
      ▼
    schedule: scenario-major, interleaved across models (no provider's bucket is emptied first);
      one try at a time per host, a scenario's attempt first to a host that keeps its template
      ▼
    a try returns (rayworker.Returned) ─▶ recorded once per attempt: (scenario, number) is its
      identity, the first result wins; the journal imported under the workdir when it is kept
      a host that was ending refused the try, or died before the try started ─▶ sent again, not lost
      a try lost with its host's process or node (Ray's own retries are off) ─▶ its journal
      salvaged from the node if the node is alive, kept under the eval's state and marked lost;
      the attempt tried again on another host, up to --max-attempt-retries, then an error
      the fleet cancelled (budget, Ctrl-C) ─▶ nothing new starts; each running try's host kills its
      commands, its run stops at the next model call and comes back cancelled, with its journal;
      what has not come back after GRACE_S is killed with its host

Ray is imported only here, only when this executor runs: `pip install 'agentic[ray]'`.
"""

from __future__ import annotations

import collections
import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from agentic.errors import AgenticError, UsageError
from agentic.eval.attempt import AttemptResult
from agentic.eval.fleet import Fleet, fleet_order
from agentic.eval.prepare import cancelled_attempt, error_attempt
from agentic.eval.raypool import Hosts, Shipper
from agentic.eval.rayworker import (
    Returned,
    import_attempt,
    node_check,
    salvage_on_worker,
    untar,
)
from agentic.eval.runner import Evaluator
from agentic.eval.scenarios import Scenario
from agentic.eval.state import EvalState
from agentic.models.ratelimit import Rate

ATTEMPT_CPUS = 0.5  # what an attempt host reserves on its node: mostly waiting on the model, then tests
RESENDS = 5  # how many times a try a host refused (ending) or never started is sent again
ASK_S = 0.5  # how often the driver, waiting for tries, asks the fleet whether the eval was cancelled
GRACE_S = 30.0  # after a cancel, how long running tries get to stop at their next model call
INSTALL = "pip install 'agentic[ray]'"


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError("--executor ray needs Ray, which is not installed", hint=f"install it: {INSTALL}") from None
    return ray


@contextlib.contextmanager
def connected(address: str | None) -> Iterator[Any]:
    """Ray, connected to `address` (auto, HOST:PORT, ray://…) or to a local cluster started for this eval."""
    ray = import_ray()
    _reachable(address)
    if ray.is_initialized():
        yield ray
        return
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UsageError(f"cannot connect to the Ray cluster at {address or 'a new local one'}: {exc}",
                         hint="start one with `ray start --head`, or pass --address") from None  # fmt: skip
    try:
        yield ray
    finally:
        ray.shutdown()


def _reachable(address: str | None) -> None:
    """A HOST:PORT or ray://HOST:PORT that does not answer is said at once: Ray itself retries for minutes."""
    if not address or address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--address {address!r} is not auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise UsageError(f"the Ray cluster at {address} does not answer: {exc}",
                         hint="check the head's address and port (`ray status` on the head), or start one "
                         "with `ray start --head`") from None  # fmt: skip


class FleetHandle:
    """The Fleet actor as the attempts' Limits and Book: every call goes to the one actor."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    def _get(self, ref: Any) -> Any:
        import ray

        return ray.get(ref)

    def try_book(self, rate: Rate, tokens: int) -> tuple[int | None, float]:
        result: tuple[int | None, float] = self._get(self.actor.try_book.remote(rate, tokens))
        return result

    def settle(self, rate: Rate, booking: int, tokens: int) -> None:
        self._get(self.actor.settle.remote(rate, booking, tokens))

    def charge(self, tokens: int, cost_usd: float | None) -> None:
        self._get(self.actor.charge.remote(tokens, cost_usd))

    def cancel(self, reason: str) -> None:
        self._get(self.actor.cancel.remote(reason))

    def cancelled(self) -> str | None:
        """Why the eval was cancelled, or None; a fleet that is gone (its driver ended) cancelled it."""
        from ray import exceptions

        try:
            reason: str | None = self._get(self.actor.cancelled.remote())
        except exceptions.ActorDiedError:  # not a fleet that is only slow to answer (ActorUnavailableError)
            return "the eval ended (its driver is gone)"
        return reason

    def tree_claim(self, key: str, lease_s: float) -> tuple[str, Any]:
        claimed: tuple[str, Any] = self._get(self.actor.tree_claim.remote(key, lease_s))
        return claimed

    def tree_done(self, key: str, results: Any) -> None:
        self._get(self.actor.tree_done.remote(key, results))

    def tree_release(self, key: str) -> None:
        self._get(self.actor.tree_release.remote(key))

    def started(self, key: str, where: dict[str, Any]) -> bool:
        budgeted: bool = self._get(self.actor.started.remote(key, where))
        return budgeted

    def tries(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = self._get(self.actor.tries.remote())
        return found


Inflight = dict[Any, tuple[Scenario, int, int, int]]  # a try's ref -> scenario, number, try, host


class RayExecutor:
    """Runs an Evaluator's attempts on a Ray cluster; one instance per eval."""

    def __init__(self, evaluator: Evaluator, state: EvalState | None = None) -> None:
        self.ev, self.state = evaluator, state
        self.options = evaluator.options
        self._resend: dict[tuple[str, int], int] = {}  # an attempt back in the queue -> the try to send
        self._resent: collections.Counter[tuple[str, int, int]] = collections.Counter()

    def run(self, on_attempt: Callable[[AttemptResult], None] | None = None,
            todo: list[tuple[Scenario, int]] | None = None) -> list[AttemptResult]:  # fmt: skip
        todo = self.ev.plan() if todo is None else todo
        with connected(self.options.address) as ray:
            return self._run(ray, todo, on_attempt or (lambda _: None))

    def _run(self, ray: Any, todo: list[tuple[Scenario, int]],
             on_attempt: Callable[[AttemptResult], None]) -> list[AttemptResult]:  # fmt: skip
        # the fleet on the driver's node (the head's, for a Ray Client), never lost with a worker node
        here = _on_node(ray.get_runtime_context().get_node_id())  # (soft affinity would not keep it there)
        actor = ray.remote(Fleet).options(num_cpus=0, max_concurrency=64, scheduling_strategy=here).remote(
            max_cost_usd=self.options.max_cost_usd, max_total_tokens=self.options.max_total_tokens,
            window_s=self.options.rate_window_s)  # fmt: skip
        fleet = FleetHandle(actor)
        results: dict[tuple[str, int], AttemptResult] = {}

        def done(result: AttemptResult) -> None:
            key = (result.attempt.scenario, result.attempt.attempt)
            if key not in results:  # an attempt counts once, whichever try delivered it
                results[key] = result
                on_attempt(result)

        queue = collections.deque(fleet_order(todo, lambda s: self.options.model or s.model or ""))
        shipper = Shipper(self.ev, ray, [s for s, _ in queue])
        hosts = Hosts(ray, self.options.concurrency, self.options.keep_hosts_s, ATTEMPT_CPUS)
        inflight: Inflight = {}
        cancelled_at: float | None = None
        why, asked = None, 0.0
        try:
            while queue or inflight:
                hosts.poll()
                if why is None and time.monotonic() - asked >= ASK_S:  # the budget may have cancelled it
                    why, asked = fleet.cancelled(), time.monotonic()
                if why is None:
                    self._fill(hosts, shipper, queue, inflight, fleet, done)
                else:
                    cancelled_at = cancelled_at or time.monotonic()
                    while queue:
                        scenario, n = queue.popleft()
                        done(AttemptResult(cancelled_attempt(scenario, n, why)))
                    if time.monotonic() - cancelled_at > GRACE_S:
                        for *_, k in inflight.values():
                            if k not in hosts.killed:
                                hosts.kill(k)
                waiting = bool(queue) and len(inflight) < len(hosts.up)  # for a scenario's preparation
                ready, _ = (ray.wait(list(inflight), num_returns=1, timeout=0.02 if waiting else ASK_S) if inflight
                            else ([], []))  # fmt: skip
                if not inflight:
                    time.sleep(0.02)  # scenarios still being prepared, hosts still starting
                asked = 0.0 if ready else asked  # a try ended: was it the one that spent the budget?
                for ref in ready:
                    scenario, n, tries, k = inflight.pop(ref)
                    hosts.release(k)
                    again = self._collect(ray, ref, (scenario, n, tries), hosts, k, fleet, done)
                    if again is not None:
                        queue.appendleft((scenario, n))
                        self._resend[(scenario.id, n)] = again
        except BaseException:
            fleet.cancel("interrupted (Ctrl-C)")
            self._drain(ray, inflight, hosts, fleet, done)
            self.ev.stop.set()
            raise
        finally:
            shipper.close()
            hosts.close()
            with contextlib.suppress(Exception):
                ray.kill(actor)  # the eval's fleet ends with it (a connection the caller keeps may run others)
        return sorted(results.values(), key=lambda r: (r.attempt.scenario, r.attempt.attempt))

    def _fill(self, hosts: Hosts, shipper: Shipper, queue: collections.deque[tuple[Scenario, int]],
              inflight: Inflight, fleet: FleetHandle, done: Callable[[AttemptResult], None]) -> None:  # fmt: skip
        """Start queued attempts, in order among those whose scenario is prepared, on the free hosts."""
        for scenario, n in list(queue):
            if not shipper.ready(scenario):
                continue
            problem = self.ev.prepared(scenario).problem
            if problem is not None:
                queue.remove((scenario, n))
                done(AttemptResult(error_attempt(scenario, n, problem)))
                continue
            shipment, bundle, digest = shipper.refs(scenario)
            k = hosts.take(digest)
            if k is None:
                return
            queue.remove((scenario, n))
            tries = self._resend.pop((scenario.id, n), 1)
            ref = hosts.handles[k].attempt.remote(shipment, bundle, n, tries, fleet, not self.ev.own_dir)
            inflight[ref] = (scenario, n, tries, k)

    def _collect(self, ray: Any, ref: Any, which: tuple[Scenario, int, int], hosts: Hosts, k: int,
                 fleet: FleetHandle, done: Callable[[AttemptResult], None]) -> int | None:  # fmt: skip
        """Record what a finished try gave; the try to send next when there is one: the same try when
        its host refused it (ending) or died before it started, the next when it was lost."""
        from ray import exceptions

        scenario, n, tries = which
        try:
            returned: Returned | None = ray.get(ref)
        except exceptions.RayTaskError as exc:  # agentic's own code failed on the host
            cause = getattr(exc, "cause", None) or exc
            done(AttemptResult(error_attempt(scenario, n, f"the attempt failed on its worker: {type(cause).__name__}: "
                                             f"{cause}"), tries=tries))  # fmt: skip
            return None
        except exceptions.RayError as exc:  # the host's process or its node died
            if k in hosts.killed:
                done(AttemptResult(cancelled_attempt(scenario, n, fleet.cancelled() or "cancelled"), tries=tries))
                return None
            hosts.replace(k)
            key = f"{scenario.id}#{n}#{tries}"
            if key not in fleet.tries() and self._count_resend((scenario.id, n, tries)):  # never started: not lost
                return tries
            why = _why(exc)
            self._lost(ray, scenario, n, tries, fleet, why)
            if tries <= self.options.max_attempt_retries and fleet.cancelled() is None:
                return tries + 1
            done(AttemptResult(error_attempt(scenario, n, f"lost with its worker {tries} times ({why})"), tries=tries))
            return None
        if returned is None:  # the host was ending
            hosts.replace(k)
            if self._count_resend((scenario.id, n, tries)):
                return tries
            done(AttemptResult(error_attempt(scenario, n, "no attempt host took it"), tries=tries))
            return None
        result = returned.result
        if result.attempt.run_id is not None and not self.ev.own_dir:
            root = self.ev.workdir / "attempts" / scenario.id / str(n)
            template = self.ev.prepared(scenario).template
            assert template is not None
            try:
                result = replace(result, journal=import_attempt(template, root, returned))
            except AgenticError as exc:  # a journal that came back broken measured nothing we can show
                result = AttemptResult(error_attempt(scenario, n, f"its run came back unusable: {exc.message}"),
                                       tries=tries)  # fmt: skip
        done(result)
        return None

    def _count_resend(self, which: tuple[str, int, int]) -> bool:
        """One more send of a try (scenario, number, try) that did not start; False past RESENDS."""
        self._resent[which] += 1
        return self._resent[which] <= RESENDS

    def _lost(self, ray: Any, scenario: Scenario, n: int, tries: int, fleet: FleetHandle, why: str) -> None:
        """Keep a lost try's journal (from its node, if the node is alive) and mark the try lost."""
        where = fleet.tries().get(f"{scenario.id}#{n}#{tries}")
        kept = "its journal was lost with its node"
        if where is not None and self.state is not None:
            with contextlib.suppress(Exception):
                salvage = ray.remote(salvage_on_worker).options(num_cpus=0, max_retries=0, scheduling_strategy=(
                    _on_node(where["node_id"]) if "node_id" in where else "DEFAULT"))  # fmt: skip
                data = ray.get(salvage.remote(where["dir"]), timeout=60)
                kept = "it had journaled nothing yet"  # its node answered
                if data is not None:
                    target = untar(data, self.state.dir / "lost" / f"{scenario.id}-{n}-try{tries}")
                    kept = f"its journal is kept at {target}"
        if self.state is not None:
            lost = error_attempt(scenario, n, f"try {tries} lost: {why}; {kept}")
            self.state.record(AttemptResult(lost, tries=tries), lost=why)

    def _drain(self, ray: Any, inflight: Inflight, hosts: Hosts, fleet: FleetHandle,
               done: Callable[[AttemptResult], None]) -> None:  # fmt: skip
        """After Ctrl-C (the fleet cancelled): every running try stops (its host kills its commands; the
        run ends `interrupted` at its next model call) and comes back with its journal; what has not come
        back after GRACE_S is killed with its host."""
        deadline = time.monotonic() + GRACE_S
        with contextlib.suppress(Exception):
            while inflight and time.monotonic() < deadline:
                ready, _ = ray.wait(list(inflight), num_returns=1, timeout=0.2)
                for ref in ready:
                    scenario, n, tries, k = inflight.pop(ref)
                    hosts.release(k)
                    if self._collect(ray, ref, (scenario, n, tries), hosts, k, fleet, done) is not None:
                        done(AttemptResult(cancelled_attempt(scenario, n, "interrupted (Ctrl-C)"), tries=tries))
        for scenario, n, tries, k in inflight.values():
            hosts.kill(k)
            done(AttemptResult(cancelled_attempt(scenario, n, "interrupted (Ctrl-C)"), tries=tries))


def _why(exc: Exception) -> str:
    """A lost try's cause in one line: Ray's first line, and for an actor why it died (its process, its node)."""
    lines = str(exc).splitlines()
    cause = next((line.strip() for line in lines[1:] if line.startswith("The actor died because")), "")
    return " ".join(p for p in (f"{type(exc).__name__}:", lines[0] if lines else "", cause) if p)


def _on_node(node_id: str) -> Any:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return NodeAffinitySchedulingStrategy(node_id, soft=False)


def check_nodes(address: str | None) -> list[dict[str, Any]]:
    """`agentic doctor --ray`: every alive node of the cluster asked whether it can sandbox."""
    with connected(address) as ray:
        check = ray.remote(node_check)
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        refs = [check.options(num_cpus=0, max_retries=0, scheduling_strategy=_on_node(n["NodeID"])).remote()
                for n in nodes]  # fmt: skip
        found = []
        for node, ref in zip(nodes, refs, strict=True):
            try:
                found.append({**ray.get(ref, timeout=120), "address": node.get("NodeManagerAddress", "")})
            except Exception as exc:
                found.append({"node": node.get("NodeManagerHostname", ""), "address": node.get("NodeManagerAddress", ""),
                              "ok": False, "sandbox": "unknown", "detail": f"{type(exc).__name__}: {exc}", "fix": ""})  # fmt: skip
        return found
