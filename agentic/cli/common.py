"""What the command modules share: the two consoles and the options several commands take."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


@functools.cache
def out() -> Console:
    """The console of standard output, made on first use: a Console reads the environment (COLUMNS,
    NO_COLOR, FORCE_COLOR...) once, when it is made, so it is not made when the CLI is imported."""
    return Console(highlight=False)


@functools.cache
def err() -> Console:
    """The console of standard error (made on first use, as out())."""
    return Console(stderr=True, highlight=False)


RepoOpt = Annotated[Path, typer.Option("--repo", "-C", help="Repository to work in (default: the current one).")]
RunArg = Annotated[str, typer.Argument(metavar="RUN", help="Run id, a unique prefix, or 'last'.")]
UnsafeOpt = Annotated[
    bool, typer.Option("--unsafe-no-sandbox", help="Run commands without isolation (recorded in the journal).")
]
SummaryOpt = Annotated[bool, typer.Option(
    "--json", help="Stream JSON events on stdout, one per line; the last line is the summary object."
)]  # fmt: skip
