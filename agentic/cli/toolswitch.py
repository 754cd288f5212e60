"""`agentic tools`: list the built-in tools, and the kill switch that disables or enables one."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from agentic.config.settings import load_settings
from agentic.errors import ConfigError, UsageError
from agentic.policy.contract import load_contract
from agentic.policy.mcpservers import split_name
from agentic.reports.summary import inert
from agentic.tools import builtin_tools

from .common import RepoOpt, emit, out
from .runindex import open_store

app = typer.Typer(
    name="tools", help="List tools; the kill switch: disable or enable a tool, also for runs in progress.",
    no_args_is_help=True, rich_markup_mode="rich",
)  # fmt: skip


def _tool_name(name: str) -> str:
    """A built-in tool, an MCP server's tool (mcp__SERVER__TOOL) or all of a server's (mcp__SERVER__*, mcp__*)."""
    if name in builtin_tools() or split_name(name) is not None or name == "mcp__*":
        return name
    raise UsageError(f"unknown tool {name!r}",
                     hint="see `agentic tools list`; an MCP server's tools are mcp__SERVER__TOOL or mcp__SERVER__*")  # fmt: skip


@app.command("list")
def tools_list(
    json_out: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
    repo: RepoOpt = Path("."),
) -> None:
    """The built-in tools, whether the kill switch disabled them, and what the contract allows.

    Example: agentic tools list
    """
    info, store = open_store(repo)
    switches = store.disabled_tools()
    try:
        contract = load_contract(load_settings(info.root).contract, info.root)
    except ConfigError:
        contract = load_contract("default", None)
    rows: list[dict[str, Any]] = []
    for name, tool in builtin_tools().items():
        rule = contract.tools.get(name)
        verdicts = [v for v in ("allow", "ask", "deny") if rule is not None and getattr(rule, v)]
        switch = switches.get(name)
        rows.append({"tool": name, "kind": tool.kind, "enabled": switch is None,
                     "disabled_by": switch and switch["disabled_by"], "reason": switch and switch["reason"],
                     "contract": "/".join(verdicts) or ("always" if tool.kind == "control" else "no rule: denied")})  # fmt: skip
    if json_out:
        for row in rows:
            emit(json.dumps(row))
        return
    table = Table(title=inert(f"tools · contract {contract.source}"))
    for col in ("tool", "kind", "status", "contract rules"):
        table.add_column(col)
    for row in rows:
        status = inert("enabled", style="green") if row["enabled"] else inert(f"disabled by {row['disabled_by']}",
                                                                                style="red")  # fmt: skip
        table.add_row(row["tool"], row["kind"], status, inert(row["contract"]))
    out().print(table)


@app.command("disable")
def tools_disable(
    name: Annotated[str, typer.Argument(help="The tool to disable, e.g. run_command.")],
    reason: Annotated[str, typer.Option("--reason", help="Why; shown to the model and in the audit.")] = "",
    repo: RepoOpt = Path("."),
) -> None:
    """Disable a tool in this repository from the very next call on, including runs in progress.

    Example: agentic tools disable run_command --reason "investigating a runaway command"
    """
    _, store = open_store(repo)
    store.disable_tool(_tool_name(name), getpass.getuser(), reason)
    out().print(f"{escape(name)} is disabled: every call is refused until `agentic tools enable {escape(name)}`")


@app.command("enable")
def tools_enable(
    name: Annotated[str, typer.Argument(help="The tool to enable again.")],
    repo: RepoOpt = Path("."),
) -> None:
    """Enable a tool the kill switch disabled.

    Example: agentic tools enable run_command
    """
    _, store = open_store(repo)
    was = store.enable_tool(_tool_name(name))
    out().print(f"{escape(name)} is enabled" + ("" if was else " (it was not disabled)"))
