"""The contract's hooks: commands run at points of a run (before a tool call's decision is final,
after its result, before the gate, after the end), inside the sandbox, each given one JSON object.

This module is what the contract says (`Hook`, `Hooks`) and what a hook's answer means for a decision
(`tightened`: a hook can refuse, or turn an allow into an ask, and never allow what the contract
refuses). Running them is agentic.agent.hooks.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentic.policy.decision import Decision
from agentic.util import globs, yamlfile

POINTS = ("pre_tool", "post_tool", "pre_finish", "run_end")
DEFAULT_TIMEOUT_S = 10.0
DENY_EXIT = 2  # as Claude Code's hooks: exit 2 refuses, standard error says why


@dataclass(frozen=True)
class Hook:
    point: str  # one of POINTS
    index: int  # its place in the contract's list for that point
    command: tuple[str, ...]
    tools: tuple[str, ...] = ("*",)  # pre_tool / post_tool: the tool names (globs) it is for
    timeout_s: float = DEFAULT_TIMEOUT_S
    write: bool = False  # may change the worktree

    @property
    def name(self) -> str:
        """How the journal and the model name it: `hooks.pre_tool[0] guard.py`."""
        return f"hooks.{self.point}[{self.index}] {shlex.join(self.command)}"

    def applies_to(self, tool: str) -> bool:
        return any(globs.match(pattern, tool) for pattern in self.tools)


@dataclass(frozen=True)
class Hooks:
    pre_tool: tuple[Hook, ...] = ()
    post_tool: tuple[Hook, ...] = ()
    pre_finish: tuple[Hook, ...] = ()
    run_end: tuple[Hook, ...] = ()
    paths: tuple[str, ...] = field(default=())  # repository files the hooks run: protected from the agent

    def at(self, point: str, tool: str | None = None) -> tuple[Hook, ...]:
        """The hooks of a point (for a tool: those that apply to it), in the contract's order."""
        hooks: tuple[Hook, ...] = getattr(self, point)
        return tuple(h for h in hooks if tool is None or h.applies_to(tool))

    def __bool__(self) -> bool:
        return any(getattr(self, point) for point in POINTS)


def parse_hooks(doc: yamlfile.Document, data: dict[str, Any], repo_root: Path | None) -> Hooks:
    """The contract's `hooks:` (already schema-checked), with the repository files they name."""
    found: dict[str, tuple[Hook, ...]] = {}
    paths: list[str] = []
    for point in POINTS:
        hooks = []
        for i, item in enumerate(data.get(point) or []):
            tools = tuple(item.get("tools") or ("*",))
            for j, pattern in enumerate(tools):
                try:
                    globs.validate(pattern)
                except ValueError as exc:
                    raise doc.error(f"bad tool glob {pattern!r}: {exc}", ("hooks", point, i, "tools", j)) from None
            command = tuple(item["command"])
            hooks.append(Hook(point, i, command, tools, float(item.get("timeout_s", DEFAULT_TIMEOUT_S)),
                              bool(item.get("write", False))))  # fmt: skip
            paths += repository_files(command, repo_root)
        found[point] = tuple(hooks)
    return Hooks(**found, paths=tuple(dict.fromkeys(paths)))


def repository_files(command: tuple[str, ...], repo_root: Path | None) -> list[str]:
    """The words of a hook's argv that name files of the repository (relative paths), as globs."""
    if repo_root is None:
        return []
    files = []
    for word in command:
        if word.startswith("-") or os.path.isabs(word) or not word.strip():
            continue
        rel = os.path.normpath(word)
        if rel.startswith("..") or rel == ".":
            continue
        if (repo_root / rel).is_file():
            files.append("".join(f"[{c}]" if c in "*?[]" else c for c in rel))  # the file itself, as a glob
    return files


def tightened(decision: Decision, verdict: str, rule: str, reason: str) -> Decision:
    """The contract's decision after a hook's answer: stricter or the same, never looser."""
    order = {"allow": 0, "ask": 1, "deny": 2}
    if verdict not in order or order[verdict] <= order[decision.verdict]:
        return decision
    return Decision("ask" if verdict == "ask" else "deny", rule, reason, "hook", decision.parts)
