"""`agentic contract explain`: what the contract decides for a tool call, and why.

A call is a tool name and its arguments. For `run_command` the subject is a script, and the
decision lists every simple command and every file a redirection writes, each with its verdict and
rule; for file tools it is a path. `explain_batch` decides JSON lines `{"tool": ..., "args": {...}}`
one by one, one JSON decision a line, for CI and benchmarks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from agentic.errors import UsageError
from agentic.policy import engine as policy
from agentic.policy.contract import Contract
from agentic.policy.decision import Decision


def arguments(kind: str, subject: str | None) -> dict[str, Any]:
    """A tool's arguments from the one subject given on the command line."""
    if kind == "command":
        if not subject:
            raise UsageError("give the script to explain", hint="agentic contract explain run_command 'pytest -q'")
        return {"command": subject}
    if kind in ("read", "write"):
        if not subject:
            raise UsageError("give the path to explain", hint="agentic contract explain write_file src/app.py")
        return {"path": subject}
    if kind == "tests":
        return {"target": subject} if subject else {}
    return {}


def _kind(kinds: Mapping[str, str], tool: str) -> str:
    if tool not in kinds:
        raise UsageError(f"unknown tool {tool!r}", hint=f"the tools are: {', '.join(sorted(kinds))}")
    return kinds[tool]


def explain(contract: Contract, kinds: Mapping[str, str], tool: str, args: dict[str, Any]) -> Decision:
    return policy.decide(contract, tool, _kind(kinds, tool), args)


def explain_subject(contract: Contract, kinds: Mapping[str, str], tool: str, subject: str | None) -> Decision:
    """The decision for a call given on the command line: a tool and its one subject."""
    return policy.decide(contract, tool, (kind := _kind(kinds, tool)), arguments(kind, subject))


def explain_batch(contract: Contract, kinds: Mapping[str, str], lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """One decision (or {"error": ...}) for each JSON line {"tool": ..., "args": {...}}; blank lines are skipped."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            call = json.loads(line)
            if not isinstance(call, dict) or not isinstance(call.get("tool"), str):
                raise ValueError('each line is an object {"tool": NAME, "args": {...}}')
            args = call.get("args") or {}
            if not isinstance(args, dict):
                raise ValueError("args must be an object")
            yield explain(contract, kinds, call["tool"], args).explain()
        except (ValueError, UsageError) as exc:
            message = exc.message if isinstance(exc, UsageError) else str(exc)
            yield {"error": f"line {number}: {message}"}
