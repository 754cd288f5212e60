"""Permission decisions: every tool call gets one before it executes.

Order: protected paths (writes) → deny → ask → allow → nothing matched (deny). The decision names
the rule that made it, e.g. `tools.write_file.deny[0] ".env*"`, so the journal and the audit can
say why an action was allowed or refused.
"""

from __future__ import annotations

import fnmatch
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from agentic import globs
from agentic.contract import Contract, Patterns, Rule

Verdict = Literal["allow", "ask", "deny"]
SHELL_OPERATORS = set(";&|<>()")


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    rule: str  # which rule decided
    reason: str = ""
    decided_by: str = "contract"  # "contract", or the person who answered an ask

    def to_dict(self) -> dict[str, str]:
        return {"verdict": self.verdict, "rule": self.rule, "reason": self.reason, "by": self.decided_by}


class CommandRefused(ValueError):
    """A command string that cannot be turned into a plain argv (shell syntax, bad quoting)."""


def parse_command(command: str) -> list[str]:
    """Split a command into argv like a POSIX shell would, refusing anything a shell would interpret."""
    if "\x00" in command or "\n" in command or "\r" in command:
        raise CommandRefused("control characters and newlines are not allowed in a command")
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|<>()")
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError as exc:
        raise CommandRefused(f"cannot parse the command: {exc}") from None
    for token in tokens:
        if token and set(token) <= SHELL_OPERATORS:
            raise CommandRefused(
                f"shell syntax {token!r} is not allowed: commands run as a plain argv, never through a shell"
            )
        if "`" in token or "$(" in token or "${" in token:
            raise CommandRefused("command substitution and parameter expansion are not allowed")
    if not tokens:
        raise CommandRefused("empty command")
    return tokens


def command_matches(pattern: str, argv: list[str]) -> bool:
    """Match argv against a pattern word by word; a final lone `*` stands for any remaining words."""
    words = shlex.split(pattern)
    rest = bool(words) and words[-1] == "*"
    if rest:
        words = words[:-1]
        if len(argv) < len(words):
            return False
    elif len(argv) != len(words):
        return False
    return all(fnmatch.fnmatchcase(arg, word) for word, arg in zip(words, argv, strict=False))


def _first_match(patterns: Patterns, subject: Any, matcher: Callable[[str, Any], bool]) -> str | None:
    """The matching pattern ('*' for `true`), or None."""
    if patterns is True:
        return "true"
    if patterns is False:
        return None
    for i, pattern in enumerate(patterns):
        if matcher(pattern, subject):
            return f"[{i}] {pattern!r}"
    return None


def _rule_decision(tool: str, rule: Rule, subject: Any, matcher: Callable[[str, Any], bool]) -> Decision:
    for verdict in ("deny", "ask", "allow"):
        hit = _first_match(getattr(rule, verdict), subject, matcher)
        if hit is not None:
            return Decision(verdict, f"tools.{tool}.{verdict}{'' if hit == 'true' else hit}")  # type: ignore[arg-type]
    return Decision("deny", f"tools.{tool}", "no rule of this tool matches")


def protected_match(contract: Contract, path: str) -> str | None:
    return globs.match_any(contract.protected, path)


def decide(contract: Contract, tool: str, kind: str, args: dict[str, Any]) -> Decision:
    """The contract's decision for one validated tool call (before any approval)."""
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
        try:
            argv = parse_command(str(args.get("command", "")))
        except CommandRefused as exc:
            return Decision("deny", "command-syntax", str(exc))
        return _rule_decision(tool, rule, argv, command_matches)
    return _rule_decision(tool, rule, None, lambda _p, _s: True)


def readable(contract: Contract, tool: str) -> Callable[[str], bool]:
    """A predicate for tools that read many files (search, list_files): may this one be shown?"""
    rule = contract.tools.get(tool) or Rule()

    def check(path: str) -> bool:
        return _rule_decision(tool, rule, path, globs.match).verdict == "allow"

    return check


# An approver answers an `ask`: given the tool and a description of the exact action, True to allow.
Approver = Callable[[str, str], bool]


def deny_all(tool: str, action: str) -> bool:
    return False
