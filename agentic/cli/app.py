"""The command line. Commands parse, call and render; errors are rendered once, in `main()`.

Exit codes: 0 accepted / ok, 1 rejected or failed check, 2 usage or configuration error,
3 stopped by a limit or stuck, 4 interrupted or provider failure (resumable), 130 Ctrl-C outside a run.
Heavy modules (SDKs, jsonschema, gitpython) are imported inside commands so `--help` stays fast.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from agentic import __version__
from agentic.errors import AgenticError, ConfigError, UsageError

app = typer.Typer(
    name="agentic",
    help="Let a language model change a git repository under a contract: permissions, a sandbox, a gate and a journal.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
contract_app = typer.Typer(help="Validate contracts.", no_args_is_help=True)
app.add_typer(contract_app, name="contract")
journal_app = typer.Typer(help="Check run journals.", no_args_is_help=True)
app.add_typer(journal_app, name="journal")
tools_app = typer.Typer(help="List tools; the kill switch: disable or enable a tool, also for runs in progress.",
                        no_args_is_help=True)  # fmt: skip
app.add_typer(tools_app, name="tools")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

RepoOpt = Annotated[Path, typer.Option("--repo", "-C", help="Repository to work in (default: the current one).")]
RunArg = Annotated[str, typer.Argument(metavar="RUN", help="Run id, a unique prefix, or 'last'.")]
UnsafeOpt = Annotated[
    bool, typer.Option("--unsafe-no-sandbox", help="Run commands without isolation (recorded in the journal).")
]
SummaryOpt = Annotated[bool, typer.Option(
    "--json", help="Stream JSON events on stdout, one per line; the last line is the summary object."
)]


def _version(value: bool) -> None:
    if value:
        out.print(f"agentic {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """agentic: a governed plan → edit → test loop on your repository.

    Examples:
      agentic demo
      agentic run "fix the failing test in tests/test_calc.py" --model openai:gpt-4.1-mini
      agentic show last
    """


def _terminal_approver(tool: str, action: str) -> bool:
    from rich.prompt import Confirm
    from rich.text import Text

    from agentic.reports.summary import inert

    first, *rest = str(action).split("\n")
    line = Text.assemble(("The contract asks for approval:", "bold yellow"), " ", inert(tool), " → ", inert(first))
    for more in rest:  # a script's other lines, marked so that none can pass for the harness's own text
        line.append("\n  │ ").append(inert(more))
    err.print(line, soft_wrap=True)
    return Confirm.ask("Allow this action?", default=False, console=err)


def _approver() -> Any:
    from agentic.policy import engine as policy

    return _terminal_approver if sys.stdin.isatty() and sys.stderr.isatty() else policy.deny_all


def _configure(repo: Path, flags: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The repository, its settings (flags on top) and the contract they name."""
    from agentic.config.settings import load_settings
    from agentic.policy.contract import load_contract
    from agentic.workspace import find_repo

    info = find_repo(repo)
    settings = load_settings(info.root, flags)
    ref = settings.contract
    if ref == "policies/contract.yaml" and settings.origins.get("contract") == "default" and not (
        info.root / ref
    ).is_file():
        ref = "default"
        err.print("[dim]no policies/contract.yaml in this repository: using the shipped `default` contract[/]")
    return info, settings, load_contract(ref, info.root)


def _load_model(info: Any, settings: Any, contract: Any, name: str | None = None) -> Any:
    """The model named (or the settings'), its output cap lowered by the contract's max_tokens_per_step."""
    import dataclasses

    from agentic.models import load_model

    model_path = name or settings.model
    if model_path is None:
        raise UsageError(
            "no model configured",
            hint="pass --model (e.g. openai:gpt-4.1-mini, anthropic:claude-sonnet-4-5, script:turns.yaml) "
            "or set `model:` in .agentic.yaml",
        )
    if model_path.startswith("script:") and not Path(model_path[7:]).is_absolute():
        candidate = Path.cwd() / model_path[7:]
        model_path = f"script:{candidate if candidate.exists() else info.root / model_path[7:]}"
    options = settings.model_options()
    options = dataclasses.replace(options, max_output_tokens=contract.limits.output_cap(options.max_output_tokens))
    return load_model(model_path, options)


def _prepare(repo: Path, model: str | None, contract: str | None,
             limits: dict[str, Any] | None = None) -> tuple[Any, Any, Any, Any]:  # fmt: skip
    from agentic.policy.contract import tighten

    info, settings, loaded = _configure(repo, {"model": model, "contract": contract})
    loaded = tighten(loaded, limits or {})
    return info, settings, loaded, _load_model(info, settings, loaded)


