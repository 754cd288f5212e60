"""The Ray side of an eval attempt: what travels to a worker, what runs there, what comes back.

    driver: Shipment (the scenario, its settings and contract, the model, a scripted model's turns)
            and the template repository as a git bundle, each put once in Ray's object store and
            named by its content hash ──▶ worker
    host:   (an attempt host, agentic.eval.rayhost) the node must sandbox with bubblewrap, or the
            attempt is refused (never run unconfined); the template unbundled once per host (kept
            for the next evals, removed as the host ends), each attempt a clone of it in a fresh
            directory; `attempt.run_attempt` as the
            local executor runs it, its model governed by the fleet actor (budget, cancel) and its
            rate limits booked there; then the run's journal directory (records and blobs) as a tar,
            the run's index row, and its branch as a git bundle ──▶ driver
    driver: `import_attempt` puts them into a clone of the template under the eval's workdir, as if
            the attempt had run there: the chain verified, the head anchored under this machine's key,
            the run in the index, its branch fetched; so show, audit, replay and apply work on it.

Nothing here imports Ray: agentic.eval.onray makes the hosts and tasks remote.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import shutil
import socket
import tarfile
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from agentic import __version__
from agentic.config.settings import Settings
from agentic.errors import AgenticError, SandboxUnavailable
from agentic.eval.attempt import AttemptResult, AttemptSpec, TreeChecker, TreeResults, check_tree, run_attempt
from agentic.eval.prepare import Prepared, describe_error, error_attempt, load_scenario_model
from agentic.eval.repos import attempt_repo, tree_of
from agentic.eval.scenarios import Scenario
from agentic.git.cmd import git
from agentic.journal.anchor import recorder
from agentic.journal.records import read_records, verify
from agentic.journal.store import SQLiteStore
from agentic.models.base import Model
from agentic.models.scripted import ScriptedModel
from agentic.policy.contract import Contract
from agentic.sandbox import kill_sandboxes
from agentic.sandbox.levels import require_sandbox, sandbox_level
from agentic.util import scratch, yamlfile
from agentic.workspace import ensure_excluded
from agentic.workspace.generated import GeneratedFiles

CANCEL_POLL_S = 1.0  # how often a try asks the fleet whether the eval was cancelled
CLAIM_POLL_S = 0.02  # how often a try waiting for another's check of the same tree asks for its result
FILE = ["-c", "protocol.file.allow=always"]  # a bundle is read through git's file transport


@dataclass(frozen=True)
class Shipment:
    """A scenario as its attempts need it on any node (its template travels beside it, as a bundle)."""

    scenario: Scenario
    base: str
    settings: Settings
    contract: Contract
    model: str
    script: list[dict[str, Any]] | None  # a scripted model's turns: its file stays on the driver
    generated: GeneratedFiles = ()  # the contract's `generated:` files: not in the template's bundle
    shown_at: str | None = None  # where the attempts are shown (Prepared.shown_at): a path on the driver's
    # machine, ignored (git.view.shown_at) on a node where it is no working tree

    @classmethod
    def of(cls, prep: Prepared) -> Shipment:
        assert prep.settings is not None and prep.contract is not None and prep.model is not None
        script = None
        if prep.model.startswith("script:"):
            doc = yamlfile.load(Path(prep.model.removeprefix("script:")))
            yamlfile.validate(doc, "script")
            script = list(doc.data)
        return cls(prep.scenario, prep.base, prep.settings, prep.contract, prep.model, script, prep.generated,
                   prep.shown_at)

    def digest(self) -> str:
        return hashlib.sha256(pickle.dumps(self)).hexdigest()

    def load_model(self) -> Model:
        if self.script is not None:
            return ScriptedModel(self.model.removeprefix("script:"), turns=self.script)
        return load_scenario_model(self.model, self.settings, self.contract)


def bundle_of(template: Path) -> bytes:
    """The template repository (every ref) as one git bundle."""
    with tempfile.TemporaryDirectory(prefix="agentic-bundle-") as tmp:
        target = Path(tmp) / "template.bundle"
        git(["bundle", "create", "--quiet", str(target), "--all"], template)
        return target.read_bytes()


def _unbundle(data: bytes, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    source = target.parent / f"{target.name}.bundle"
    source.write_bytes(data)
    git([*FILE, "clone", "--quiet", "--branch", "main", str(source), str(target)], target.parent)
    source.unlink()
    ensure_excluded(target)


_TEMPLATES: OrderedDict[str, Path] = OrderedDict()  # a bundle's digest -> this process's repository of it
_TEMPLATES_LOCK = threading.Lock()
TEMPLATES_PREFIX = "agentic-templates-"
TEMPLATES_KEPT = 64  # a process keeps the templates of this many scenarios, the least recently used going


def bundle_digest(bundle: bytes) -> str:
    """The name a host keeps a scenario's template under: the digest of its bundle."""
    return hashlib.sha256(bundle).hexdigest()[:24]


