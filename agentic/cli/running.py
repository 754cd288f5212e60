"""The commands that run the loop: `run`, `resume`, `fork` and `replay`."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from agentic.errors import JournalMismatch, UsageError
from agentic.git.cmd import git
from agentic.journal.anchor import check
from agentic.journal.tape import Tape
from agentic.observe.progress import for_output, pausing
from agentic.policy.contract import command_env, tighten
from agentic.reports.audit import commit_table, provenance
from agentic.reports.summary import clean, inert
from agentic.run.continuing import continue_run
from agentic.run.replay import replay as do_replay
from agentic.run.resume import (
    RESUMABLE,
    changes_since,
    check_fork_step,
    check_resumable,
    open_tape,
    recorded_flags,
    tidy_ended,
)
from agentic.run.runner import RunOutcome, RunRequest, execute, needs_sandbox
from agentic.sandbox import make_sandbox, program_envs, require_sandbox
from agentic.util import safeyaml
from agentic.workspace import RepoInfo

from .approve import approver
from .common import QuietOpt, RepoOpt, RunArg, SummaryOpt, UnsafeOpt, VerboseOpt, emit, err, out, verbosity
from .context import configure, model_for, prepare
from .runindex import get_run, open_store

app = typer.Typer(rich_markup_mode="rich")


def _limit_flags(given: list[str]) -> dict[str, Any]:
    """--limit NAME=VALUE flags as a mapping (values read as YAML scalars)."""
    flags: dict[str, Any] = {}
    for item in given:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--limit {item!r}: expected NAME=VALUE, e.g. --limit max_steps=10")
        try:
            flags[name.strip()] = safeyaml.load(raw)
        except yaml.YAMLError:
            flags[name.strip()] = raw
    return flags


@app.command()
def run(
    task: Annotated[str, typer.Argument(help="What the agent should do; '-' reads it from standard input.")],
    model: Annotated[str | None, typer.Option("--model", "-m", help="provider:model, overrides settings.")] = None,
    contract: Annotated[str | None, typer.Option("--contract", help="Contract path or preset name.")] = None,
    json_out: SummaryOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    unsafe_no_sandbox: UnsafeOpt = False,
    limit: Annotated[
        list[str] | None,
        typer.Option("--limit", metavar="NAME=VALUE",
                     help="Tighten one of the contract's limits for this run, e.g. --limit max_cost_usd=0.50 "
                          "(repeatable; a value that would loosen a limit is refused)."),
    ] = None,
    continue_from: Annotated[
        str | None,
        typer.Option("--continue", metavar="RUN",
                     help="Go on from where RUN ended (its change in place, its base commit) with TASK as a "
                          "follow-up; a new run that records its parent."),
    ] = None,
    repo: RepoOpt = Path("."),
) -> None:
    """Run one governed task: plan → edit → test in an isolated worktree, accepted only if the gate passes.

    Exit codes: 0 accepted, 1 rejected (gate failed or agent gave up), 2 usage or configuration error,
    3 stopped by a limit or stuck (repeating itself), 4 interrupted or provider failure.

    Example: agentic run "make test_average pass" --model anthropic:claude-sonnet-4-5
    (or: agentic run - < task.md; with the task on standard input nobody is there to approve, so
    what the contract asks about is refused). Then: agentic run --continue last "also handle NaN"
    """
    shown = verbosity(quiet, verbose)
    if task == "-":
        task = sys.stdin.read()
    if not task.strip():
        raise UsageError("the task is empty")
    limits = _limit_flags(limit or [])
    continued = None
    if continue_from is not None:
        parent_repo, _, parent = _tape_of(repo, continue_from)
        continued, task = continue_run(parent_repo, parent, task)
    info, settings, loaded, model_obj = prepare(repo, model, contract, limits)
    if continued is None:
        _warn_if_dirty(info.root)
    if unsafe_no_sandbox:
        err().print("[bold red]warning:[/] --unsafe-no-sandbox: commands run unconfined, with your user's rights")
    with for_output(json_out, err() if json_out else out(), verbosity=shown) as progress:
        outcome = execute(RunRequest(task, info, settings, loaded, model_obj, pausing(approver(), progress),
                                     on_record=progress, unsafe_no_sandbox=unsafe_no_sandbox,
                                     limit_flags=limits, continued=continued))  # fmt: skip
    _finish_run(outcome, json_out)


def _warn_if_dirty(root: Path) -> None:
    if git(["status", "--porcelain", "--untracked-files=no"], root, check=False).strip():
        err().print("[yellow]note:[/] your uncommitted changes are not part of the run: it starts from HEAD")


def _print_outcome(outcome: RunOutcome, paths: list[dict[str, Any]]) -> None:
    usage = outcome.usage
    out().print(inert(f"run {outcome.run_id}: {outcome.status} in {outcome.steps} steps, {outcome.tool_calls} tool "
                    f"calls, {usage.total_tokens} tokens, {outcome.duration_s:.1f}s", style="bold"))  # fmt: skip
    if outcome.commit:
        out().print(commit_table(paths))
        out().print(inert(f"commit {outcome.commit[:12]} on branch {outcome.branch} — "
                        f"bring it into your branch with: agentic apply {outcome.run_id}"))  # fmt: skip
    elif outcome.status in RESUMABLE:  # Ctrl-C, a provider that kept failing, a crash: it can go on
        out().print(inert(f"go on from where it stopped, without repeating its side effects: agentic resume "
                        f"{outcome.run_id}", style="bold"))  # fmt: skip
    out().print(inert(f"journal: {outcome.journal}"))


def _finish_run(outcome: RunOutcome, json_out: bool) -> None:
    paths = provenance(outcome.journal) if outcome.commit else []
    if json_out:
        emit(json.dumps({"event": "summary", **outcome.to_dict(), "committed": paths}))
    else:
        _print_outcome(outcome, paths)
    raise typer.Exit(outcome.exit_code)


def _tape_of(repo: Path, run_id: str) -> tuple[RepoInfo, dict[str, Any], Tape]:
    """The repository, the run's row in the index, and its verified tape."""
    info, store = open_store(repo)
    row = get_run(store, run_id)
    tape = open_tape(Path(row["journal"]), row["id"])
    anchored = check(store, row["id"], Path(row["journal"]))
    if not anchored.ok:  # a chain intact on its own, but not the one the database anchored
        store.close()
        raise JournalMismatch(f"the journal of run {row['id']} is not the one recorded: {anchored.problem}",
                              hint=f"see `agentic journal verify {row['id']}`; a run is only re-driven from the "
                                   "journal it wrote")  # fmt: skip
    if tape.status != row["status"] and tape.status != "running":  # the index lags the journal (a crash)
        end = tape.ends[-1]
        store.update_run(row["id"], status=tape.status, reason=end.reason or "", commit_sha=end.commit)
    store.close()
    tidy_ended(info.root, tape)
    return info, row, tape