def _limit_flags(given: list[str]) -> dict[str, Any]:
    """--limit NAME=VALUE flags as a mapping (values read as YAML scalars)."""
    import yaml

    out: dict[str, Any] = {}
    for item in given:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--limit {item!r}: expected NAME=VALUE, e.g. --limit max_steps=10")
        try:
            out[name.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError:
            out[name.strip()] = raw
    return out


@app.command()
def run(
    task: Annotated[str, typer.Argument(help="What the agent should do.")],
    model: Annotated[str | None, typer.Option("--model", "-m", help="provider:model, overrides settings.")] = None,
    contract: Annotated[str | None, typer.Option("--contract", help="Contract path or preset name.")] = None,
    json_out: SummaryOpt = False,
    unsafe_no_sandbox: UnsafeOpt = False,
    limit: Annotated[
        list[str] | None,
        typer.Option("--limit", metavar="NAME=VALUE",
                     help="Tighten one of the contract's limits for this run, e.g. --limit max_cost_usd=0.50 "
                          "(repeatable; a value that would loosen a limit is refused)."),
    ] = None,
    repo: RepoOpt = Path("."),
) -> None:
    """Run one governed task: plan → edit → test in an isolated worktree, accepted only if the gate passes.

    Exit codes: 0 accepted, 1 rejected (gate failed or agent gave up), 2 usage or configuration error,
    3 stopped by a limit or stuck (repeating itself), 4 interrupted or provider failure.

    Example: agentic run "make test_average pass" --model anthropic:claude-sonnet-4-5
    """
    from agentic.observe.progress import for_output, pausing
    from agentic.run.runner import RunRequest, execute

    if not task.strip():
        raise UsageError("the task is empty")
    limits = _limit_flags(limit or [])
    info, settings, loaded, model_obj = _prepare(repo, model, contract, limits)
    _warn_if_dirty(info.root)
    if unsafe_no_sandbox:
        err.print("[bold red]warning:[/] --unsafe-no-sandbox: commands run unconfined, with your user's rights")
    with for_output(json_out, err if json_out else out) as progress:
        outcome = execute(RunRequest(task, info, settings, loaded, model_obj, pausing(_approver(), progress),
                                     on_record=progress, unsafe_no_sandbox=unsafe_no_sandbox,
                                     limit_flags=limits))  # fmt: skip
    _finish_run(outcome, json_out)


def _warn_if_dirty(root: Path) -> None:
    from agentic.git.cmd import git

    if git(["status", "--porcelain", "--untracked-files=no"], root, check=False).strip():
        err.print("[yellow]note:[/] your uncommitted changes are not part of the run: it starts from HEAD")


def _print_outcome(outcome: Any, paths: list[dict[str, Any]]) -> None:
    from agentic.reports.audit import commit_table
    from agentic.reports.summary import inert

    usage = outcome.usage
    out.print(inert(f"run {outcome.run_id}: {outcome.status} in {outcome.steps} steps, {outcome.tool_calls} tool "
                    f"calls, {usage.total_tokens} tokens, {outcome.duration_s:.1f}s", style="bold"))  # fmt: skip
    if outcome.commit:
        out.print(commit_table(paths))
        out.print(inert(f"commit {outcome.commit[:12]} on branch {outcome.branch} — "
                        f"bring it into your branch with: agentic apply {outcome.run_id}"))  # fmt: skip
    out.print(inert(f"journal: {outcome.journal}"))


def _open_store(repo: Path) -> tuple[Any, Any]:
    from agentic.journal.store import SQLiteStore
    from agentic.run.resume import index_unlisted_runs
    from agentic.workspace import find_repo

    info = find_repo(repo)
    store = SQLiteStore(info.state_dir / "agentic.db")
    index_unlisted_runs(info.state_dir / "runs", store)
    return info, store


def _get_run(store: Any, run_id: str) -> dict[str, Any]:
    if run_id == "last":
        runs = store.list_runs(limit=1)
        if not runs:
            raise UsageError("there are no runs in this repository yet")
        return dict(runs[0])
    found = store.get_run(run_id)
    if found is None:
        raise UsageError(f"no run {run_id!r} in this repository", hint="list runs with `agentic runs`")
    return dict(found)


@app.command()
def runs(
    status: Annotated[str | None, typer.Option(help="Only runs with this status.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs.")] = 30,
    json_out: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
    repo: RepoOpt = Path("."),
) -> None:
    """List the runs of this repository, newest first.

    Example: agentic runs --status failed
    """
    import datetime

    from rich.table import Table

    from agentic.reports.summary import inert, one_line

    _, store = _open_store(repo)
    rows = store.list_runs(status=status, limit=limit)
    if json_out:
        for row in rows:
            print(json.dumps(row))
        return
    table = Table(title="runs")
    for col in ("run", "started", "status", "steps", "tokens", "model", "task"):
        table.add_column(col)
    for row in rows:
        started = datetime.datetime.fromtimestamp(row["started_at"]).strftime("%Y-%m-%d %H:%M")
        tokens = row["input_tokens"] + row["output_tokens"]
        table.add_row(inert(row["id"]), started, inert(row["status"]), inert(row["steps"]), inert(tokens),
                      inert(row["model"]), inert(one_line(row["task"], 50)))  # fmt: skip
    out.print(table)


@app.command()
def show(
    run_id: RunArg,
    json_out: Annotated[bool, typer.Option("--json", help="The timeline as JSON.")] = False,
    html_out: Annotated[
        Path | None, typer.Option("--html", metavar="FILE", help="Also write a standalone HTML report to FILE.")
    ] = None,
    repo: RepoOpt = Path("."),
) -> None:
    """Show a run's timeline from its journal: every model call, tool call and gate with its time,
    duration, decision (verdict, who decided, rule), tokens and cost; errors in red; totals at the end.

    --json prints one object: {"run": index row, "timeline": [rows], "totals": {...}}.
    --html FILE writes a standalone page (no network assets): the steps with the model's messages and
    tool calls, decisions, the final change's diff, gate results and usage over time.

    Example: agentic show last --html run.html
    """
    from agentic.reports.audit import commit_table, provenance
    from agentic.reports.summary import WIDE, inert, timeline, timeline_lines, timeline_table, totals

    info, store = _open_store(repo)
    row = _get_run(store, run_id)
    if html_out is not None:
        from agentic.reports.html import write_run_html

        write_run_html(Path(row["journal"]), html_out, repo=info.root, run=row)
    rows = timeline(Path(row["journal"]))
    paths = provenance(Path(row["journal"]))
    if json_out:
        print(json.dumps({"run": row, "timeline": rows, "totals": totals(rows), "committed": paths}))
        return
    title = f"run {row['id']} · {row['status']}"
    out.print(timeline_table(rows, title) if out.width >= WIDE else timeline_lines(rows, title))
    if paths:
        out.print(commit_table(paths))
    out.print(inert(f"journal: {row['journal']}"))
    if html_out is not None:
        out.print(inert(f"report: {html_out}"))


@app.command()
def audit(
    run_id: RunArg,
    json_out: Annotated[bool, typer.Option("--json", help="The audit as one JSON object.")] = False,
    repo: RepoOpt = Path("."),
) -> None:
    """Audit a run from its journal alone: who started it, model and settings, every tool call with its
    decision and who made it, files read and written, commands and exit statuses, refusals, gate
    verdicts, final status and totals; the journal's hash chain is verified first.

    Exit codes: 0 the journal is intact, 1 it fails verification (the audit names the first bad record), 2 usage.

    Example: agentic audit last --json > audit.json
    """
    from agentic.journal.anchor import check
    from agentic.reports.audit import audit_run, render

    _, store = _open_store(repo)
    row = _get_run(store, run_id)
    report = audit_run(Path(row["journal"]), check(store, row["id"], Path(row["journal"])).to_dict())
    if json_out:
        print(json.dumps(report))
    else:
        render(report, out)
    raise typer.Exit(0 if report["journal"]["ok"] else 1)


@app.command()
def apply(
    run_id: RunArg,
    repo: RepoOpt = Path("."),
) -> None:
    """Bring an accepted run's commit onto your current branch (fast-forward or cherry-pick).

    Example: agentic apply last
    """
    from agentic.workspace import apply_commit

    info, store = _open_store(repo)
    row = _get_run(store, run_id)
    if row["status"] != "accepted" or not row["commit_sha"]:
        raise UsageError(f"run {row['id']} is {row['status']}: only accepted runs can be applied")
    head = apply_commit(info.root, row["commit_sha"], row["base_commit"])
    from agentic.reports.summary import inert

    out.print(inert(f"applied run {row['id']}: your branch is now at {head[:12]}"))


def _finish_run(outcome: Any, json_out: bool) -> None:
    from agentic.reports.audit import provenance

    paths = provenance(outcome.journal) if outcome.commit else []
    if json_out:
        print(json.dumps({"event": "summary", **outcome.to_dict(), "committed": paths}), flush=True)
    else:
        _print_outcome(outcome, paths)
    raise typer.Exit(outcome.exit_code)


def _tape_of(repo: Path, run_id: str) -> tuple[Any, Any, Any]:
    """The repository, the run's row in the index, and its verified tape."""
    from agentic.errors import JournalMismatch
    from agentic.journal.anchor import check
    from agentic.run.resume import open_tape, tidy_ended

    info, store = _open_store(repo)
    row = _get_run(store, run_id)
    tape = open_tape(Path(row["journal"]), row["id"])
    anchored = check(store, row["id"], Path(row["journal"]))
    if not anchored.ok:  # a chain intact on its own, but not the one the database anchored
        store.close()
        raise JournalMismatch(f"the journal of run {row['id']} is not the one recorded: {anchored.problem}",
                              hint=f"see `agentic journal verify {row['id']}`; a run is only re-driven from the "
                                   "journal it wrote")  # fmt: skip
    if tape.status != row["status"] and tape.status != "running":  # the index lags the journal (a crash)
        end = tape.ends[-1]
        store.update_run(row["id"], status=tape.status, reason=end.get("reason", ""), commit_sha=end.get("commit"))
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
    unsafe_no_sandbox: UnsafeOpt = False,
    repo: RepoOpt = Path("."),
) -> None:
    """Go on with an interrupted, failed or crashed run from its journal, without repeating its side effects.

    Recorded model answers are reused and completed tool calls are not executed again; a write or
    command cut short by the crash is reconciled with the worktree. Refused if the contract, settings
    or harness changed since the run started, unless --fork is given.

    Example: agentic resume last
    """
    import dataclasses

    from agentic.observe.progress import for_output, pausing
    from agentic.policy.contract import tighten
    from agentic.run.resume import changes_since, check_resumable, recorded_flags
    from agentic.run.runner import RunRequest, execute

    info, _, tape = _tape_of(repo, run_id)
    info, settings, loaded = _configure(info.root, recorded_flags(tape))
    loaded = tighten(loaded, tape.start.get("limit_flags") or {}, "the run's --limit flags")
    if fork and tape.status in ("running", "interrupted", "failed") and changes_since(tape, settings, loaded):
        _fork(info, tape, tape.steps, None, json_out, unsafe_no_sandbox)
    check_resumable(tape, settings, loaded)
    model = _load_model(info, settings, loaded, str(tape.start["model"]))
    out_ = err if json_out else out
    from agentic.reports.summary import inert

    out_.print(inert(f"resuming run {tape.run_id} after {tape.steps} recorded steps ({tape.status})"))
    task = str(tape.start["task"])
    with for_output(json_out, out_, task=task, limits=dataclasses.asdict(loaded.limits)) as progress:
        outcome = execute(RunRequest(task, info, settings, loaded, model, pausing(_approver(), progress),
                                     on_record=progress, unsafe_no_sandbox=unsafe_no_sandbox, tape=tape,
                                     resuming=True))  # fmt: skip
    _finish_run(outcome, json_out)


