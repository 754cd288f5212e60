"""The commands that read the runs: `runs`, `show`, `audit`, `apply` and `journal verify`."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from agentic.errors import UsageError
from agentic.git.cmd import run_git_bytes
from agentic.journal.anchor import check
from agentic.journal.records import verify
from agentic.journal.tape import Tape
from agentic.reports.audit import anchor_note, audit_run, commit_table, provenance, render
from agentic.reports.html import write_run_html
from agentic.reports.stepview import step_view, steps_of
from agentic.reports.summary import WIDE, inert, one_line, timeline, timeline_view, totals
from agentic.util.pipes import write_bytes
from agentic.workspace import apply_commit

from .common import RepoOpt, RunArg, emit, err, out
from .runindex import get_run, open_store

app = typer.Typer(rich_markup_mode="rich")
journal_app = typer.Typer(name="journal", help="Check run journals.", no_args_is_help=True, rich_markup_mode="rich")


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
    _, store = open_store(repo)
    rows = store.list_runs(status=status, limit=limit)
    if json_out:
        for row in rows:
            emit(json.dumps(row))
        return
    cells = [_run_cells(row) for row in rows]
    if not out().is_terminal or out().width < WIDE:  # plain lines for pipes, logs and narrow terminals: nothing cut
        for line in cells:
            out().print(Text("  ").join(inert(cell) for cell in line), soft_wrap=True)
        return
    table = Table(title="runs", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in RUN_COLUMNS:
        # the id whole, always (it is what every other command takes); the task and model wrap
        table.add_column(col, no_wrap=col not in ("model", "task"), overflow="fold",
                         justify="right" if col in ("steps", "tokens", "cost") else "left")  # fmt: skip
    for line in cells:
        table.add_row(*(inert(cell) for cell in line))
    out().print(table)


RUN_COLUMNS = ("run", "started", "status", "steps", "tokens", "cost", "model", "task")


def _run_cells(row: dict[str, Any]) -> list[str]:
    started = datetime.datetime.fromtimestamp(row["started_at"]).strftime("%Y-%m-%d %H:%M")
    cost = row.get("cost_usd")
    return [row["id"], started, row["status"], str(row["steps"]), str(row["input_tokens"] + row["output_tokens"]),
            "?" if cost is None else f"${cost:.4f}", row["model"], one_line(row["task"], 60)]  # fmt: skip


@app.command()
def show(
    run_id: RunArg,
    json_out: Annotated[bool, typer.Option("--json", help="The timeline as JSON.")] = False,
    html_out: Annotated[
        Path | None, typer.Option("--html", metavar="FILE", help="Also write a standalone HTML report to FILE.")
    ] = None,
    step: Annotated[int | None, typer.Option("--step", metavar="N", help="Only step N, in full: the model's "
                    "text, each call with its decision and all it returned, the gate's checks with their output.")] = None,
    repo: RepoOpt = Path("."),
) -> None:
    """Show a run's timeline from its journal: every model call, tool call and gate with its time,
    duration, decision (verdict, who decided, rule), tokens and cost; errors in red; totals at the end.

    --json prints one object: {"run": index row, "timeline": [rows], "totals": {...}}.
    --html FILE writes a standalone page (no network assets): the steps with the model's messages and
    tool calls, decisions, the final change's diff, gate results and usage over time.

    Example: agentic show last --html run.html
    """
    info, store = open_store(repo)
    row = get_run(store, run_id)
    if step is not None:
        shown = step_view(Path(row["journal"]), step)
        if shown is None:
            steps = steps_of(Path(row["journal"]))
            raise UsageError(f"run {row['id']} has no step {step}",
                             hint=f"its steps are {steps[0]} to {steps[-1]}" if steps else "it has no steps")  # fmt: skip
        out().print(inert(f"run {row['id']} · step {step}", style="bold"))
        out().print(shown)
        return
    if html_out is not None:
        write_run_html(Path(row["journal"]), html_out, repo=info.root, run=row)
    rows = timeline(Path(row["journal"]))
    paths = provenance(Path(row["journal"]))
    if json_out:
        emit(json.dumps({"run": row, "timeline": rows, "totals": totals(rows), "committed": paths}))
        return
    title = f"run {row['id']} · {row['status']}"
    out().print(timeline_view(rows, title, out()))
    if paths:
        out().print(commit_table(paths))
    out().print(inert(f"journal: {row['journal']}"))
    if html_out is not None:
        out().print(inert(f"report: {html_out}"))


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
    _, store = open_store(repo)
    row = get_run(store, run_id)
    report = audit_run(Path(row["journal"]), check(store, row["id"], Path(row["journal"])).to_dict())
    if json_out:
        emit(json.dumps(report))
    else:
        render(report, out())
    raise typer.Exit(0 if report["journal"]["ok"] else 1)


@app.command()
def apply(
    run_id: RunArg,
    repo: RepoOpt = Path("."),
) -> None:
    """Bring an accepted run's commit onto your current branch (fast-forward or cherry-pick).

    Example: agentic apply last
    """
    info, store = open_store(repo)
    row = get_run(store, run_id)
    if row["status"] != "accepted" or not row["commit_sha"]:
        raise UsageError(f"run {row['id']} is {row['status']}: only accepted runs can be applied")
    head = apply_commit(info.root, row["commit_sha"], row["base_commit"])
    out().print(inert(f"applied run {row['id']}: your branch is now at {head[:12]}"))


@app.command()
def diff(
    run_id: RunArg,
    stat: Annotated[bool, typer.Option("--stat", help="Only the files changed, with their line counts.")] = False,
    repo: RepoOpt = Path("."),
) -> None:
    """Show a run's change against its base commit, as `git diff` prints it (the commit of an accepted run, else the last tree its gate judged).

    `agentic diff RUN | git apply` applies it to a checkout of the base.

    Example: agentic diff last --stat
    """
    info, store = open_store(repo)
    row = get_run(store, run_id)
    journal = Path(row["journal"])
    gates = Tape.read(journal).gates if journal.is_file() else []
    target = row["commit_sha"] or (gates[-1].tree if gates else None)
    if not target:
        raise UsageError(f"run {row['id']} has no change to show: it was never judged by the gate",
                         hint=f"its steps, with what each tool changed: agentic show {row['id']}")  # fmt: skip
    shown = run_git_bytes(["diff", "--no-ext-diff", "--no-textconv", "--stat" if stat else "--binary",
                           row["base_commit"], target, "--"], info.root)  # fmt: skip
    if shown.returncode != 0:
        why = shown.stderr.decode("utf-8", "replace").strip()
        raise UsageError(f"the change of run {row['id']} is no longer in this repository: {why}",
                         hint="git may have pruned its objects (a rejected run's tree is kept by no branch)")  # fmt: skip
    write_bytes(shown.stdout)


@journal_app.command("verify")
def journal_verify(
    run_id: RunArg,
    repo: RepoOpt = Path("."),
) -> None:
    """Verify a run's journal: the hash chain, sequence numbers and blobs. Exit 1 at the first bad record.

    Example: agentic journal verify last
    """
    _, store = open_store(repo)
    row = get_run(store, run_id)
    journal = Path(row["journal"])
    anchored = check(store, row["id"], journal)
    result = verify(journal) if journal.is_file() else None
    if result is not None and result.ok and anchored.ok:
        tail = " (a torn last line from a crash was ignored)" if result.torn_tail else ""
        out().print(inert(f"✓ run {row['id']}: {result.records} records, chain and blobs intact"
                        f"{anchor_note(anchored.to_dict())}{tail}", style="green"))  # fmt: skip
        return
    problem = result.problem if result is not None and not result.ok else anchored.problem
    err().print(inert(f"✗ run {row['id']}: journal tampered or corrupt: {problem}", style="bold red"))
    raise typer.Exit(1)