@app.command()
def resume(
    run_id: RunArg,
    fork: Annotated[
        bool, typer.Option("--fork", help="If the contract, settings or harness changed: go on as a new run.")
    ] = False,
    json_out: SummaryOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    unsafe_no_sandbox: UnsafeOpt = False,
    repo: RepoOpt = Path("."),
) -> None:
    """Go on with an interrupted, failed or crashed run from its journal, without repeating its side effects.

    Recorded model answers are reused and completed tool calls are not executed again; a write or
    command cut short by the crash is reconciled with the worktree. Refused if the contract, settings
    or harness changed since the run started, unless --fork is given.

    Example: agentic resume last
    """
    shown = verbosity(quiet, verbose)
    info, _, tape = _tape_of(repo, run_id)
    info, settings, loaded = configure(info.root, recorded_flags(tape))
    loaded = tighten(loaded, tape.start.limit_flags or {}, "the run's --limit flags")
    if fork and tape.status in ("running", "interrupted", "failed") and changes_since(tape, settings, loaded):
        _fork(info, tape, tape.steps, None, json_out, unsafe_no_sandbox, shown)
    check_resumable(tape, settings, loaded)
    model = model_for(info, settings, loaded, str(tape.start.model))
    out_ = err() if json_out else out()
    out_.print(inert(f"resuming run {tape.run_id} after {tape.steps} recorded steps ({tape.status})"))
    task = str(tape.start.task)
    with for_output(json_out, out_, task=task, limits=dataclasses.asdict(loaded.limits), verbosity=shown) as progress:
        outcome = execute(RunRequest(task, info, settings, loaded, model, pausing(approver(), progress),
                                     on_record=progress, unsafe_no_sandbox=unsafe_no_sandbox, tape=tape,
                                     resuming=True))  # fmt: skip
    _finish_run(outcome, json_out)


