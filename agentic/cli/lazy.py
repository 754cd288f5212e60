"""A command group that imports a command's module only when that command is used.

`agentic --help` lists every command from the one-line summaries it is given, without importing the
modules (and so the run loop, the sandbox, the eval, …) behind them; `agentic run` imports the module
of `run` and nothing else. A test checks that each summary is the first paragraph of its command's help.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
import typer.core
import typer.main

LISTING = "agentic.listing"  # set in the context while the group's own help is being written


@dataclass(frozen=True)
class LazyCommand:
    """Where a command is defined: a `typer.Typer` in a module, and the command in it (None: the Typer
    is itself the group, e.g. `agentic eval`). `summary` is the line `agentic --help` shows for it."""

    module: str
    summary: str
    command: str | None = None
    typer_name: str = "app"

    def load(self) -> typer.core.TyperCommand | typer.core.TyperGroup:
        found = getattr(importlib.import_module(self.module), self.typer_name)
        group = typer.main.get_group(found)
        if self.command is None:
            return group
        command = group.commands[self.command]
        assert isinstance(command, typer.core.TyperCommand | typer.core.TyperGroup)
        return command


class LazyGroup(typer.core.TyperGroup):
    """The commands of `lazy`, in its order, loaded when first asked for (subclasses set `lazy`)."""

    lazy: ClassVar[Mapping[str, LazyCommand]] = {}

    def list_commands(self, ctx: Any) -> list[str]:
        return list(dict.fromkeys([*self.lazy, *self.commands]))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        entry = self.lazy.get(cmd_name)
        if entry is None:
            return None
        if ctx.meta.get(LISTING):  # a line of this group's help: the summary, without importing the module
            return typer.core.TyperCommand(cmd_name, help=entry.summary)
        self.commands[cmd_name] = entry.load()
        return self.commands[cmd_name]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        ctx.meta[LISTING] = True
        try:
            super().format_help(ctx, formatter)
        finally:
            ctx.meta[LISTING] = False

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """As typer's, its "did you mean" drawn from every command, loaded or not."""
        name = args[0] if args else ""
        known = self.list_commands(ctx)
        if name in known or not name or name.startswith("-") or ctx.resilient_parsing:
            return super().resolve_command(ctx, args)
        matches = difflib.get_close_matches(name, known) if self.suggest_commands else []
        ctx.fail(f"No such command {name!r}." + (f" Did you mean {', '.join(map(repr, matches))}?" if matches else ""))
