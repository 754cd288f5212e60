"""The commands that get a repository going: `doctor`, `init` and `demo`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.prompt import Confirm
from rich.table import Table

from agentic.config.settings import REPO_FILE
from agentic.reports.summary import inert
from agentic.run.demo import run_demo
from agentic.workspace import check_state_dir

from . import init as setup
from .common import RepoOpt, emit, out
from .doctor import check_ray, diagnose

app = typer.Typer(rich_markup_mode="rich")


@app.command()
def doctor(
    json_out: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
    quick: Annotated[bool, typer.Option("--quick", help="Skip running the test command.")] = False,
    ray: Annotated[bool, typer.Option("--ray", help="Also check every node of a Ray cluster (agentic eval --executor ray).")] = False,
    address: Annotated[str | None, typer.Option("--address", help="With --ray: the cluster (auto, HOST:PORT, ray://…).")] = None,
    repo: RepoOpt = Path("."),
) -> None:
    """Check git, the sandbox level and what it blocks, settings, contract, the model's key and endpoint,
    and run the contract's test command once in the sandbox on a clean checkout of HEAD (the cause and
    a fix when its runner does not start).

    With --ray, every node of the Ray cluster at --address (default: a local one) is asked whether
    it can sandbox commands with bubblewrap.

    Exit 0 when everything essential works, 1 otherwise.

    Example: agentic doctor --json
    """
    checks = diagnose(repo, quick=quick) + (check_ray(address) if ray else [])
    if json_out:
        for check in checks:
            emit(json.dumps(check.to_dict()))
    else:
        table = Table(title="agentic doctor")
        for col in ("", "check", "detail", "how to fix"):
            table.add_column(col)
        for check in checks:
            mark = "[green]✓[/]" if check.ok else ("[red]✗[/]" if check.essential else "[yellow]-[/]")
            table.add_row(mark, inert(check.name), inert(check.detail), inert(check.fix))
        out().print(table)
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
    root = setup.repo_root(repo)
    check_state_dir(root)  # before anything is written
    interactive = not yes and sys.stdin.isatty()
    choices = setup.choices_from_flags(root, preset, model, test_command, no_tests, contract_path,
                                       require_tests=not interactive)  # fmt: skip
    rels = [REPO_FILE, choices.contract_path]
    if interactive and not force and (found := setup.existing(root, rels)):
        force = Confirm.ask(f"{', '.join(found)} already exist(s): overwrite?", default=False, console=out())
    setup.refuse_overwrite(root, rels, force)
    for line in [] if interactive else setup.explain_detection(choices):
        out().print(escape(line), soft_wrap=True)
    if interactive:
        choices = setup.prompt_choices(root, choices, out(), ask_preset=preset is None, ask_model=model is None,
                                       ask_tests=test_command is None and not no_tests)  # fmt: skip
    result = setup.init_repository(root, choices, force=force)
    for planned in result.written:
        out().print(f"[green]wrote[/] {escape(planned.rel)} ({escape(planned.summary)})")
    out().print(f"[green]excluded[/] .agentic/ from git ({escape(str(result.exclude_file))})")
    if choices.test_command is None:
        out().print(f"[yellow]note:[/] every run is rejected until you set test_command in {escape(choices.contract_path)}")
    out().print(f"next steps:\n  git add {REPO_FILE} {escape(choices.contract_path)} && git commit -m 'agentic: setup'\n"
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
    raise typer.Exit(run_demo(directory, out()))
