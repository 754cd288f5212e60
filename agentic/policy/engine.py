"""Permission decisions: every tool call gets one before it executes.

File tools are decided on their path: protected paths (writes) → deny → ask → allow → nothing
matched (deny). The decision names the rule that made it, e.g. `tools.write_file.deny[0] ".env*"`,
so the journal and the audit can say why an action was allowed or refused.

`run_command` takes a bash script: it is parsed and every simple command and every file it writes
is decided (agentic.policy.shell.decide); a file a redirection writes is decided here, as a `write_file`
of that path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from agentic.policy.approval import Answer, Approver, Question, deny_all
from agentic.policy.contract import Contract, Example, Patterns, Rule
from agentic.policy.decision import Decision, Part, Verdict, strictest
from agentic.policy.mcpservers import rule_key
from agentic.policy.shell.decide import decide_script
from agentic.util import globs

__all__ = ["Answer", "Approver", "Decision", "Part", "Question", "Verdict", "check_examples", "decide", "decide_command",
           "deny_all", "readable", "strictest"]


S = TypeVar("S")  # what a rule's patterns are matched against: a path, an argv, nothing (finish)
DEFAULT_REASONS = {"deny": "the contract denies {tool} here", "ask": "the contract asks a person before {tool} acts here"}


def _first_match(patterns: Patterns, subject: S, matcher: Callable[[str, S], bool]) -> tuple[int, str] | None:
    """(index, pattern) of the first pattern that matches ((-1, "") for `true`), or None."""
    if patterns is True:
        return -1, ""
    if patterns is False:
        return None
    return next(((i, p) for i, p in enumerate(patterns) if matcher(p, subject)), None)


def _rule_decision(tool: str, rule: Rule, subject: S, matcher: Callable[[str, S], bool]) -> Decision:
    for verdict in ("deny", "ask", "allow"):
        hit = _first_match(getattr(rule, verdict), subject, matcher)
        if hit is not None:
            index, pattern = hit
            where = f"[{index}] {pattern!r}" if index >= 0 else ""
            reason = rule.reasons.get(pattern, "") or DEFAULT_REASONS.get(verdict, "").format(tool=tool)
            return Decision(verdict, f"tools.{tool}.{verdict}{where}", reason)
    return Decision("deny", f"tools.{tool}", f"no rule of the contract lets {tool} act on this")


def protected_match(contract: Contract, path: str) -> str | None:
    return globs.match_any(contract.protected, path)


def decide(contract: Contract, tool: str, kind: str, args: dict[str, Any], root: str | None = None) -> Decision:
    """The contract's decision for one validated tool call (before any approval)."""
    if kind == "mcp":
        key = rule_key(tuple(contract.tools), tool)
        if key is None:
            return Decision("deny", f"tools.{tool}", f"the contract has no rule for {tool} (nor a glob like mcp__SERVER__*)")
        return _rule_decision(key, contract.tools[key], None, lambda _p, _s: True)
    if kind == "control":
        rule = contract.tools.get(tool)
        if rule is None or rule == Rule():
            return Decision("allow", "builtin", "finish is always available; the gate decides")
        return _rule_decision(tool, rule, None, lambda _p, _s: True)
    rule = contract.tools.get(tool)
    if rule is None:
        return Decision("deny", f"tools.{tool}", f"the contract has no rule for {tool}")
    if kind in ("read", "write"):
        path = str(args.get("path") or ".")
        if kind == "write" and (hit := protected_match(contract, path)) is not None:
            return Decision("deny", f"protected {hit!r}", f"{path} is protected by the contract")
        return _rule_decision(tool, rule, path, globs.match)
    if kind == "command":
        return decide_command(contract, tool, str(args.get("command", "")), root)
    return _rule_decision(tool, rule, None, lambda _p, _s: True)


def readable(contract: Contract, tool: str) -> Callable[[str], bool]:
    """A predicate for tools that read many files (search, list_files): may this one be shown?"""
    rule = contract.tools.get(tool) or Rule()

    def check(path: str) -> bool:
        return _rule_decision(tool, rule, path, globs.match).verdict == "allow"

    return check


def decide_command(contract: Contract, tool: str, script: str, root: str | None = None) -> Decision:
    """The decision for a script given to a command tool: the strictest of its parts."""
    rule = contract.tools.get(tool) or Rule()
    return decide_script(tool, rule, script, lambda path: decide(contract, "write_file", "write", {"path": path}),
                         root)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# examples: rules that test themselves


@dataclass(frozen=True)
class ExampleCheck:
    example: Example
    decision: Decision

    @property
    def ok(self) -> bool:
        return self.decision.verdict == self.example.expected

    def describe(self) -> str:
        ex, got = self.example, self.decision
        why = f" ({got.reason})" if got.reason else ""
        return (f"{ex.file}:{ex.line}: {ex.tool} example {ex.subject!r}: expected {ex.expected}, "
                f"got {got.verdict} by rule {got.rule}{why}")  # fmt: skip


def check_examples(contract: Contract, kinds: Mapping[str, str]) -> list[ExampleCheck]:
    """The decision for every example of the contract's rules; `kinds` maps tool names to tool kinds."""
    checks: list[ExampleCheck] = []
    for example in contract.examples:
        kind = kinds.get(example.tool, "")
        args = {"command": example.subject} if kind == "command" else {"path": example.subject}
        checks.append(ExampleCheck(example, decide(contract, example.tool, kind, args)))
    return checks
