"""What an eval's driver sends to the cluster: the scenarios, shipped, and the attempt hosts that run
them, as the driver sees them (a host itself: agentic.eval.rayhost).

    each scenario prepared as locally, then its Shipment and template bundle put once in Ray's object
    store, named by content hash (Shipper)

    --concurrency hosts, named agentic-host-<code>-<k> in Ray's namespace "agentic": an eval finds
    those a previous eval left up (warm), and makes the others; each reserves ATTEMPT_CPUS on its node
    a host takes attempts once it has answered (one not yet placed, for want of room, takes none),
    one try at a time; a scenario's attempt goes first to a free host that keeps its template
    a host that is ending, or dead, is replaced by a new one of the same name; hosts beyond this
    eval's --concurrency that an earlier eval left are ended
    the eval holds its hosts while it runs (renewed each RENEW_S, lapsing HOLD_S after a driver that
    died); as it ends it lets them go (each ends keep_s later without an attempt; with keep_s 0 at
    once) and removes those that never came up
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import os
import threading
import time
from typing import Any

from agentic.eval.rayhost import AttemptHost, code_digest
from agentic.eval.rayworker import Shipment, bundle_of
from agentic.eval.runner import Evaluator
from agentic.eval.scenarios import Scenario

NAMESPACE = "agentic"
HOLD_S = 30.0  # how long an eval's hold on its hosts lasts unless renewed
RENEW_S = 5.0  # how often a running eval renews it
GONE_S = 10.0  # how long a replaced host's name may take to be free


class Hosts:
    """An eval's attempt hosts: which are up, which busy, which keep which templates."""

    def __init__(self, ray: Any, size: int, keep_s: float, cpus: float) -> None:
        self.ray, self.keep_s, self.cpus = ray, keep_s, cpus
        self.prefix = f"agentic-host-{code_digest()}-"
        self._remote = ray.remote(AttemptHost)
        self._end_surplus(max(1, size))
        self.handles = [self._make(k) for k in range(max(1, size))]
        self._hellos = {self._hello(k): k for k in range(len(self.handles))}
        self.up: dict[int, set[str]] = {}  # host -> digests of the templates it keeps
        self.busy: set[int] = set()
        self.killed: set[int] = set()  # hosts this eval killed (a cancel past its grace period)
        self._renewed = time.monotonic()

    def _end_surplus(self, size: int) -> None:
        """End the hosts an earlier eval with a higher --concurrency left (each once its attempt ends):
        idle, they would hold room on the nodes that this eval's hosts may need."""
        with contextlib.suppress(Exception):
            from ray.util import list_named_actors

            for found in list_named_actors(all_namespaces=True):
                name = found.get("name", "")
                k = name.removeprefix(self.prefix)
                if found.get("namespace") == NAMESPACE and name.startswith(self.prefix) and k.isdigit() and int(k) >= size:
                    self.ray.get_actor(name, namespace=NAMESPACE).end.remote()

    def _make(self, k: int) -> Any:
        return self._remote.options(
            name=f"{self.prefix}{k}", namespace=NAMESPACE, lifetime="detached", get_if_exists=True,
            num_cpus=self.cpus, max_concurrency=4, max_restarts=0, max_task_retries=0,
        ).remote(self.keep_s, HOLD_S)  # fmt: skip

    def _hello(self, k: int, hold_s: float = HOLD_S) -> Any:
        return self.handles[k].hello.remote(self.keep_s, hold_s)

    def poll(self) -> None:
        """Take the hosts that answered since the last poll; replace those that are ending or gone;
        renew the hold on those up."""
        if time.monotonic() - self._renewed >= RENEW_S:
            self._renewed = time.monotonic()
            for k in self.up:
                self._hello(k)  # its answer is not awaited: one that is gone shows as its attempt fails
        for k, kept in self._answers():
            if kept is None:
                self.replace(k)
            else:
                self.up[k] = set(kept)

    def _answers(self) -> list[tuple[int, list[str] | None]]:
        """The hosts whose hello came back since: what each keeps, None for one ending or gone."""
        if not self._hellos:
            return []
        ready, _ = self.ray.wait(list(self._hellos), num_returns=len(self._hellos), timeout=0)
        found: list[tuple[int, list[str] | None]] = []
        for ref in ready:
            k = self._hellos.pop(ref)
            try:
                found.append((k, self.ray.get(ref)))
            except Exception:  # it died before it answered
                found.append((k, None))
        return found

    def take(self, digest: str) -> int | None:
        """A free host that is up, one that keeps the template `digest` first; None when all are busy."""
        free = [k for k in sorted(self.up) if k not in self.busy]
        if not free:
            return None
        k = next((k for k in free if digest in self.up[k]), free[0])
        self.busy.add(k)
        self.up[k].add(digest)
        return k

    def release(self, k: int) -> None:
        self.busy.discard(k)

    def replace(self, k: int) -> None:
        """Host k is ending or dead: a new host in its place once the old one's name is free."""
        old = self.handles[k]
        self.up.pop(k, None)
        self.busy.discard(k)
        with contextlib.suppress(Exception):
            self.ray.kill(old, no_restart=True)
        deadline = time.monotonic() + GONE_S
        while time.monotonic() < deadline:
            try:
                found = self.ray.get_actor(f"{self.prefix}{k}", namespace=NAMESPACE)
            except ValueError:
                break
            if found._actor_id != old._actor_id:
                break
            time.sleep(0.05)
        self.handles[k] = self._make(k)
        self._hellos[self._hello(k)] = k

    def kill(self, k: int) -> None:
        """Kill host k with what runs on it (a cancel past its grace period)."""
        self.killed.add(k)
        with contextlib.suppress(Exception):
            self.ray.kill(self.handles[k], no_restart=True)

    def close(self) -> None:
        """As the eval ends: its hosts let go (with keep_s 0 they end now), those that never came up removed."""
        with contextlib.suppress(Exception):
            self.up.update((k, set(kept)) for k, kept in self._answers() if kept is not None)
        for k, handle in enumerate(self.handles):
            with contextlib.suppress(Exception):
                if k not in self.up:
                    self.ray.kill(handle, no_restart=True)
                elif not self.keep_s:
                    handle.end.remote()
                else:
                    self._hello(k, hold_s=0.0)