def _fork(info: Any, tape: Any, step: int, model: str | None, json_out: bool, unsafe: bool) -> None:
    from agentic.observe.progress import for_output, pausing
    from agentic.policy.contract import tighten
    from agentic.run.resume import check_fork_step, recorded_flags
    from agentic.run.runner import RunRequest, execute

    check_fork_step(tape, step)
    info, settings, loaded = _configure(info.root, {**recorded_flags(tape), "model": model})
    loaded = tighten(loaded, tape.start.get("limit_flags") or {}, "the run's --limit flags")
    part = tape.until_step(step)
    model_obj = _load_model(info, settings, loaded, model or str(tape.start["model"]))
    if model is not None and hasattr(model_obj, "offset"):
        model_obj.offset = len(part.turns)  # a script given to fork answers from the fork point
    from agentic.reports.summary import inert

    (err if json_out else out).print(inert(f"forking run {tape.run_id} at step {step}"))
    with for_output(json_out, err if json_out else out) as progress:
        outcome = execute(RunRequest(str(tape.start["task"]), info, settings, loaded, model_obj,
                                     pausing(_approver(), progress), on_record=progress, unsafe_no_sandbox=unsafe,
                                     tape=part, forked_from={"run": tape.run_id, "step": step},
                                     limit_flags=tape.start.get("limit_flags") or {}))  # fmt: skip
    _finish_run(outcome, json_out)


