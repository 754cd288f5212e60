"""One governed run, from a task to a final status: start, loop, commit, notify, finish.

`execute` reads top to bottom: the run's resources are opened (and closed in order, whatever
happens) by RunResources; start journals `run.start` (or `run.resume`) and builds the session;
the loop runs until the gate accepts the change or something stops the run; an accepted change is
committed; finish journals `run.end`, notifies and updates the run database.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from agentic.agent import instructions
from agentic.agent.caller import Caller
from agentic.agent.context import window_of
from agentic.agent.conversation import Conversation
from agentic.agent.dispatch import Dispatcher
from agentic.agent.gatekeeper import Gate
from agentic.agent.hooks import HookRunner
from agentic.agent.loop import Session, agent_loop
from agentic.agent.prompts import Environment, system_prompt, task_message
from agentic.agent.recorded import redriven
from agentic.agent.turns import LiveModel
from agentic.errors import ProviderError
from agentic.gate.checks import Verdict
from agentic.journal.tape import Tape
from agentic.models.base import ToolSpec
from agentic.models.pricing import price_of
from agentic.policy.budget import Budget, RunStopped
from agentic.run.confine import needs_sandbox as needs_sandbox
from agentic.run.notify import notify_run_end, run_end_payload
from agentic.run.records import commit_message, resume_record, start_record, warnings
from agentic.run.request import Ending
from agentic.run.request import RunOutcome as RunOutcome
from agentic.run.request import RunRequest as RunRequest
from agentic.run.resources import RunResources
from agentic.sandbox.diskguard import DiskGuard, used_bytes
from agentic.tools import builtin_tools, spec
from agentic.tools.base import Tool


def execute(req: RunRequest) -> RunOutcome:
    """Run one task to a final status. Raises only for set-up errors (before the run exists) and bugs."""
    started = time.monotonic()
    resources = RunResources(req)  # decided; nothing created yet
    budget = Budget(req.contract.limits, price=price_of(req.model.name, req.settings.prices),
                    output_cap=req.contract.limits.output_cap(req.settings.max_output_tokens))  # fmt: skip
    with resources as res:
        run = start(req, res, budget)
        ending = Ending()
        try:
            ending = loop(run)
        except BaseException as exc:  # recorded, then re-raised: the journal must say how the run ended
            ending = Ending("failed", f"internal error: {type(exc).__name__}: {exc}")
            raise
        finally:
            finish(run, ending)
    changes = run.session.snapshot.changes if run.session.snapshot else []
    return RunOutcome(
        res.run_id, ending.status, ending.reason, res.workspace.branch, req.base_commit, ending.commit, budget.steps,
        budget.tool_calls, budget.usage, res.journal.path, time.monotonic() - started, changes,
    )  # fmt: skip


@dataclass
class Run:
    """A run under way: what was asked, what it holds open, the session the loop works on, its task."""

    req: RunRequest
    res: RunResources
    session: Session
    task: str  # as the model was given it (redacted)


def start(req: RunRequest, res: RunResources, budget: Budget) -> Run:
    """`run.start` (or `run.resume`) journaled and the run indexed; the session the loop works on."""
    tools: dict[str, Tool] = builtin_tools()
    if req.resuming and req.tape is not None:
        system, task, disk_start = _resume(req, req.tape, res, budget)
        tools.update({t.name: t for t in res.connect_mcp()})
    else:
        tools.update({t.name: t for t in res.connect_mcp()})  # their tools are in run.start's list
        system, task, disk_start = _begin(req, res, budget, [spec(t) for t in tools.values()])
    specs = [spec(t) for t in tools.values()]
    talk = Conversation.opening(system, task_message(task), specs, window_of(req.model.name, req.settings.context_window))
    return Run(req, res, session(req, res, budget, tools, talk, disk_start if isinstance(disk_start, int) else None), task)


def _begin(req: RunRequest, res: RunResources, budget: Budget, specs: list[ToolSpec]) -> tuple[str, str, object]:
    """A new run's `run.start` and index row: its system prompt, task and disk use at the start."""
    guidance = instructions.render(instructions.find(req.repo.root, req.base_commit))
    cwd = getattr(res.sandbox, "where", None) or str(res.workspace.path)  # the repository's own path, under bubblewrap
    system, task = system_prompt(res.contract, Environment.here(cwd), guidance), res.redact(req.task)  # no secret reaches the model
    disk_start = used_bytes(res.workspace.path)
    res.journal.append("run.start", {**start_record(req, res.workspace, res.sandbox, system, specs),
                                     "warnings": warnings(req, budget), "disk_start_bytes": disk_start},
                       sync=True)  # fmt: skip
    res.store.add_run(
        id=res.run_id, task=res.redact(task), status="running", model=req.model.name,
        contract=res.contract.hash_ref, base_commit=req.base_commit, branch=res.workspace.branch,
        worktree=str(res.workspace.path), journal=str(res.journal.path), started_at=time.time(),
    )  # fmt: skip
    return system, task, disk_start


