"""One governed run, from a task to a final status: set up, loop, decide, record, clean up."""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentic import __version__
from agentic.agent import instructions
from agentic.agent.caller import Caller
from agentic.agent.context import window_of
from agentic.agent.dispatch import Dispatcher
from agentic.agent.loop import Observer, Session, agent_loop
from agentic.agent.prompts import Environment, system_prompt, task_message
from agentic.config.settings import Settings
from agentic.errors import ProviderError, ResumeRefused
from agentic.git import submodules
from agentic.journal import anchor
from agentic.journal.records import Journal
from agentic.journal.store import SQLiteStore
from agentic.journal.tape import Tape
from agentic.models.base import Model, Usage
from agentic.models.pricing import price_of
from agentic.models.ratelimit import RateLimiter, rate_for
from agentic.observe import telemetry
from agentic.policy import engine as policy
from agentic.policy.budget import Budget, RunStopped
from agentic.policy.contract import Contract
from agentic.policy.contract import command_env as contract_env
from agentic.sandbox import hostexec
from agentic.sandbox.core import kill_sandboxes, make_sandbox, require_sandbox
from agentic.sandbox.diskguard import DiskGuard, used_bytes
from agentic.tools import builtin_tools, spec
from agentic.util import globs, paths
from agentic.util.redact import Redactor
from agentic.workspace.core import RepoInfo, Workspace, ensure_excluded, who

EXIT_CODES = {"accepted": 0, "rejected": 1, "limit_exceeded": 3, "stuck": 3, "failed": 4, "interrupted": 4}
COMMAND_TOOLS = ("run_tests", "run_command")


@dataclass
class RunOutcome:
    run_id: str
    status: str
    reason: str
    branch: str
    base_commit: str
    commit: str | None
    steps: int
    tool_calls: int
    usage: Usage
    journal: Path
    duration_s: float
    changes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.status, 4)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "reason": self.reason,
            "branch": self.branch if self.commit else None,
            "base_commit": self.base_commit,
            "commit": self.commit,
            "steps": self.steps,
            "tool_calls": self.tool_calls,
            "tokens": {**self.usage.to_dict(), "total_tokens": self.usage.total_tokens},
            "changed_files": [p for _, p in self.changes],
            "duration_s": round(self.duration_s, 3),
            "journal": str(self.journal),
        }


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


MAX_READONLY_BINDS = 50  # each bind costs ~0.3 ms per command


def protected_paths(worktree: Path, contract: Contract) -> list[Path]:
    """Existing paths of the worktree that the contract protects: bound read-only for commands.

    A protected directory is bound whole (nothing can be created inside it either). Past
    MAX_READONLY_BINDS the rest stay writable for commands; the gate's protected_unchanged check
    and the clean-checkout gate still catch changes to them.
    """
    return _matching(worktree, lambda rel: globs.match_any(contract.protected, rel) is not None)


def secret_globs(contract: Contract) -> tuple[str, ...]:
    """The globs the contract denies to read_file (`deny: true` names no file: nothing to mask)."""
    rule = contract.tools.get("read_file")
    deny = rule.deny if rule is not None else ()
    return tuple(deny) if isinstance(deny, (list, tuple)) else ()


def unreadable_paths(worktree: Path, contract: Contract) -> list[Path]:
    """Existing paths of the worktree that the contract denies to read_file (`.env*`): masked for
    commands, so a shell `cat` shows nothing of them either."""
    secret = secret_globs(contract)
    return _matching(worktree, lambda rel: globs.match_any(secret, rel) is not None) if secret else []


def _matching(worktree: Path, hit: Callable[[str], bool]) -> list[Path]:
    """The worktree's paths `hit` selects (a selected directory stands for everything in it)."""
    found: list[Path] = []
    for top, dirs, files in paths.walk_dirs(worktree):
        rel_top = Path(top).relative_to(worktree)
        keep = []
        for name in sorted(dirs):
            if name == ".git":
                continue
            if hit((rel_top / name).as_posix()):
                found.append(Path(top) / name)
            else:
                keep.append(name)
        dirs[:] = keep
        found.extend(Path(top) / name for name in sorted(files) if hit((rel_top / name).as_posix()))
        if len(found) >= MAX_READONLY_BINDS:
            return found[:MAX_READONLY_BINDS]
    return found