def template_of(bundle: bytes) -> Path:
    """The scenario's template in this process (an attempt host, agentic.eval.rayhost): unbundled once,
    then cloned by each attempt as the local executor clones its own, and kept for the next evals the
    host serves. Kept in a directory named by this process: the host's end removes it (forget_templates),
    and one a dead process left is removed by the next process to keep templates on this node."""
    digest = bundle_digest(bundle)
    with _TEMPLATES_LOCK:
        found = _TEMPLATES.get(digest)
        if found is None or not (found / ".git").is_dir():
            found = _templates_home() / digest
            shutil.rmtree(found, ignore_errors=True)
            _unbundle(bundle, found)
            _TEMPLATES[digest] = found
        _TEMPLATES.move_to_end(digest)
        while len(_TEMPLATES) > TEMPLATES_KEPT:  # an attempt clones as it starts, one at a time per host
            shutil.rmtree(_TEMPLATES.popitem(last=False)[1], ignore_errors=True)
        return found


def kept_templates() -> list[str]:
    """The digests of the bundles whose templates this process keeps."""
    with _TEMPLATES_LOCK:
        return [d for d, path in _TEMPLATES.items() if (path / ".git").is_dir()]


def _templates_home() -> Path:
    home = Path(tempfile.gettempdir()) / f"{TEMPLATES_PREFIX}{os.getpid()}"
    if not home.is_dir():
        scratch.sweep(TEMPLATES_PREFIX)
        home.mkdir(mode=0o700)
    return home


def forget_templates() -> None:
    """Remove the templates this process kept (as its attempt host ends)."""
    with _TEMPLATES_LOCK:
        shutil.rmtree(Path(tempfile.gettempdir()) / f"{TEMPLATES_PREFIX}{os.getpid()}", ignore_errors=True)
        _TEMPLATES.clear()


@dataclass
class Returned:
    """What a worker sends back: the verdict, and the run as the driver stores it."""

    result: AttemptResult
    journal_tar: bytes | None = None
    run_row: dict[str, Any] | None = None
    branch: str | None = None
    branch_bundle: bytes | None = None


def attempt_on_worker(shipment: Shipment, bundle: bytes, n: int, tries: int, fleet: Any, node_id: str = "",
                      send_run: bool = True) -> Returned:  # fmt: skip
    """One try of attempt `n` on this node (what an attempt host runs).
    `send_run`: the run comes back with the verdict (the driver keeps attempts' journals: --workdir);
    otherwise only the verdict."""
    scenario = shipment.scenario
    node = socket.gethostname()
    # laid out as the local executor's workdir (the model sees the path: the same length keeps a scripted
    # model's token estimates the same); left by a host killed mid-attempt, the driver's salvage removes it,
    # or a try on the node once it has been orphaned for scratch.ORPHAN_GRACE_S
    tmp = scratch.owned_dir("agentic-eval-")
    budgeted = fleet.started(f"{scenario.id}#{n}#{tries}",
                             {"node": node, "node_id": node_id, "pid": os.getpid(), "dir": str(tmp)})  # fmt: skip
    view = TryView(fleet, tmp, budgeted)
    try:
        try:
            require_sandbox(fallback=False)
        except SandboxUnavailable as exc:
            refused = error_attempt(scenario, n, f"refused on node {node}: {exc.message} (an attempt never runs unconfined)")
            return Returned(AttemptResult(refused, tries=tries))
        try:
            prep = Prepared(scenario, template_of(bundle), shipment.base, shipment.settings, shipment.contract,
                            shipment.model, generated=shipment.generated, shown_at=shipment.shown_at)  # fmt: skip
            spec = AttemptSpec(shipment.load_model(), view.stopped, view, rate_book=fleet, keep_journal=True)
            result = run_attempt(prep, n, tmp / "attempts" / scenario.id / str(n), spec, shared_checks(fleet))
        except Exception as exc:
            return Returned(AttemptResult(error_attempt(scenario, n, describe_error(exc)), tries=tries))
        result.tries = tries
        if not send_run:
            return Returned(replace(result, journal=None))
        return _with_run(Returned(result), tmp / "attempts" / scenario.id / str(n))
    finally:
        view.close()
        shutil.rmtree(tmp, ignore_errors=True)


def shared_checks(fleet: Any) -> TreeChecker:
    """check_tree, once per distinct tree of a scenario across the cluster (as the local executor
    does in its process): the first try to deliver a tree checks it, the others wait for its result."""

    def check(prep: Prepared, root: Path, commit: str, with_command: bool) -> TreeResults:
        with_command = with_command and prep.scenario.checks.command is not None
        key = f"{prep.scenario.id}\0{tree_of(root, commit)}\0{with_command}"
        lease = float(prep.scenario.checks.timeout_s or 600) + 60
        while True:
            state, found = fleet.tree_claim(key, lease)
            if state == "done":
                return cast(TreeResults, found)
            if state == "run":
                break
            time.sleep(CLAIM_POLL_S)
        try:
            results = check_tree(prep, root, commit, with_command)
        except BaseException:
            fleet.tree_release(key)
            raise
        fleet.tree_done(key, results)
        return results

    return check


