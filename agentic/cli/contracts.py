"""The commands that apply a contract outside a run: `gate`, `contract check` and `contract explain`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from agentic.config.settings import load_settings
from agentic.errors import AgenticError, UsageError
from agentic.gate.hook import GateRequest, Printer, run_gate, write_reports
from agentic.policy.contract import AUDIENCES, PRESETS, Contract, load_contract, load_contract_file
from agentic.policy.engine import check_examples
from agentic.policy.explain import explain_batch, explain_subject
from agentic.reports.summary import clean, inert, render_decision
from agentic.tools import builtin_tools
from agentic.workspace import find_repo

from .common import RepoOpt, UnsafeOpt, err, out

app = typer.Typer(rich_markup_mode="rich")
contract_app = typer.Typer(name="contract", help="Validate contracts.", no_args_is_help=True, rich_markup_mode="rich")


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
    only: Annotated[list[str] | None, typer.Option("--only", metavar="CHECK",
                    help="Run only this check of the contract (repeatable).")] = None,
    skip: Annotated[list[str] | None, typer.Option("--skip", metavar="CHECK",
                    help="Do not run this check of the contract (repeatable).")] = None,
    binding: Annotated[str, typer.Option("--for", metavar="person|agent",
                       help="Whose change this is: the checks that bind them run (a run's gate is the agent's).")] = "person",
    unsafe_no_sandbox: UnsafeOpt = False,
    repo: RepoOpt = Path("."),
) -> None:
    """Check the working tree (tracked and untracked, not ignored files) or the staged change against the
    contract's invariants: the same checks a run's gate makes, on a clean checkout, compared with HEAD.

    Verdicts are cached by tree, contract and checks: an unchanged tree is answered from the cache.
    Exit codes: 0 every check passed, 1 a check failed, 2 usage, configuration or sandbox error.

    --only CHECK and --skip CHECK choose among the contract's checks by id. A person's change (the
    default) is held to the checks that bind a person; --for agent to the ones a run's gate makes.

    Example: agentic gate --staged --junit gate.xml
    """
    if binding not in AUDIENCES:
        raise UsageError(f"--for {binding!r}: expected one of {', '.join(AUDIENCES)}")
    console = err() if json_file is not None and str(json_file) == "-" else out()
    if unsafe_no_sandbox:
        err().print("[bold red]warning:[/] --unsafe-no-sandbox: commands run unconfined, with your user's rights")
    printer = Printer(console)
    request = GateRequest(repo, staged, contract, use_cache=not no_cache, unsafe_no_sandbox=unsafe_no_sandbox,
                          only=tuple(only or ()), skip=tuple(skip or ()), binding=binding)  # fmt: skip
    result = run_gate(request, on_check=printer.check)
    for note in result.notes:
        err().print(inert(note, style="dim"))
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
    if file is not None:
        is_preset = str(file) in PRESETS and not file.exists()
        loaded = load_contract(str(file), None) if is_preset else load_contract_file(file)
    else:
        info = find_repo(repo)
        loaded = load_contract(load_settings(info.root).contract, info.root)
    checks = check_examples(loaded, {name: tool.kind for name, tool in builtin_tools().items()})
    failed = [check for check in checks if not check.ok]
    for check in failed:
        out().print(f"[red]✗[/] {escape(clean(check.describe()))}", soft_wrap=True)
    if failed:
        out().print(f"{escape(clean(loaded.source))}: {len(failed)} of {len(checks)} examples do not get "
                  "their expected verdict", soft_wrap=True)  # fmt: skip
        raise typer.Exit(1)
    out().print(f"[green]✓[/] {escape(clean(loaded.source))}: valid ({len(loaded.tools)} tool rules, "
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
    loaded = _contract_for(contract, repo)
    kinds = {name: t.kind for name, t in builtin_tools().items()}
    if batch:
        for line in explain_batch(loaded, kinds, sys.stdin):
            sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        return
    decision = explain_subject(loaded, kinds, tool, subject)
    if json_out:
        out().print_json(json.dumps(decision.explain()))
        return
    render_decision(out(), decision)


def _contract_for(ref: str | None, repo: Path) -> Contract:
    """A contract named on the command line (file or preset), else the repository's, else the default preset."""
    if ref is not None:
        return load_contract(ref, None) if ref in PRESETS and not Path(ref).exists() else load_contract_file(Path(ref))
    try:
        info = find_repo(repo)
    except AgenticError:
        return load_contract("default", None)
    return load_contract(load_settings(info.root).contract, info.root)