@app.command()
def fork(
    run_id: RunArg,
    from_step: Annotated[int, typer.Option("--from-step", help="Share the run's steps 1..N, then go on live.")],
    model: Annotated[str | None, typer.Option("--model", "-m", help="Go on with this model (provider:model).")] = None,
    json_out: SummaryOpt = False,
    unsafe_no_sandbox: UnsafeOpt = False,
    repo: RepoOpt = Path("."),
) -> None:
    """Start a new run that shares a run's first N steps, then continues live (another prompt or model).

    The steps are re-executed in a fresh worktree from the run's base commit with the recorded model
    answers, so the worktree is as it was after step N; then the model (--model, or the run's) goes on.

    Example: agentic fork last --from-step 3 --model anthropic:claude-sonnet-4-5
    """
    info, _, tape = _tape_of(repo, run_id)
    _fork(info, tape, from_step, model, json_out, unsafe_no_sandbox)


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
    from agentic.policy.contract import command_env
    from agentic.reports.summary import clean, inert
    from agentic.run.replay import replay as do_replay
    from agentic.run.resume import recorded_flags
    from agentic.run.runner import needs_sandbox
    from agentic.sandbox import make_sandbox, require_sandbox

    info, _, tape = _tape_of(repo, run_id)
    info, settings, loaded = _configure(info.root, recorded_flags(tape))
    fallback = settings.sandbox == "auto"
    sandbox_for = None
    if needs_sandbox(loaded):
        require_sandbox(fallback=fallback)
        variables = command_env(loaded)
        sandbox_for = lambda root: make_sandbox(root, [], fallback=fallback, env=variables)  # noqa: E731
    report = do_replay(info, tape, loaded, sandbox_for)
    if json_out:
        print(json.dumps(report.to_dict()))
    elif report.divergence is None:
        out.print(inert(f"run {tape.run_id}: replay identical — {report.steps} steps, {report.compared} results "
                        f"compared ({report.ended})"))  # fmt: skip
    else:
        d = report.divergence
        out.print(inert(f"run {tape.run_id}: replay diverged at step {d.step}, {d.tool} "
                        f"(after {report.compared - 1} identical results)", style="bold red"))  # fmt: skip
        out.print("[bold]recorded:[/]")
        out.print(clean(d.expected), markup=False, highlight=False)
        out.print("[bold]now:[/]")
        out.print(clean(d.actual), markup=False, highlight=False)
    raise typer.Exit(0 if report.identical else 1)


@app.command()
def gate(
    staged: Annotated[
        bool, typer.Option("--staged", help="Gate exactly the staged change (what would be committed).")
    ] = False,
    contract: Annotated[str | None, typer.Option("--contract", help="Contract path or preset name.")] = None,
    json_file: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="Write a JSON report ('-': stdout).")
    ] = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", metavar="FILE", help="Write a JUnit XML report.")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run the checks even if this tree was gated before.")
    ] = False,
    unsafe_no_sandbox: UnsafeOpt = False,
    repo: RepoOpt = Path("."),
) -> None:
    """Check the working tree (tracked and untracked, not ignored files) or the staged change against the
    contract's invariants: the same checks a run's gate makes, on a clean checkout, compared with HEAD.

    Verdicts are cached by tree, contract and checks: an unchanged tree is answered from the cache.
    Exit codes: 0 every check passed, 1 a check failed, 2 usage, configuration or sandbox error.

    Example: agentic gate --staged --junit gate.xml
    """
    from agentic.gate.hook import GateRequest, Printer, run_gate, write_reports

    console = err if json_file is not None and str(json_file) == "-" else out
    if unsafe_no_sandbox:
        err.print("[bold red]warning:[/] --unsafe-no-sandbox: commands run unconfined, with your user's rights")
    printer = Printer(console)
    request = GateRequest(repo, staged, contract, use_cache=not no_cache, unsafe_no_sandbox=unsafe_no_sandbox)
    result = run_gate(request, on_check=printer.check)
    from agentic.reports.summary import inert

    for note in result.notes:
        err.print(inert(note, style="dim"))
    printer.done(result)
    write_reports(result, json_file, junit)
    raise typer.Exit(result.exit_code)