def needs_sandbox(contract: Contract) -> bool:
    uses_tools = any(
        (rule := contract.tools.get(name)) is not None and (rule.allow or rule.ask) for name in COMMAND_TOOLS
    )
    return uses_tools or any(inv.kind in ("command", "tests") for inv in contract.invariants)


@dataclass
class RunRequest:
    task: str
    repo: RepoInfo
    settings: Settings
    contract: Contract
    model: Model
    approver: policy.Approver = policy.deny_all
    argv: list[str] = field(default_factory=lambda: list(sys.argv))
    on_record: Callable[[dict[str, Any], dict[str, Any]], None] | None = None
    unsafe_no_sandbox: bool = False  # the person's explicit choice; journaled
    # re-driving from an earlier journal: resume (same run, reuse what it recorded) or fork (a new
    # run that re-executes the tape's steps in a fresh worktree from the same base, then goes on live)
    tape: Tape | None = None
    resuming: bool = False
    forked_from: dict[str, Any] | None = None  # {"run": id, "step": N}
    observer: Observer | None = None
    limit_flags: dict[str, Any] = field(default_factory=dict)  # --limit NAME=VALUE, already applied to contract
    # where runs book their model calls against the provider's rate limits (settings `rate_limits`);
    # default: the repository's own file. `agentic eval` points its runs' temporary repositories at its own.
    rate_db: Path | None = None

    @property
    def base_commit(self) -> str:
        return str(self.tape.start["base_commit"]) if self.tape is not None else self.repo.head


def commit_message(task: str, summary: str, run_id: str, contract: Contract) -> str:
    title = " ".join(task.split())
    title = title if len(title) <= 68 else title[:67] + "…"
    body = summary.strip() or "(no summary)"
    return (
        f"agentic: {title}\n\n{body}\n\n"
        f"Agentic-Run: {run_id}\nAgentic-Contract: {contract.hash_ref}\nAgentic-Version: {__version__}\n"
    )


def _start_record(req: RunRequest, workspace: Workspace, sandbox: Any, system: str, specs: list[Any]) -> dict[str, Any]:
    """What `run.start` says: enough to audit the run and to know what shaped its behaviour."""
    contract = req.contract
    return {
        "task": req.task, "model": req.model.name, "settings": req.settings.to_record(),
        "settings_origins": req.settings.origins, "contract": {"source": contract.source, "hash": contract.hash_ref},
        "base_commit": req.base_commit, "branch": workspace.branch, "worktree": str(workspace.path),
        "who": who(req.repo.root, req.argv),
        "harness": {"version": __version__, "python": platform.python_version()},
        "sandbox": sandbox.name if sandbox else None, "unsafe_no_sandbox": req.unsafe_no_sandbox,
        "system_prompt": system,
        "tools": [{"name": s.name, "description": s.description, "parameters": s.parameters} for s in specs],
        "contract_text": contract.text, "forked_from": req.forked_from,
        "limits": dataclasses.asdict(contract.limits), "limit_flags": req.limit_flags,
    }  # fmt: skip


def _warnings(req: RunRequest, budget: Budget) -> list[str]:
    """Said once, at the start of the run (and shown by its progress)."""
    if budget.price is not None:
        return []
    capped = " and max_cost_usd cannot bind" if req.contract.limits.max_cost_usd is not None else ""
    return [f"no price is known for {req.model.name}: its cost is not counted{capped}; token limits still "
            "bind (add the model under `prices:` in settings)"]  # fmt: skip


def _resume_record(req: RunRequest, sandbox: Any) -> dict[str, Any]:
    tape = req.tape
    assert tape is not None
    return {
        "who": who(req.repo.root, req.argv), "model": req.model.name,
        "harness": {"version": __version__, "python": platform.python_version()},
        "sandbox": sandbox.name if sandbox else None, "unsafe_no_sandbox": req.unsafe_no_sandbox,
        "after_status": tape.status, "records": tape.records, "steps": tape.steps,
        "elapsed_s": round(tape.elapsed_s, 3),
    }  # fmt: skip


def _rate_limiter(req: RunRequest) -> RateLimiter | None:
    rate = rate_for(req.model.name, req.settings.rate_limits)
    if rate is None:
        return None
    return RateLimiter(req.rate_db or req.repo.state_dir / "ratelimits.db", rate)