def _fork(info: RepoInfo, tape: Tape, step: int, model: str | None, json_out: bool, unsafe: bool,
          shown: str = "normal") -> None:  # fmt: skip
    check_fork_step(tape, step)
    info, settings, loaded = configure(info.root, {**recorded_flags(tape), "model": model})
    loaded = tighten(loaded, tape.start.limit_flags or {}, "the run's --limit flags")
    part = tape.until_step(step)
    model_obj = model_for(info, settings, loaded, model or str(tape.start.model))
    if model is not None and hasattr(model_obj, "offset"):
        model_obj.offset = len(part.turns)  # a script given to fork answers from the fork point
    (err() if json_out else out()).print(inert(f"forking run {tape.run_id} at step {step}"))
    with for_output(json_out, err() if json_out else out(), verbosity=shown) as progress:
        outcome = execute(RunRequest(str(tape.start.task), info, settings, loaded, model_obj,
                                     pausing(approver(), progress), on_record=progress, unsafe_no_sandbox=unsafe,
                                     tape=part, forked_from={"run": tape.run_id, "step": step},
                                     limit_flags=tape.start.limit_flags or {}))  # fmt: skip
    _finish_run(outcome, json_out)


@app.command()
def fork(
    run_id: RunArg,
    from_step: Annotated[int, typer.Option("--from-step", help="Share the run's steps 1..N, then go on live.")],
    model: Annotated[str | None, typer.Option("--model", "-m", help="Go on with this model (provider:model).")] = None,
    json_out: SummaryOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    unsafe_no_sandbox: UnsafeOpt = False,
    repo: RepoOpt = Path("."),
) -> None:
    """Start a new run that shares a run's first N steps, then continues live (another prompt or model).

    The steps are re-executed in a fresh worktree from the run's base commit with the recorded model
    answers, so the worktree is as it was after step N; then the model (--model, or the run's) goes on.

    Example: agentic fork last --from-step 3 --model anthropic:claude-sonnet-4-5
    """
    shown = verbosity(quiet, verbose)
    info, _, tape = _tape_of(repo, run_id)
    _fork(info, tape, from_step, model, json_out, unsafe_no_sandbox, shown)


@app.command()
def replay(
    run_id: RunArg,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    repo: RepoOpt = Path("."),
) -> None:
    """Re-execute a run from its base commit with its recorded model answers; report the first divergence.

    Tools run for real (sandboxed, under the current contract); each result is compared with the
    recorded one. No model is called: no network, no key. Exit 0 identical, 1 diverged.

    Example: agentic replay last
    """
    info, _, tape = _tape_of(repo, run_id)
    info, settings, loaded = configure(info.root, recorded_flags(tape))
    fallback = settings.sandbox == "auto"
    sandbox_for = None
    if needs_sandbox(loaded):
        require_sandbox(fallback=fallback)
        variables = command_env(loaded)
        shown = program_envs(loaded.test_command)
        sandbox_for = lambda root: make_sandbox(root, [], fallback=fallback, env=variables, expose=shown)  # noqa: E731
    report = do_replay(info, tape, loaded, sandbox_for)
    if json_out:
        emit(json.dumps(report.to_dict()))
    elif report.divergence is None:
        out().print(inert(f"run {tape.run_id}: replay identical — {report.steps} steps, {report.compared} results "
                        f"compared ({report.ended})"))  # fmt: skip
    else:
        d = report.divergence
        out().print(inert(f"run {tape.run_id}: replay diverged at step {d.step}, {d.tool} "
                        f"(after {report.compared - 1} identical results)", style="bold red"))  # fmt: skip
        out().print("[bold]recorded:[/]")
        out().print(clean(d.expected), markup=False, highlight=False)
        out().print("[bold]now:[/]")
        out().print(clean(d.actual), markup=False, highlight=False)
    raise typer.Exit(0 if report.identical else 1)