def _resume(req: RunRequest, tape: Tape, res: RunResources, budget: Budget) -> tuple[str, str, object]:
    """A resumed run's `run.resume`: its system prompt, task and disk use at the start, as recorded."""
    res.workspace.recover()  # what the dead harness left behind (the journal's lock is ours now)
    budget.started -= tape.elapsed_s  # time totals survive the crash
    res.journal.append("run.resume", resume_record(req, res.sandbox), sync=True)
    res.store.update_run(res.run_id, status="running", reason="", ended_at=None)
    return str(tape.start.system_prompt), str(tape.start.task), tape.start.disk_start_bytes


def session(req: RunRequest, res: RunResources, budget: Budget, tools: dict[str, Tool], talk: Conversation,
            disk_start: int | None) -> Session:  # fmt: skip
    """The session the loop works on: live, or wrapped to resume or re-execute the request's tape."""
    workspace, contract = res.workspace, res.contract
    dispatcher = Dispatcher(tools, contract, res.journal, req.approver, res.redact, res.tool_switch,
                            tree=workspace.tree, restore=res.restore, between=workspace.between,
                            disk=DiskGuard(workspace.path, contract.limits.max_disk_mb, disk_start),
                            kill=res.kill_commands, hooks=hook_runner(res))  # fmt: skip
    caller = Caller(req.model, res.journal, budget, contract.limits.max_retries, res.limiter,
                    request_timeout_s=req.settings.request_timeout_s)  # fmt: skip
    gate = Gate(contract.binding("agent"), workspace, res.journal, budget, dispatcher, res.checkout_sandbox(),
                res.checkout_identity())
    model, handler, judge = redriven(req.tape, req.resuming, req.observer, LiveModel(caller), dispatcher, gate)
    return Session(res.run_id, contract, workspace.path, budget, res.sandbox, talk, model, handler, judge)


def hook_runner(res: RunResources) -> HookRunner | None:
    """The contract's hooks, run in one-off sandboxes of the worktree (None: the contract has none)."""
    hooks = res.contract.hooks
    return HookRunner(hooks, res.run_id, res.journal, res.hook_sandbox, res.redact) if hooks else None


def loop(run: Run) -> Ending:
    """The agent loop, then the commit of an accepted change: how the run ended, whichever way it stopped."""
    try:
        return commit(run, agent_loop(run.session))
    except RunStopped as stop:
        return Ending(stop.status, stop.reason)
    except ProviderError as exc:
        return Ending("failed", f"provider error: {exc.message}")
    except KeyboardInterrupt:
        return Ending("interrupted", "interrupted by the person (Ctrl-C)")


def commit(run: Run, verdict: Verdict) -> Ending:
    """The accepted change committed on the run's branch (a resumed run's recorded commit is reused)."""
    req, res, session = run.req, run.res, run.session
    snapshot = session.snapshot
    assert snapshot is not None
    if not snapshot.changes:
        return Ending("accepted", "the gate passed; no file changed, so there is nothing to commit")
    recorded = req.tape.commit if req.tape is not None and req.resuming else None
    # a commit made just before a crash is found on the branch by a resumed run; a new run's branch is
    # its own, made at the base by this process
    sha = recorded.commit if recorded is not None else res.workspace.committed(snapshot.tree) if req.resuming else None
    if sha is None:
        message = commit_message(res.redact(run.task), res.redact(session.summary), res.run_id, res.contract)
        sha = res.workspace.commit(snapshot.tree, message)
    if recorded is None:
        res.journal.append("commit", {"commit": sha, "tree": snapshot.tree, "checks": len(verdict.checks)},
                           step=session.budget.steps, sync=True)  # fmt: skip
    return Ending("accepted", "the gate passed", sha)


def notify(run: Run, ending: Ending) -> None:
    """Tell who the settings name (`notify:`) how the run ended; each delivery is journaled."""
    req, res, session = run.req, run.res, run.session
    if not req.settings.notify:
        return
    payload = run_end_payload(
        res.run_id, ending.status, res.redact(ending.reason), res.redact(session.summary), session.budget.to_dict(),
        res.journal.path, req.repo.root, task=res.redact(run.task), model=req.model.name, commit=ending.commit,
        branch=res.workspace.branch if ending.commit else None,
    )  # fmt: skip
    notify_run_end(req.settings, res.journal, payload)


def finish(run: Run, ending: Ending) -> None:
    """How the run ended, in the journal first, then to whoever is notified, then in the run database;
    the resources close after it (the worktree goes once the run is over)."""
    res, budget = run.res, run.session.budget
    res.journal.append("run.end", {"status": ending.status, "reason": ending.reason, "commit": ending.commit,
                                   "budget": budget.to_dict()}, step=budget.steps, sync=True)  # fmt: skip
    if (hooks := hook_runner(res)) is not None:  # told how the run ended; what they say is journaled
        hooks.run("run_end", budget.steps, {"status": ending.status, "reason": res.redact(ending.reason),
                                            "commit": ending.commit, "summary": res.redact(run.session.summary)})  # fmt: skip
    notify(run, ending)
    res.store.update_run(
        res.run_id, status=ending.status, reason=res.redact(ending.reason), commit_sha=ending.commit,
        ended_at=time.time(), steps=budget.steps, tool_calls=budget.tool_calls,
        input_tokens=budget.usage.input_tokens, output_tokens=budget.usage.output_tokens,
        cached_input_tokens=budget.usage.cached_input_tokens, cost_usd=budget.to_dict()["cost_usd"],
    )  # fmt: skip
    res.ending = ending