def execute(req: RunRequest) -> RunOutcome:
    """Run one task to a final status. Raises only for set-up errors (before the run exists) and bugs."""
    started = time.monotonic()
    repo, contract, tape = req.repo, req.contract, req.tape
    sandboxed = needs_sandbox(contract)
    fallback = req.settings.sandbox == "auto"
    if sandboxed and not req.unsafe_no_sandbox:
        require_sandbox(fallback=fallback)  # fail before anything is created
    variables = contract_env(contract)  # so does a variable the contract may not pass
    # read-only for the run: submodules (never its change) and what the harness runs on the host
    command = (req.settings.notify or {}).get("command") or ()
    always = (*submodules.protected_globs(submodules.recorded(repo.root, req.base_commit)),
              *hostexec.protected_globs(repo.root, command))  # fmt: skip
    contract = dataclasses.replace(contract, protected=(*contract.protected, *always))
    ensure_excluded(repo.root)
    run_id = tape.run_id if req.resuming and tape is not None else new_run_id()
    workspace = Workspace(repo.root, run_id, req.base_commit)
    redact = Redactor.for_repository(repo.root)
    tools = builtin_tools()
    specs = [spec(t) for t in tools.values()]
    budget = Budget(contract.limits, price=price_of(req.model.name, req.settings.prices),
                    output_cap=contract.limits.output_cap(req.settings.max_output_tokens))  # fmt: skip
    if req.resuming:
        if not workspace.path.is_dir():
            raise ResumeRefused(f"the worktree of run {run_id} is gone ({workspace.path})",
                                hint=f"start again from its journal with: agentic fork {run_id} --from-step N")  # fmt: skip
    else:
        workspace.create()

    def sandbox_for(root: Path, readonly: bool = True) -> Any:
        """The worktree's sandbox (protected paths read-only, kept up for the run) or a checkout's."""
        ro = protected_paths(root, contract) if readonly else []
        return make_sandbox(root, ro, fallback=fallback, unsafe=req.unsafe_no_sandbox, persistent=readonly,
                            env=variables, hidden=unreadable_paths(root, contract), secret=secret_globs(contract))  # fmt: skip

    trace = telemetry.listener()  # OpenTelemetry spans, when the extra is installed and the environment asks
    try:
        sandbox = sandbox_for(workspace.path) if sandboxed else None
        journal = Journal(repo.state_dir / "runs" / run_id, run_id, redact, telemetry.chain(req.on_record, trace))
    except BaseException:
        if trace is not None:
            trace.close()
        if not req.resuming:
            workspace.remove(keep_branch=False)  # nothing of a run that never started stays behind
        raise
    store = SQLiteStore(repo.state_dir / "agentic.db")
    journal.on_head = anchored = anchor.recorder(store, run_id)  # every head from now on, signed
    # the current head: the journal resumed, or the empty chain before run.start (a kill between
    # writing run.start and anchoring it then leaves one record past the anchor, as any append can)
    anchored(journal.seq, journal.prev)
    if req.resuming and tape is not None:
        workspace.recover()  # what the dead harness left behind (the journal's lock is ours now)
        system, task = str(tape.start["system_prompt"]), str(tape.start["task"])
        disk_start = tape.start.get("disk_start_bytes")
        budget.started -= tape.elapsed_s  # time totals survive the crash
        journal.append("run.resume", _resume_record(req, sandbox), sync=True)
        store.update_run(run_id, status="running", reason="", ended_at=None)
    else:
        guidance = instructions.render(instructions.find(repo.root, req.base_commit))
        cwd = getattr(sandbox, "where", None) or str(workspace.path)  # the repository's own path, under bubblewrap
        system, task = system_prompt(contract, Environment.here(cwd), guidance), redact(req.task)  # no secret reaches the model
        disk_start = used_bytes(workspace.path)
        journal.append("run.start", {**_start_record(req, workspace, sandbox, system, specs),
                                     "warnings": _warnings(req, budget), "disk_start_bytes": disk_start},
                       sync=True)  # fmt: skip
        store.add_run(
            id=run_id, task=redact(task), status="running", model=req.model.name, contract=contract.hash_ref,
            base_commit=req.base_commit, branch=workspace.branch, worktree=str(workspace.path),
            journal=str(journal.path), started_at=time.time(),
        )  # fmt: skip
    def restore(tree: str) -> None:
        workspace.restore(tree)
        if sandbox is not None:
            sandbox.close()  # files it bound read-only may have been replaced: the next command binds afresh

    dispatcher = Dispatcher(tools, contract, journal, req.approver, redact, store.tool_switch,
                            tree=workspace.tree, restore=restore,
                            between=workspace.between,
                            disk=DiskGuard(workspace.path, contract.limits.max_disk_mb,
                                           disk_start if isinstance(disk_start, int) else None),
                            kill=lambda: kill_sandboxes([os.path.realpath(workspace.path)]))  # fmt: skip
    limiter = _rate_limiter(req)
    caller = Caller(req.model, journal, budget, contract.limits.max_retries, limiter,
                    request_timeout_s=req.settings.request_timeout_s)  # fmt: skip
    session = Session(run_id, req.model, specs, dispatcher, contract, workspace, journal, budget, sandbox,
                      make_sandbox=(lambda root: sandbox_for(root, readonly=False)) if sandbox else None,
                      tape=tape, resuming=req.resuming, observer=req.observer, caller=caller,
                      window=window_of(req.model.name, req.settings.context_window))  # fmt: skip
    if tape is not None:
        session.base_counts = dict(tape.baselines)
    session.messages = [{"role": "system", "content": system}, {"role": "user", "content": task_message(task)}]
    status, reason, commit = "failed", "", None
    try:
        verdict = agent_loop(session)
        status, reason = "accepted", "the gate passed"
        snapshot = session.snapshot
        assert snapshot is not None
        if snapshot.changes:
            recorded = tape.commit if tape is not None and req.resuming else None
            commit = recorded["commit"] if recorded else workspace.committed(snapshot.tree)
            if commit is None:
                commit = workspace.commit(snapshot.tree, commit_message(redact(task), redact(session.summary), run_id,
                                                                        contract))  # fmt: skip
            if not recorded:
                journal.append("commit", {"commit": commit, "tree": snapshot.tree, "checks": len(verdict.checks)},
                               step=budget.steps, sync=True)  # fmt: skip
        else:
            reason = "the gate passed; no file changed, so there is nothing to commit"
    except RunStopped as stop:
        status, reason = stop.status, stop.reason
    except ProviderError as exc:
        status, reason = "failed", f"provider error: {exc.message}"
    except KeyboardInterrupt:
        status, reason = "interrupted", "interrupted by the person (Ctrl-C)"
    except BaseException as exc:  # recorded, then re-raised: the journal must say how the run ended
        status, reason = "failed", f"internal error: {type(exc).__name__}: {exc}"
        raise
    finally:
        if sandbox is not None:
            sandbox.close()
        if limiter is not None:
            limiter.close()
        journal.append("run.end", {"status": status, "reason": reason, "commit": commit, "budget": budget.to_dict()},
                       step=budget.steps, sync=True)  # fmt: skip
        if req.settings.notify:  # agentic.notify (urllib, an opener) is loaded only for runs that notify
            from agentic.run.notify import notify_run_end, run_end_payload

            notify_run_end(req.settings, journal, run_end_payload(
                run_id, status, redact(reason), redact(session.summary), budget.to_dict(), journal.path, repo.root,
                task=redact(task),
                model=req.model.name, commit=commit, branch=workspace.branch if commit else None))  # fmt: skip
        journal.close()
        if trace is not None:
            trace.close()
        store.update_run(
            run_id, status=status, reason=redact(reason), commit_sha=commit, ended_at=time.time(), steps=budget.steps,
            tool_calls=budget.tool_calls, input_tokens=budget.usage.input_tokens,
            output_tokens=budget.usage.output_tokens, cached_input_tokens=budget.usage.cached_input_tokens,
        )  # fmt: skip
        store.close()
        if status in ("accepted", "rejected"):
            workspace.remove(keep_branch=commit is not None)
    changes = session.snapshot.changes if session.snapshot else []
    return RunOutcome(
        run_id, status, reason, workspace.branch, req.base_commit, commit, budget.steps, budget.tool_calls,
        budget.usage, journal.path, time.monotonic() - started, changes,
    )  # fmt: skip
