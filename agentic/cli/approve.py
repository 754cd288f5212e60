"""The person's side of an `ask` at a terminal: the question in full, then yes, no, no with a message
to the model, or always for this run.

Everything shown comes from the model or the repository and is untrusted: it is printed through
`inert()` (never markup, no escape sequences), each of its lines marked with a gutter so that none can
pass for the harness's own text.
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.prompt import Prompt
from rich.rule import Rule
from rich.text import Text

from agentic.policy.approval import NOBODY, Answer, Approver, Question, deny_all
from agentic.reports.summary import inert

from .common import err

SAID_LINES = 12  # of the model's text for the turn
DETAIL_LINES = 80  # of a diff or a new file's content
CHOICES = {"y": "yes", "n": "no", "m": "no, with a message to the model", "a": "always for this run"}
STYLES = {"+": "green", "-": "red", "@": "cyan"}


def _gutter(console: Console, text: str, limit: int, style_of: bool = False) -> None:
    lines = text.rstrip("\n").splitlines()
    for line in lines[:limit]:
        style = STYLES.get(line[:1]) if style_of and not line.startswith(("+++", "---")) else None
        console.print(Text("  │ ", style="dim") + inert(line, style=style), soft_wrap=False, highlight=False)
    if len(lines) > limit:
        console.print(Text(f"  │ … {len(lines) - limit} more lines", style="dim"), highlight=False)


def show(question: Question, console: Console) -> None:
    """The question: step, the model's words, the exact action, each command of a script, the rule."""
    title = f"approval needed · step {question.step}" if question.step else "approval needed"
    console.print(Rule(Text(title, style="bold yellow"), style="yellow"))
    if question.said.strip():
        console.print(Text("the model said:", style="bold"))
        _gutter(console, question.said.strip(), SAID_LINES)
    first, *rest = question.action.split("\n")
    console.print(Text.assemble(("action: ", "bold"), inert(question.tool), " → ", inert(first)), soft_wrap=True)
    if rest:
        _gutter(console, "\n".join(rest), DETAIL_LINES)
    if len(question.parts) > 1 or any(p.verdict != "ask" for p in question.parts):
        console.print(Text("each part of the script:", style="bold"))
        for part in question.parts:
            style = {"allow": "green", "ask": "yellow", "deny": "red"}[part.verdict]
            console.print(Text.assemble("  ", (f"{part.verdict:<5} ", style), inert(_flat(part.text)),
                                        "  ", inert(_flat(part.rule), style="dim")), soft_wrap=True)  # fmt: skip
    if question.detail:
        _gutter(console, question.detail, DETAIL_LINES, style_of=True)
    rule = Text.assemble(("rule: ", "bold"), inert(_flat(", ".join(question.asking_rules))))
    if question.reason:
        rule.append(" — ").append(inert(_flat(question.reason)))
    console.print(rule, soft_wrap=True)


def _flat(text: str) -> str:
    """One line: a value printed inline must not start lines of its own."""
    return " ⏎ ".join(text.splitlines())


def terminal_approver(question: Question) -> Answer:
    console = err()
    show(question, console)
    menu = " · ".join(f"[{key}] {what}" for key, what in CHOICES.items())
    console.print(Text(menu, style="dim"), soft_wrap=True)
    try:
        choice = Prompt.ask("Allow this action?", choices=list(CHOICES), default="n", console=console)
        if choice == "m":
            message = Prompt.ask("Message to the model", console=console).strip()
            return Answer(False, message=message)
    except EOFError:  # the terminal went away: nobody answered
        return NOBODY
    return Answer(choice in ("y", "a"), always=choice == "a")


def approver() -> Approver:
    return terminal_approver if sys.stdin.isatty() and sys.stderr.isatty() else deny_all