class Shipper:
    """The scenarios prepared on the driver, --concurrency at a time in threads (as the local executor
    prepares them), each put in the object store as it is ready: its Shipment and template bundle,
    once per content hash. Attempts of a scenario start as soon as it is shipped."""

    def __init__(self, evaluator: Evaluator, ray: Any, scenarios: list[Scenario]) -> None:
        self.ev, self.ray = evaluator, ray
        self._lock = threading.Lock()
        self._objects: dict[str, Any] = {}  # content hash -> object ref
        self._shipped: dict[str, tuple[Any, Any, str]] = {}  # scenario -> Shipment, bundle, the template's digest
        workers = max(1, min(evaluator.options.concurrency, os.cpu_count() or 1))
        self._pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eval-prepare")
        self._futures = {s.id: self._pool.submit(self._ship, s) for s in {s.id: s for s in scenarios}.values()}

    def _ship(self, scenario: Scenario) -> None:
        prep = self.ev.prepared(scenario)
        if prep.problem is not None or prep.template is None:
            return
        shipment, bundle = Shipment.of(prep), bundle_of(prep.template)
        keys = (shipment.digest(), hashlib.sha256(bundle).hexdigest())
        with self._lock:
            for key, value in zip(keys, (shipment, bundle), strict=True):
                if key not in self._objects:
                    self._objects[key] = self.ray.put(value)
            self._shipped[scenario.id] = (self._objects[keys[0]], self._objects[keys[1]], keys[1][:24])

    def ready(self, scenario: Scenario) -> bool:
        future = self._futures[scenario.id]
        if future.done():
            future.result()  # a failure to ship is the driver's own: it ends the eval
            return True
        return False

    def refs(self, scenario: Scenario) -> tuple[Any, Any, str]:
        with self._lock:
            return self._shipped[scenario.id]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
