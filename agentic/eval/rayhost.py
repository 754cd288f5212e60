"""The attempt host: the Ray actor that runs an eval's attempts on a node, one at a time, and stays up
between evals.

A new Ray worker process costs a second of CPU or more (Ray's worker, then agentic imported), and
each eval is a Ray job of its own, whose task workers die with it. A host is a detached actor: it
outlives the eval that made it, so the next eval on the cluster finds it warm, with what its process
keeps for any attempt: the scenario templates it unbundled (rayworker.template_of) and the base
commits' test counts (agentic.gate.counting.REMEMBERED). An eval holds its hosts while it runs,
renewing the hold (a driver that dies lets it lapse); a host that is not held ends itself after
`keep_s` seconds without an attempt, removing its templates. An attempt that reaches a host as it
ends is refused (None), not lost: the driver sends it again.

Nothing here imports Ray at import time: agentic.eval.onray makes the class remote.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from pathlib import Path
from typing import Any

from agentic import __version__
from agentic.eval.rayworker import Returned, Shipment, attempt_on_worker, forget_templates, kept_templates

WATCH_S = 1.0  # how often a host looks at how long it has been idle (at most)


@functools.cache
def code_digest() -> str:
    """agentic's version and a digest of its sources: hosts are named by it, so a changed agentic
    (an upgrade, an edited checkout) gets hosts of its own and never runs on an older one's. Read
    once per process: the code this process runs is the code it imported."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


class AttemptHost:
    """One attempt slot on a node (ATTEMPT_CPUS of it), in a process of its own."""

    def __init__(self, keep_s: float, hold_s: float) -> None:
        self.keep_s = keep_s
        self._lock = threading.Lock()
        self._busy = 0
        self._last = time.monotonic()
        self._ending = False
        self._held_until = self._last + hold_s  # held by the eval that starts it
        threading.Thread(target=self._end_when_idle, daemon=True, name="agentic-host-idle").start()

    def hello(self, keep_s: float, hold_s: float) -> list[str] | None:
        """An eval holds this host for `hold_s` (renewed while it runs; 0 lets it go), after which it
        stays up `keep_s` without an attempt (the latest eval's say). The digests of the templates it
        keeps, or None when it is ending."""
        with self._lock:
            if self._ending:
                return None
            now = time.monotonic()
            self.keep_s, self._last, self._held_until = keep_s, now, now + hold_s
        return kept_templates()

    def attempt(self, shipment: Shipment, bundle: bytes, n: int, tries: int, fleet: Any,
                send_run: bool) -> Returned | None:  # fmt: skip
        """One try of attempt `n` (rayworker.attempt_on_worker); None, refused, when this host is ending."""
        import ray

        with self._lock:
            if self._ending:
                return None
            self._busy += 1
        try:
            node_id = ray.get_runtime_context().get_node_id()
            return attempt_on_worker(shipment, bundle, n, tries, fleet, node_id=node_id, send_run=send_run)
        finally:
            with self._lock:
                self._busy, self._last = self._busy - 1, time.monotonic()

    def end(self) -> None:
        """End this host now (its templates removed), once no attempt runs on it."""
        import ray

        with self._lock:
            self._ending = True
        while True:
            with self._lock:
                if not self._busy:
                    break
            time.sleep(0.05)
        forget_templates()
        ray.actor.exit_actor()

    def _end_when_idle(self) -> None:
        import ray

        while True:
            time.sleep(min(WATCH_S, max(0.05, self.keep_s / 4)))
            with self._lock:
                now = time.monotonic()
                if self._busy or self._ending or now < self._held_until or now - self._last < self.keep_s:
                    continue
                self._ending = True
            forget_templates()
            ray.get_runtime_context().current_actor.end.remote()  # exit_actor works only in a method
            return
