"""The `agentic` commands the README and docs show, as a person would copy them: extracted from fenced
shell blocks and inline code, with the docs' placeholders (RUN, TASK, N, …) made concrete, and parsed
by the real CLI's command tree (tests/cli/test_doc_commands.py)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```(bash|sh|shell|console)?\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`(agentic [^`\n]+)`")
PLACEHOLDERS = {
    "RUN": "last", "RUN1": "last", "RUN2": "last", "RUN_A": "last", "RUN_B": "last", "TASK": "a task",
    "N": "2", "M": "openai:gpt-4.1-mini", "C": "default", "NAME=VALUE": "max_steps=3", "CHECK": "tests-pass",
    "PATH": "policies/contract.yaml", "PATHS": "scenarios/", "DAYS": "30", "TOOL": "run_command", "REASON": "why",
    "FOLLOW-UP": "and more", "FILE": "out.txt", "DIR": "out", "ID": "x", "K": "3", "URL": "http://127.0.0.1:9",
    "SPEC": "openai:gpt-4.1-mini", "REV": "HEAD",
}  # fmt: skip


@dataclass(frozen=True)
class Shown:
    page: str  # where it is shown, relative to the repository
    line: int
    text: str  # as written
    inline: bool  # in running text (a bare `agentic show` names the command) or a code block
    argv: list[str]  # as a person would type it, placeholders filled in, after `agentic`

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.text}"


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").rglob("*.md") if "reference" not in p.parts)]


def _concrete(text: str) -> list[str] | None:
    """The argv after `agentic` of a command as shown (None: not one command line, e.g. prose)."""
    text = text.replace("\\|", "|").split(" # ", 1)[0].split("  #", 1)[0].strip()
    text = re.split(r"\s(?:\|\|?|&&|;|>|<)\s", text, maxsplit=1)[0]  # the agentic part of a pipeline
    text = text.replace('"…"', '"a task"').replace("…", "").replace("...", "").strip()
    text = re.sub(r"\[([^\]]*)\]", lambda m: m.group(1).split("|")[0], text)  # [--json] → --json, [a|b] → a
    text = re.sub(r"\{([^}]*)\}", lambda m: m.group(1).split("|")[0], text)
    try:
        words = shlex.split(text)
    except ValueError:
        return None
    if not words or words[0] != "agentic":
        return None
    argv: list[str] = []
    for word in words[1:]:
        head, sep, tail = word.partition("=")
        if sep and head.startswith("--") and tail in PLACEHOLDERS:
            word = f"{head}={PLACEHOLDERS[tail]}"
        if "|" in word:  # alternatives: the first
            word = next((w for w in word.split("|") if w), "")
        if word:
            argv.append(PLACEHOLDERS.get(word, word))
    return argv


def shown_commands() -> list[Shown]:
    """Every `agentic …` command line of the README and docs (the generated reference aside)."""
    found: list[Shown] = []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        rel = str(page.relative_to(ROOT))
        fenced_spans: list[tuple[int, int]] = []
        for block in FENCE.finditer(text):
            fenced_spans.append(block.span())
            if block.group(1) is None and not block.group(2).lstrip().startswith("agentic"):
                continue  # a fence of output or YAML
            first = text.count("\n", 0, block.start(2)) + 1
            for offset, line in enumerate(block.group(2).splitlines()):
                line = line.strip().removeprefix("$ ")
                if line.startswith("agentic ") or line == "agentic":
                    argv = _concrete(line)
                    if argv is not None:
                        found.append(Shown(rel, first + offset, line, False, argv))
        for match in INLINE.finditer(text):
            if any(a <= match.start() < b for a, b in fenced_spans):
                continue
            argv = _concrete(match.group(1))
            if argv is not None:
                found.append(Shown(rel, text.count("\n", 0, match.start()) + 1, match.group(1), True, argv))
    return found


def parse_error(shown: Shown) -> str | None:
    """What the real CLI's parser says of the command (None: it parses: the command, its options and
    arguments exist and fit). Nothing runs."""
    import typer
    from typer._click.exceptions import ClickException

    from agentic.cli.main import app

    cmd: Any = typer.main.get_command(app)
    args, path = list(shown.argv), ["agentic"]
    parent = None
    while hasattr(cmd, "get_command") and args and not args[0].startswith("-"):
        ctx = cmd.context_class(cmd, info_name=path[-1], parent=parent)
        sub = cmd.get_command(ctx, args[0])
        if sub is None:
            break  # a group's default command takes it (`agentic eval scenarios/`)
        path.append(args.pop(0))
        cmd, parent = sub, ctx
    if shown.inline and not args:
        return None  # the name of a command, in a sentence
    try:
        cmd.make_context(" ".join(path), args)
    except typer.Exit:
        return None  # --help, --version
    except ClickException as exc:
        return f"{' '.join(path)}: {exc.format_message()}"
    return None
