"""What the command modules share: the two consoles and the options several commands take."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.table import Table

from agentic.errors import UsageError
from agentic.util.pipes import silence, write_line


class _Console(Console):
    """A console whose reader may go away (`agentic run … | head`): rich's default raises SystemExit
    then, which ended a run in the middle as an internal error. Here printing stops, the run goes on."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        silence(self.file)

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """A table printed unwrapped (see _plain_unless_terminal) is laid out as wide as its content:
        every cell on one line, whole, rather than folded at 80 columns."""
        if not (self.soft_wrap and any(_has_table(o) for o in objects)):
            super().print(*objects, **kwargs)
            return
        width, self._width = self._width, UNWRAPPED_WIDTH  # print's own width= is capped at the console's
        try:
            super().print(*objects, **kwargs)
        finally:
            self._width = width


UNWRAPPED_WIDTH = 100_000  # a table's width when the output is not a terminal: its content's


def _has_table(renderable: Any) -> bool:
    if isinstance(renderable, Table):
        return True
    return isinstance(renderable, Group) and any(_has_table(r) for r in renderable.renderables)


@functools.cache
def out() -> Console:
    """The console of standard output, made on first use: a Console reads the environment (COLUMNS,
    NO_COLOR, FORCE_COLOR...) once, when it is made, so it is not made when the CLI is imported."""
    return _plain_unless_terminal(_Console(highlight=False))


@functools.cache
def err() -> Console:
    """The console of standard error (made on first use, as out())."""
    return _plain_unless_terminal(_Console(stderr=True, highlight=False))


def _plain_unless_terminal(console: Console) -> Console:
    """Output that is not a terminal (a pipe, a CI log) is never wrapped at the console's width (80
    columns there, by default): a run id, a path or a command stays on one line, whole. COLUMNS set
    in the environment still says how wide the reader's display is."""
    console.soft_wrap = not console.is_terminal and not os.environ.get("COLUMNS", "").strip().isdigit()
    return console


def emit(line: str) -> None:
    """One line for machines (JSON) on standard output; a reader that went away is not an error."""
    write_line(sys.stdout, line)


RepoOpt = Annotated[Path, typer.Option("--repo", "-C", help="Repository to work in (default: the current one).")]
RunArg = Annotated[str, typer.Argument(metavar="RUN", help="Run id, a unique prefix, or 'last'.")]
UnsafeOpt = Annotated[
    bool, typer.Option("--unsafe-no-sandbox", help="Run commands without isolation (recorded in the journal).")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Nothing while the run works; its outcome at the end.")]
VerboseOpt = Annotated[bool, typer.Option(
    "--verbose", "-v", help="The model's whole text and the first lines of each tool's output and failed check in "
    "the run's transcript."
)]  # fmt: skip


def verbosity(quiet: bool, verbose: bool) -> str:
    """"quiet", "verbose" or "normal" from the two flags (UsageError when both are given)."""
    if quiet and verbose:
        raise UsageError("--quiet and --verbose contradict each other: give one")
    return "quiet" if quiet else "verbose" if verbose else "normal"


SummaryOpt = Annotated[bool, typer.Option(
    "--json", help="Stream JSON events on stdout, one per line; the last line is the summary object."
)]  # fmt: skip
