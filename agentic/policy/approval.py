"""Approvals: what a person is asked when the contract says `ask`, and what they can answer.

A `Question` carries everything needed to decide: the step, the model's own words for that turn, the
exact action (a diff for an edit, the content of a new file, each simple command of a script) and
the rule that asked. An `Answer` is yes, no, no with a message for the model, or yes for the rest of
the run for the rules that asked (`always`). The dispatcher journals every answer as who decided what.

An `Approver` is the person's side: the terminal's prompt (agentic.cli.approve), `deny_all` where
nobody can be asked (no terminal, eval, CI), or a test's double.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agentic.policy.decision import Part


@dataclass(frozen=True)
class Question:
    tool: str
    action: str  # the exact action in one line, e.g. "delete_file old.py", "run: rm -rf build"
    rule: str  # the rule that asked (a script's: its strictest part's)
    reason: str = ""  # the rule's reason
    step: int = 0
    said: str = ""  # the model's text in the turn that made the call (untrusted)
    detail: str = ""  # what exactly would happen: a unified diff, a new file's content (untrusted)
    parts: tuple[Part, ...] = ()  # a script's simple commands and the files it writes, each decided

    @property
    def asking_rules(self) -> tuple[str, ...]:
        """The rules an `always` answer allows for the rest of the run."""
        asked = tuple(dict.fromkeys(p.rule for p in self.parts if p.verdict == "ask"))
        return asked or (self.rule,)


@dataclass(frozen=True)
class Answer:
    allow: bool
    message: str = ""  # with a no: told to the model
    always: bool = False  # with a yes: the asking rules allow for the rest of this run
    by: str = "person"  # who answered ("no terminal" when nobody could be asked)

    @property
    def word(self) -> str:
        """The answer as journaled: yes, always, no, no with a message, or nobody."""
        if self.by != "person":
            return "nobody"
        if self.allow:
            return "always" if self.always else "yes"
        return "no with a message" if self.message else "no"


Approver = Callable[[Question], Answer]

NOBODY = Answer(False, by="no terminal")


def deny_all(question: Question) -> Answer:
    """Where no person can be asked: every `ask` is refused, and the journal says nobody was there."""
    return NOBODY
