"""A decision of the contract: allow, ask or deny, the rule that made it, and why.

A script given to `run_command` is decided command by command; its decision carries each part's
(`commands`) and is the strictest of them: deny over ask over allow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Verdict = Literal["allow", "ask", "deny"]
SEVERITY: dict[str, int] = {"allow": 0, "ask": 1, "deny": 2}


@dataclass(frozen=True)
class Part:
    """The decision for one part of a script: a simple command, or a file it writes."""

    kind: str  # "command" | "write"
    text: str  # as written in the script (a command), or the path written
    verdict: Verdict
    rule: str
    reason: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "text": self.text, "verdict": self.verdict, "rule": self.rule,
                "reason": self.reason}  # fmt: skip


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    rule: str  # which rule decided
    reason: str = ""
    decided_by: str = "contract"  # "contract", or the person who answered an ask
    parts: tuple[Part, ...] = ()  # for a script: every simple command and file write, decided
    answer: str = ""  # a person's answer to an ask (agentic.policy.approval.Answer.word)
    message: str = ""  # what the person told the model with a no
    always: tuple[str, ...] = ()  # the rules a person allowed for the rest of the run with this answer

    def to_dict(self) -> dict[str, str]:
        return {"verdict": self.verdict, "rule": self.rule, "reason": self.reason, "by": self.decided_by}

    def answered(self) -> dict[str, Any]:
        """A person's answer, for the journal ({} for a decision nobody was asked about)."""
        if not self.answer:
            return {}
        return {"answer": self.answer, **({"message": self.message} if self.message else {}),
                **({"always": list(self.always)} if self.always else {})}  # fmt: skip

    def explain(self) -> dict[str, Any]:
        """The decision with its parts, for `agentic contract explain --json` and the journal."""
        return {"verdict": self.verdict, "rule": self.rule, "reason": self.reason,
                "commands": [p.to_dict() for p in self.parts]}  # fmt: skip


def strictest(decisions: Iterable[Decision]) -> Decision | None:
    """The first of the strictest decisions (deny over ask over allow); None for none."""
    best: Decision | None = None
    for d in decisions:
        if best is None or SEVERITY[d.verdict] > SEVERITY[best.verdict]:
            best = d
    return best
