"""What the command modules share: the two consoles and the options several commands take."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.console import Console


class _FirstUse:
    """A rich Console made when it is first used, not when the CLI is imported: a Console reads the
    environment (COLUMNS, NO_COLOR, FORCE_COLOR...) once, when it is made."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            self._console = Console(**self._options)
        return getattr(self._console, name)


out = cast(Console, _FirstUse(highlight=False))
err = cast(Console, _FirstUse(stderr=True, highlight=False))

RepoOpt = Annotated[Path, typer.Option("--repo", "-C", help="Repository to work in (default: the current one).")]
RunArg = Annotated[str, typer.Argument(metavar="RUN", help="Run id, a unique prefix, or 'last'.")]
UnsafeOpt = Annotated[
    bool, typer.Option("--unsafe-no-sandbox", help="Run commands without isolation (recorded in the journal).")
]
SummaryOpt = Annotated[bool, typer.Option(
    "--json", help="Stream JSON events on stdout, one per line; the last line is the summary object."
)]  # fmt: skip
