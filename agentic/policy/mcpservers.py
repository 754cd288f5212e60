"""The MCP servers a contract declares (`mcp: {servers: …}`), and how their tools are named and ruled.

A server's tool reaches the model as `mcp__SERVER__TOOL`; the contract's `tools` rules decide it like
any other tool, by its exact name or a glob (`mcp__tracker__*`), the exact name first, then the
longest matching glob. A tool no rule names is denied. Connecting and calling is agentic.tools.mcp.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentic.policy.hooks import repository_files
from agentic.util import globs, yamlfile

PREFIX = "mcp__"
SERVER_NAME = re.compile(r"[A-Za-z0-9-]+")
DEFAULT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class McpServer:
    name: str
    command: tuple[str, ...] = ()  # stdio: run in the sandbox
    env: tuple[tuple[str, str], ...] = ()  # stdio: (variable, the harness's variable it comes from)
    worktree: str = "none"  # stdio: none, read or write
    network: bool = False  # stdio: the host's network reachable from its sandbox
    url: str = ""  # streamable HTTP
    headers: tuple[tuple[str, str], ...] = ()  # HTTP: (header, the harness's variable it comes from)
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def transport(self) -> str:
        return "stdio" if self.command else "streamable-http"


def parse_servers(doc: yamlfile.Document, data: dict[str, Any],
                  repo_root: Path | None) -> tuple[tuple[McpServer, ...], list[str]]:  # fmt: skip
    """The contract's servers (already schema-checked), and the repository files their commands name."""
    servers, paths = [], []
    for name, item in (data.get("servers") or {}).items():
        if not SERVER_NAME.fullmatch(name):
            raise doc.error(f"MCP server name {name!r}: letters, digits and - only (its tools are "
                            f"mcp__{name}__TOOL)", ("mcp", "servers", name))  # fmt: skip
        command = tuple(item.get("command") or ())
        servers.append(McpServer(
            name, command, env=tuple((item.get("env") or {}).items()), worktree=item.get("worktree", "none"),
            network=bool(item.get("network", False)), url=item.get("url", ""),
            headers=tuple((item.get("headers") or {}).items()), timeout_s=float(item.get("timeout_s", DEFAULT_TIMEOUT_S)),
        ))
        paths += repository_files(command, repo_root)
    return tuple(servers), paths


def tool_name(server: str, tool: str) -> str:
    return f"{PREFIX}{server}__{tool}"


def split_name(name: str) -> tuple[str, str] | None:
    """(server, tool) of an `mcp__SERVER__TOOL` name; None for any other name."""
    if not name.startswith(PREFIX):
        return None
    server, sep, tool = name[len(PREFIX) :].partition("__")
    return (server, tool) if sep and server and tool else None


def switch_keys(tool: str) -> list[str]:
    """The kill-switch names that stop a tool: its own, and for an MCP tool `mcp__SERVER__*` and `mcp__*`."""
    parts = split_name(tool)
    return [tool] if parts is None else [tool, f"{PREFIX}{parts[0]}__*", f"{PREFIX}*"]


def rule_key(names: list[str] | tuple[str, ...], tool: str) -> str | None:
    """The `tools` key that rules `tool`: its exact name, else the longest glob that matches it."""
    if tool in names:
        return tool
    matching = [n for n in names if any(c in n for c in "*?[") and globs.match(n, tool)]
    return max(matching, key=len) if matching else None