@contract_app.command("check")
def contract_check(
    file: Annotated[
        Path | None, typer.Argument(help="Contract file or preset name (default: the one settings name).")
    ] = None,
    repo: RepoOpt = Path("."),
) -> None:
    """Validate a contract and verify the examples of its rules against the decisions they get.

    Exit codes: 0 valid and every example gets its expected verdict, 1 an example does not (each
    mismatch is printed with file:line, the expected and actual verdicts and the rule), 2 invalid.

    Example: agentic contract check policies/contract.yaml
    """
    from rich.markup import escape

    from agentic.policy.contract import PRESETS, load_contract, load_contract_file
    from agentic.policy.engine import check_examples
    from agentic.reports.summary import clean
    from agentic.tools import builtin_tools

    if file is not None:
        is_preset = str(file) in PRESETS and not file.exists()
        loaded = load_contract(str(file), None) if is_preset else load_contract_file(file)
    else:
        from agentic.config.settings import load_settings
        from agentic.workspace import find_repo

        info = find_repo(repo)
        loaded = load_contract(load_settings(info.root).contract, info.root)
    checks = check_examples(loaded, {name: tool.kind for name, tool in builtin_tools().items()})
    failed = [check for check in checks if not check.ok]
    for check in failed:
        out.print(f"[red]✗[/] {escape(clean(check.describe()))}", soft_wrap=True)
    if failed:
        out.print(f"{escape(clean(loaded.source))}: {len(failed)} of {len(checks)} examples do not get "
                  "their expected verdict", soft_wrap=True)  # fmt: skip
        raise typer.Exit(1)
    out.print(f"[green]✓[/] {escape(clean(loaded.source))}: valid ({len(loaded.tools)} tool rules, "
              f"{len(loaded.invariants)} invariants, {loaded.hash_ref[:19]}); "
              f"{len(checks)} examples verified", soft_wrap=True)  # fmt: skip


