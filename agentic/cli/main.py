"""`agentic`: the commands wired together, and the one place where errors become messages and exit codes.

Each command lives in a module of this package, imported only when it runs (see `lazy`); the exit
codes are in the package's docstring.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Annotated

import typer
from rich.text import Text

from agentic import __version__
from agentic.errors import AgenticError, ConfigError
from agentic.reports.summary import inert

from .common import err, out
from .lazy import LazyCommand, LazyGroup


class Commands(LazyGroup):
    """`agentic`'s commands in the order `--help` lists them; the groups (contract, journal, tools, eval) last."""

    lazy = {
        "run": LazyCommand("agentic.cli.running", "Run one governed task: plan → edit → test in an isolated "
                           "worktree, accepted only if the gate passes.", "run"),
        "runs": LazyCommand("agentic.cli.history", "List the runs of this repository, newest first.", "runs"),
        "show": LazyCommand("agentic.cli.history", "Show a run's timeline from its journal: every model call, tool "
                            "call and gate with its time, duration, decision (verdict, who decided, rule), tokens "
                            "and cost; errors in red; totals at the end.", "show"),
        "audit": LazyCommand("agentic.cli.history", "Audit a run from its journal alone: who started it, model and "
                             "settings, every tool call with its decision and who made it, files read and written, "
                             "commands and exit statuses, refusals, gate verdicts, final status and totals; the "
                             "journal's hash chain is verified first.", "audit"),
        "diff": LazyCommand("agentic.cli.history", "Show a run's change against its base commit, as `git diff` "
                            "prints it (the commit of an accepted run, else the last tree its gate judged).", "diff"),
        "prune": LazyCommand("agentic.cli.pruning", "Remove the branches and worktrees of old runs (their journals "
                             "only with --journals, and then also the state of evals untouched as long: what "
                             "`agentic eval --resume` reads).", "prune"),
        "apply": LazyCommand("agentic.cli.history", "Bring an accepted run's commit onto your current branch "
                             "(fast-forward or cherry-pick).", "apply"),
        "resume": LazyCommand("agentic.cli.running", "Go on with an interrupted, failed or crashed run from its "
                              "journal, without repeating its side effects.", "resume"),
        "fork": LazyCommand("agentic.cli.running", "Start a new run that shares a run's first N steps, then "
                            "continues live (another prompt or model).", "fork"),
        "replay": LazyCommand("agentic.cli.running", "Re-execute a run from its base commit with its recorded model "
                              "answers; report the first divergence.", "replay"),
        "gate": LazyCommand("agentic.cli.contracts", "Check the working tree (tracked and untracked, not ignored "
                            "files) or the staged change against the contract's invariants: the same checks a run's "
                            "gate makes, on a clean checkout, compared with HEAD.", "gate"),
        "doctor": LazyCommand("agentic.cli.onboarding", "Check git, the sandbox level and what it blocks, settings, "
                              "contract, the model's key and endpoint, and run the contract's test command once in "
                              "the sandbox on a clean checkout of HEAD (the cause and a fix when its runner does not "
                              "start).", "doctor"),
        "init": LazyCommand("agentic.cli.onboarding", "Set up a repository: write .agentic.yaml and a contract from "
                            "a preset, exclude .agentic/ from git.", "init"),
        "demo": LazyCommand("agentic.cli.onboarding", "Offline showcase: a throw-away repo with a bug, a scripted "
                            "model, the whole loop, the journal.", "demo"),
        "contract": LazyCommand("agentic.cli.contracts", "Validate contracts.", typer_name="contract_app"),
        "journal": LazyCommand("agentic.cli.history", "Check run journals.", typer_name="journal_app"),
        "tools": LazyCommand("agentic.cli.toolswitch", "List tools; the kill switch: disable or enable a tool, also "
                             "for runs in progress."),
        "eval": LazyCommand("agentic.cli.evals", "Run eval scenarios k times each; report pass rates; compare with a "
                            "baseline. `agentic eval [PATHS]` is `agentic eval run [PATHS]`."),
    }  # fmt: skip


app = typer.Typer(
    cls=Commands,
    name="agentic",
    help="Let a language model change a git repository under a contract: permissions, a sandbox, a gate and a journal.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        out().print(f"agentic {__version__}")
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


def render_error(exc: AgenticError) -> None:
    """An error as a person sees it: its message, then its hint; never a traceback."""
    label = "configuration error" if isinstance(exc, ConfigError) else "error"
    err().print(Text.assemble((f"{label}:", "bold red"), " ", inert(exc.message)), soft_wrap=True)
    if exc.hint:
        err().print(Text.assemble(("hint:", "dim"), " ", inert(exc.hint)), soft_wrap=True)


def main() -> None:
    """Entry point: the one place errors become messages and exit codes."""
    for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 prints escaped, never crashes
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    try:
        app()
    except AgenticError as exc:
        render_error(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err().print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