class TryView:
    """The fleet as one try sees it. A thread asks the fleet every CANCEL_POLL_S whether the eval was
    cancelled, and then kills the try's commands (its run stops at the next model call). Without an
    eval budget that answer is all a model call needs: no call to the fleet per model call. With one,
    each call is charged and the answer to the charge (and a check before each call) is exact."""

    def __init__(self, fleet: Any, directory: Path, budgeted: bool) -> None:
        self.fleet, self.directory, self.budgeted = fleet, directory, budgeted
        self.reason: str | None = None
        self._done = threading.Event()
        threading.Thread(target=self._watch, daemon=True, name="agentic-eval-cancel").start()

    def _watch(self) -> None:
        while not self._done.wait(CANCEL_POLL_S):
            with contextlib.suppress(Exception):
                if self.cancelled() is not None:
                    return

    def cancelled(self) -> str | None:
        if self.reason is None and (reason := self.fleet.cancelled()) is not None:
            self.reason = reason
            kill_sandboxes([os.path.realpath(self.directory)])
        return self.reason

    def stopped(self) -> str | None:
        return self.cancelled() if self.budgeted else self.reason

    def charge(self, tokens: int, cost_usd: float | None) -> None:
        if self.budgeted:
            self.fleet.charge(tokens, cost_usd)

    def close(self) -> None:
        self._done.set()


def _with_run(returned: Returned, root: Path) -> Returned:
    run_id = returned.result.attempt.run_id
    if run_id is None or returned.result.journal is None:
        return returned
    returned.journal_tar = tar_dir(Path(returned.result.journal).parent)
    store = SQLiteStore(root / ".agentic" / "agentic.db")
    try:
        returned.run_row = store.get_run(run_id)
    finally:
        store.close()
    branch = f"agentic/{run_id}"
    exists = git(["for-each-ref", "--format=%(refname)", f"refs/heads/{branch}"], root).strip()
    if exists and int(git(["rev-list", "--count", f"main..{branch}"], root).strip() or 0):
        target = root.parent / "run.bundle"
        git(["bundle", "create", "--quiet", str(target), branch, "^main"], root)
        returned.branch, returned.branch_bundle = branch, target.read_bytes()
    returned.result = replace(returned.result, journal=None)  # a path on the worker: the driver sets its own
    return returned


def salvage_on_worker(directory: str) -> bytes | None:
    """A lost try's journal from the directory its worker left on this node (then the directory goes)."""
    try:
        found = [p for p in Path(directory).glob("attempts/*/*/.agentic/runs/*") if p.is_dir()]
        return tar_dir(found[0]) if found else None
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def tar_dir(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(directory, arcname=directory.name)
    return buffer.getvalue()


def untar(data: bytes, target: Path) -> Path:
    """Extract a run directory's tar below `target` (the data filter: no links out, no devices); its path."""
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        names = {m.name.split("/", 1)[0] for m in tar.getmembers()}
        if len(names) != 1:
            raise AgenticError("a worker returned a journal archive that is not one run's directory")
        tar.extractall(target, filter="data")
    return target / names.pop()


def import_attempt(template: Path, root: Path, returned: Returned) -> str | None:
    """Store a returned run in `root`, a fresh clone of the template, as if it had run there; the
    journal's path. The chain is verified before it is anchored under this machine's key."""
    run_id, row = returned.result.attempt.run_id, returned.run_row
    if run_id is None or returned.journal_tar is None or row is None:
        return None
    root.parent.mkdir(parents=True, exist_ok=True)
    attempt_repo(template, root)
    ensure_excluded(root)
    run_dir = untar(returned.journal_tar, root / ".agentic" / "runs")
    if run_dir.name != run_id:
        raise AgenticError(f"the journal a worker returned is of run {run_dir.name}, not {run_id}")
    journal = run_dir / "journal.jsonl"
    checked = verify(journal)
    if not checked.ok:
        raise AgenticError(f"the journal of run {run_id} came back broken: {checked.problem}")
    if returned.branch and returned.branch_bundle:
        with _file(root.parent / f"{run_id}.bundle", returned.branch_bundle) as bundle:
            git([*FILE, "fetch", "--quiet", str(bundle), f"{returned.branch}:{returned.branch}"], root)
    store = SQLiteStore(root / ".agentic" / "agentic.db")
    try:
        store.add_run(**{**row, "journal": str(journal), "worktree": str(root / ".agentic" / "worktrees" / run_id)})
        head = _last_head(journal)
        if head is not None:
            recorder(store, run_id)(*head)
    finally:
        store.close()
    return str(journal)


@contextlib.contextmanager
def _file(path: Path, data: bytes) -> Iterator[Path]:
    path.write_bytes(data)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _last_head(journal: Path) -> tuple[int, str] | None:
    last = None
    for record in read_records(journal):
        last = (int(record["seq"]), str(record["hash"]))
    return last


def node_check() -> dict[str, Any]:
    """What `agentic doctor --ray` asks every node: can it sandbox, and which agentic it runs."""
    level = sandbox_level()
    return {"node": socket.gethostname(), "agentic": __version__, "sandbox": level.name, "detail": level.summary(),
            "fix": level.fix, "ok": level.name == "bubblewrap"}  # fmt: skip