@contract_app.command("explain")
def contract_explain(
    tool: Annotated[str, typer.Argument(help="A tool: run_command, write_file, read_file, …")],
    subject: Annotated[str | None, typer.Argument(
        help="The script (run_command) or path (file tools) to decide.")] = None,
    contract: Annotated[str | None, typer.Option(
        "--contract", help="Contract file or preset name (default: the one settings name, else 'default').")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the decision as a JSON object.")] = False,
    batch: Annotated[bool, typer.Option(
        "--batch", help='Read JSON lines {"tool": ..., "args": {...}} from stdin; write one decision a line.')] = False,
    repo: RepoOpt = Path("."),
) -> None:
    """Show what the contract decides for a tool call, and why: the verdict, the rule and its reason.
    A script is decided command by command (and file by file for what it writes); the strictest wins.

    Exit codes: 0 explained (whatever the verdict), 2 usage or configuration error.

    Example: agentic contract explain run_command 'cd src && python x.py | head -5'
    """
    from agentic.policy.explain import explain_batch, explain_subject
    from agentic.reports.summary import render_decision
    from agentic.tools import builtin_tools

    loaded = _contract_for(contract, repo)
    kinds = {name: t.kind for name, t in builtin_tools().items()}
    if batch:
        for line in explain_batch(loaded, kinds, sys.stdin):
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        return
    decision = explain_subject(loaded, kinds, tool, subject)
    if json_out:
        out.print_json(json.dumps(decision.explain()))
        return
    render_decision(out, decision)


def _contract_for(ref: str | None, repo: Path) -> Any:
    """A contract named on the command line (file or preset), else the repository's, else the default preset."""
    from agentic.policy.contract import PRESETS, load_contract, load_contract_file

    if ref is not None:
        return load_contract(ref, None) if ref in PRESETS and not Path(ref).exists() else load_contract_file(Path(ref))
    from agentic.config.settings import load_settings
    from agentic.errors import AgenticError
    from agentic.workspace import find_repo

    try:
        info = find_repo(repo)
    except AgenticError:
        return load_contract("default", None)
    return load_contract(load_settings(info.root).contract, info.root)


def _tool_name(name: str) -> str:
    from agentic.tools import builtin_tools

    if name not in builtin_tools():
        raise UsageError(f"unknown tool {name!r}", hint="see `agentic tools list`")
    return name


@tools_app.command("list")
def tools_list(
    json_out: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
    repo: RepoOpt = Path("."),
) -> None:
    """The built-in tools, whether the kill switch disabled them, and what the contract allows.

    Example: agentic tools list
    """
    from rich.table import Table

    from agentic.config.settings import load_settings
    from agentic.policy.contract import load_contract
    from agentic.tools import builtin_tools

    info, store = _open_store(repo)
    switches = store.disabled_tools()
    try:
        contract = load_contract(load_settings(info.root).contract, info.root)
    except ConfigError:
        contract = load_contract("default", None)
    rows = []
    for name, tool in builtin_tools().items():
        rule = contract.tools.get(name)
        verdicts = [v for v in ("allow", "ask", "deny") if rule is not None and getattr(rule, v)]
        switch = switches.get(name)
        rows.append({"tool": name, "kind": tool.kind, "enabled": switch is None,
                     "disabled_by": switch and switch["disabled_by"], "reason": switch and switch["reason"],
                     "contract": "/".join(verdicts) or ("always" if tool.kind == "control" else "no rule: denied")})  # fmt: skip
    if json_out:
        for row in rows:
            print(json.dumps(row))
        return
    from agentic.reports.summary import inert

    table = Table(title=inert(f"tools · contract {contract.source}"))
    for col in ("tool", "kind", "status", "contract rules"):
        table.add_column(col)
    for row in rows:
        status = inert("enabled", style="green") if row["enabled"] else inert(f"disabled by {row['disabled_by']}",
                                                                                style="red")  # fmt: skip
        table.add_row(row["tool"], row["kind"], status, inert(row["contract"]))
    out.print(table)


@tools_app.command("disable")
def tools_disable(
    name: Annotated[str, typer.Argument(help="The tool to disable, e.g. run_command.")],
    reason: Annotated[str, typer.Option("--reason", help="Why; shown to the model and in the audit.")] = "",
    repo: RepoOpt = Path("."),
) -> None:
    """Disable a tool in this repository from the very next call on, including runs in progress.

    Example: agentic tools disable run_command --reason "investigating a runaway command"
    """
    import getpass

    _, store = _open_store(repo)
    store.disable_tool(_tool_name(name), getpass.getuser(), reason)
    out.print(f"{name} is disabled: every call is refused until `agentic tools enable {name}`")


@tools_app.command("enable")
def tools_enable(
    name: Annotated[str, typer.Argument(help="The tool to enable again.")],
    repo: RepoOpt = Path("."),
) -> None:
    """Enable a tool the kill switch disabled.

    Example: agentic tools enable run_command
    """
    _, store = _open_store(repo)
    was = store.enable_tool(_tool_name(name))
    out.print(f"{name} is enabled" + ("" if was else " (it was not disabled)"))


@journal_app.command("verify")
def journal_verify(
    run_id: RunArg,
    repo: RepoOpt = Path("."),
) -> None:
    """Verify a run's journal: the hash chain, sequence numbers and blobs. Exit 1 at the first bad record.

    Example: agentic journal verify last
    """
    from agentic.journal.anchor import check
    from agentic.journal.records import verify
    from agentic.reports.audit import anchor_note
    from agentic.reports.summary import inert

    _, store = _open_store(repo)
    row = _get_run(store, run_id)
    journal = Path(row["journal"])
    anchored = check(store, row["id"], journal)
    result = verify(journal) if journal.is_file() else None
    if result is not None and result.ok and anchored.ok:
        tail = " (a torn last line from a crash was ignored)" if result.torn_tail else ""
        out.print(inert(f"✓ run {row['id']}: {result.records} records, chain and blobs intact"
                        f"{anchor_note(anchored.to_dict())}{tail}", style="green"))  # fmt: skip
        return
    problem = result.problem if result is not None and not result.ok else anchored.problem
    err.print(inert(f"✗ run {row['id']}: journal tampered or corrupt: {problem}", style="bold red"))
    raise typer.Exit(1)


@app.command()
def doctor(
    json_out: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
    quick: Annotated[bool, typer.Option("--quick", help="Skip running the test command.")] = False,
    repo: RepoOpt = Path("."),
) -> None:
    """Check git, the sandbox level and what it blocks, settings, contract, the model's key and endpoint,
    and run the contract's test command once in the sandbox on a clean checkout of HEAD (the cause and
    a fix when its runner does not start).

    Exit 0 when everything essential works, 1 otherwise.

    Example: agentic doctor --json
    """
    from rich.table import Table

    from agentic.cli.doctor import diagnose
    from agentic.reports.summary import inert

    checks = diagnose(repo, quick=quick)
    if json_out:
        for check in checks:
            print(json.dumps(check.to_dict()))
    else:
        table = Table(title="agentic doctor")
        for col in ("", "check", "detail", "how to fix"):
            table.add_column(col)
        for check in checks:
            mark = "[green]✓[/]" if check.ok else ("[red]✗[/]" if check.essential else "[yellow]-[/]")
            table.add_row(mark, inert(check.name), inert(check.detail), inert(check.fix))
        out.print(table)
    raise typer.Exit(0 if all(c.ok for c in checks if c.essential) else 1)


@app.command()
def init(
    preset: Annotated[str | None, typer.Option("--preset", help="Contract preset: default, strict or readonly.")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="provider:model (default: openai:gpt-4.1-mini).")] = None,
    test_command: Annotated[str | None, typer.Option("--test-command", help="The test command, e.g. 'npm test' (default: detected).")] = None,
    no_tests: Annotated[bool, typer.Option("--no-tests", help="No test command: write a placeholder that fails every run until you set one.")] = False,
    contract_path: Annotated[str | None, typer.Option("--contract-path", help="Where to write the contract (default: policies/contract.yaml).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Ask nothing: flags, then defaults (also when stdin is not a terminal).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite .agentic.yaml and the contract if they exist.")] = False,
    repo: RepoOpt = Path("."),
) -> None:  # fmt: skip
    """Set up a repository: write .agentic.yaml and a contract from a preset, exclude .agentic/ from git.

    At a terminal it asks for the preset, the model and the test command; flags answer in advance. The
    test command is detected from pytest's configuration, tox.ini, noxfile.py, a Makefile test target,
    package.json, Cargo.toml, go.mod, runtests.py, manage.py and the test files, and tried in the
    project's Python (.venv or python on PATH); when the evidence disagrees or the best supported
    runner cannot start, it asks, or with --yes says what it chose over what. An existing file is never
    overwritten without --force. Exit codes: 0 written, 2 usage error or a file exists.

    Example: agentic init --preset strict --model anthropic:claude-sonnet-4-5 --test-command "make test" --yes
    """
    from rich.markup import escape
    from rich.prompt import Confirm

    from agentic.cli import init as setup

    root = setup.repo_root(repo)
    from agentic.workspace import check_state_dir

    check_state_dir(root)  # before anything is written
    interactive = not yes and sys.stdin.isatty()
    choices = setup.choices_from_flags(root, preset, model, test_command, no_tests, contract_path,
                                       require_tests=not interactive)  # fmt: skip
    rels = [setup.REPO_FILE, choices.contract_path]
    if interactive and not force and (found := setup.existing(root, rels)):
        force = Confirm.ask(f"{', '.join(found)} already exist(s): overwrite?", default=False, console=out)
    setup.refuse_overwrite(root, rels, force)
    for line in [] if interactive else setup.explain_detection(choices):
        out.print(escape(line), soft_wrap=True)
    if interactive:
        choices = setup.prompt_choices(root, choices, out, ask_preset=preset is None, ask_model=model is None,
                                       ask_tests=test_command is None and not no_tests)  # fmt: skip
    result = setup.init_repository(root, choices, force=force)
    for planned in result.written:
        out.print(f"[green]wrote[/] {escape(planned.rel)} ({escape(planned.summary)})")
    out.print(f"[green]excluded[/] .agentic/ from git ({escape(str(result.exclude_file))})")
    if choices.test_command is None:
        out.print(f"[yellow]note:[/] every run is rejected until you set test_command in {escape(choices.contract_path)}")
    out.print(f"next steps:\n  git add {setup.REPO_FILE} {escape(choices.contract_path)} && git commit -m 'agentic: setup'\n"
              "  agentic contract check      validate the contract and its rules' examples\n"
              "  agentic doctor              check git, the sandbox, the model and its key\n"
              '  agentic run "describe the change you want"', soft_wrap=True)  # fmt: skip


@app.command()
def demo(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where to create the demo repository (default: a new temp dir).")
    ] = None,
) -> None:
    """Offline showcase: a throw-away repo with a bug, a scripted model, the whole loop, the journal.

    Example: agentic demo --dir /tmp/agentic-demo
    """
    from agentic.run.demo import run_demo

    raise typer.Exit(run_demo(directory, out))


# -- agentic eval: scenarios run k times, judged, compared with a baseline (docs/eval.md) ----------


class _EvalGroup(typer.core.TyperGroup):
    """`agentic eval [PATHS]` means `agentic eval run [PATHS]`; `agentic eval bless` is the other command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["run", *args]
        return list(super().parse_args(ctx, args))


eval_app = typer.Typer(cls=_EvalGroup, help="Run eval scenarios k times each; report pass rates; compare with a "
                       "baseline. `agentic eval [PATHS]` is `agentic eval run [PATHS]`.")  # fmt: skip
app.add_typer(eval_app, name="eval")
ScenarioPaths = Annotated[
    list[Path] | None, typer.Argument(help="Scenario files or directories of them (default: scenarios/).")
]
RepeatsOpt = Annotated[int | None, typer.Option("--repeats", "-k", min=1, help="Attempts per scenario (overrides theirs).")]
ConcurrencyOpt = Annotated[int, typer.Option("--concurrency", "-j", min=1, help="Attempts running at once.")]
EvalModelOpt = Annotated[
    str | None, typer.Option("--model", "-m", help="provider:model for every scenario (overrides their script:).")
]
TagOpt = Annotated[list[str] | None, typer.Option("--tag", help="Only scenarios with this tag (repeatable: any of them).")]
ErrorRateOpt = Annotated[
    float, typer.Option("--max-error-rate", min=0.0, max=1.0, help="Fail when more attempts than this fraction errored.")
]
MaxDropOpt = Annotated[
    float, typer.Option("--max-drop", min=0.0, max=1.0,
                        help="With --baseline: the largest allowed drop of the mean scenario pass rate (a fraction).")
]
WorkdirOpt = Annotated[
    Path | None, typer.Option("--workdir", help="Keep every attempt's repository and journal here (default: a temp dir, removed).")
]


def _run_eval(paths: list[Path], tags: list[str], repeats: int | None, concurrency: int, model: str | None,
              workdir: Path | None) -> tuple[Any, list[Any]]:  # fmt: skip
    import time

    from agentic.eval.runner import Evaluator, Options, summary_of
    from agentic.eval.scenarios import load_all, resolve_model, select
    from agentic.observe.progress import EvalProgress
    from agentic.workspace import find_repo

    chosen = select(load_all(paths), tags)
    if not chosen:
        raise UsageError(f"no scenario has the tag {' or '.join(map(repr, tags))}")
    try:
        rate_db: Path | None = find_repo(Path.cwd()).state_dir / "ratelimits.db"
    except UsageError:
        rate_db = None  # not run from a repository: the eval's attempts share a file of their own
    options = Options(repeats, concurrency, resolve_model(model, Path.cwd()) if model else None, workdir, rate_db)
    attempts = sum(repeats or s.repeats for s in chosen)
    err.print(f"eval: {len(chosen)} scenarios, {attempts} attempts, {concurrency} at a time")
    started = time.time()
    with Evaluator(chosen, options) as evaluator, EvalProgress(err, attempts) as progress:
        results = evaluator.run(progress)
        summary = summary_of(evaluator, results, started, [str(p) for p in paths])
    return summary, chosen


@eval_app.command("run")
def eval_run(
    paths: ScenarioPaths = None,
    repeats: RepeatsOpt = None,
    concurrency: ConcurrencyOpt = 2,
    model: EvalModelOpt = None,
    tag: TagOpt = None,
    baseline: Annotated[Path | None, typer.Option("--baseline", help="A summary (--json or bless) to compare with.")] = None,
    max_drop: MaxDropOpt = 0.05,
    max_error_rate: ErrorRateOpt = 0.0,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the versioned JSON summary here.")] = None,
    junit_file: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here (a test case per scenario).")] = None,
    markdown_file: Annotated[Path | None, typer.Option("--markdown", help="Write a Markdown report here.")] = None,
    html_file: Annotated[Path | None, typer.Option("--html", help="Write a standalone HTML report here.")] = None,
    workdir: WorkdirOpt = None,
) -> None:
    """Run every scenario k times, each attempt a full governed run; report and judge the results.

    Exit codes: 0 ok; 1 a regression against --baseline (a scenario that passed now fails, or the mean
    pass rate dropped more than --max-drop), a scenario below its min_pass_rate (without a baseline, or
    new since it), or more errored attempts than --max-error-rate; 2 bad input; 130 interrupted.

    Example: agentic eval scenarios/ --repeats 3 --baseline eval-baseline.json --markdown eval.md
    """
    from rich.markup import escape

    import agentic.eval as evalstats
    from agentic.eval.verdict import decide, notify_end
    from agentic.reports.summary import clean

    base = evalstats.load_summary(baseline) if baseline is not None else None
    summary, chosen = _run_eval(paths or [Path("scenarios")], tag or [], repeats, concurrency, model, workdir)
    comparison = evalstats.compare(summary, base, max_drop=max_drop) if base is not None else None
    decision = decide(summary, chosen, comparison, max_error_rate)
    writers = ((json_file, lambda p: evalstats.dump_summary(summary, p)),
               (junit_file, lambda p: evalstats.write_junit(summary, p, comparison)),
               (markdown_file, lambda p: evalstats.write_markdown(summary, p, comparison)),
               (html_file, lambda p: evalstats.write_html(summary, p, comparison)))  # fmt: skip
    for path, write in writers:
        if path is not None:
            write(path)
    out.print(evalstats.render_table(summary, comparison, out.width))
    for problem in decision.problems:
        out.print(f"[red]✗[/] {escape(clean(problem))}", soft_wrap=True)
    verdict = "[bold green]eval ok[/]" if decision.ok else f"[bold red]eval failed[/] ({len(decision.problems)} problems)"
    out.print(f"{verdict} · fingerprint {summary.fingerprint['sha256'][:12]}")
    notify_end(summary, decision, Path.cwd())
    raise typer.Exit(decision.exit_code)


@eval_app.command("bless")
def eval_bless(
    paths: ScenarioPaths = None,
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the baseline.")] = Path("eval-baseline.json"),
    from_file: Annotated[Path | None, typer.Option("--from", help="Bless this --json result instead of running.")] = None,
    repeats: RepeatsOpt = None,
    concurrency: ConcurrencyOpt = 2,
    model: EvalModelOpt = None,
    tag: TagOpt = None,
    max_error_rate: ErrorRateOpt = 0.0,
    workdir: WorkdirOpt = None,
) -> None:
    """Write a baseline for `agentic eval --baseline`: run the scenarios, or bless a --json result.

    The result is saved as it is, failing scenarios included. Refused (exit 1, nothing written) when
    more attempts errored than --max-error-rate allows: errors measured nothing. Exit 2 for bad input.

    Example: agentic eval bless scenarios/ --repeats 3 --out eval-baseline.json
    """
    from rich.markup import escape

    import agentic.eval as evalstats
    from agentic.eval.verdict import error_rate_problems

    if from_file is not None:
        if paths:
            raise UsageError("--from blesses an existing result: give no scenario paths with it")
        summary = evalstats.load_summary(from_file)
    else:
        summary, _ = _run_eval(paths or [Path("scenarios")], tag or [], repeats, concurrency, model, workdir)
        out.print(evalstats.render_table(summary, width=out.width))
    problems = error_rate_problems(summary, max_error_rate)
    for problem in problems:
        out.print(f"[red]✗[/] {escape(problem)}; the baseline is not written")
    if problems:
        raise typer.Exit(1)
    evalstats.dump_summary(summary, out_file)
    out.print(f"baseline written to {escape(str(out_file))}: {escape(evalstats.headline(summary))}", soft_wrap=True)


def _render_error(exc: AgenticError) -> None:
    from rich.text import Text

    from agentic.reports.summary import inert

    label = "configuration error" if isinstance(exc, ConfigError) else "error"
    err.print(Text.assemble((f"{label}:", "bold red"), " ", inert(exc.message)), soft_wrap=True)
    if exc.hint:
        err.print(Text.assemble(("hint:", "dim"), " ", inert(exc.hint)), soft_wrap=True)


def main() -> None:
    """Entry point: the one place errors become messages and exit codes."""
    for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 prints escaped, never crashes
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    try:
        app()
    except AgenticError as exc:
        _render_error(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
