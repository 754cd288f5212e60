"""What agentic knows about programs' options: the ones that change what an allowed program does.

A contract's allow or ask pattern admits a command only if it spells every dangerous option in it
(`pytest -p xdist *` admits `pytest -p xdist`; `pytest *` does not admit `pytest -p evil`); see
`dangerous_flags`. The same knowledge finds a program's subcommand behind its global options, so
that a deny pattern `git push *` also denies `git -C x push`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from agentic.policy.shell.programs import (
    FLAGS,
    PYTHON_MODULE_FLAGS,
    PYTHON_MODULES_AS_PROGRAMS,
    RUNS_CODE,
    Flags,
    program_name,
)

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Finding:
    """A dangerous option or subcommand at argv[index], as written (a prefix of that word)."""

    index: int
    written: str
    flag: str
    program: str
    why: str
    value_index: int | None = None  # the option's value must be named by the pattern too (python -m)


def dangerous_flags(argv: list[str]) -> list[Finding]:
    """Dangerous options and subcommands in argv, first to last (see FLAGS)."""
    name = program_name(argv[0])
    if name == "python":
        return _python_flags(argv)
    table = FLAGS.get(name)
    return _scan(table, argv, 1) if table is not None else []


def _python_flags(argv: list[str]) -> list[Finding]:
    """python's own `-c` and `-m MODULE`; after `-m pytest`, pytest's options (and so on)."""
    i = 1
    while i < len(argv):
        word = argv[i]
        if word == "--" or word == "-" or not word.startswith("-"):
            return []  # a script (or stdin): what follows belongs to it
        if word.startswith("--"):
            i += 2 if word == "--check-hash-based-pycs" else 1
            continue
        for j, char in enumerate(word[1:], start=2):
            if char == "c":
                return [Finding(i, word[:j], "-c", "python", RUNS_CODE)]
            if char == "m":
                at = i if word[j:] else i + 1
                if at >= len(argv):
                    return []
                module = word[j:] or argv[at]
                found = Finding(i, word[:j], f"-m {module}", "python",
                                f"runs module {module}, which the rule does not name", value_index=at)  # fmt: skip
                table = FLAGS.get(PYTHON_MODULE_FLAGS.get(module, ""))
                return [found, *(_scan(table, argv, at + 1) if table is not None else [])]
            if char in "WX":
                i += 0 if word[j:] else 1
                break
        i += 1
    return []


def _long(name: str, options: Mapping[str, str], abbrev: bool) -> str | None:
    if name in options:
        return name
    if abbrev and len(name) >= 4:
        return next((o for o in sorted(options) if o.startswith("--") and o.startswith(name)), None)
    return None


def _operands(table: Flags, argv: list[str], start: int) -> list[int]:
    """Indexes of the words that may be the subcommand: the first operand, and the next one when an
    option of unknown arity came before it (it may have taken the first as its value)."""
    found: list[int] = []
    unsure = False
    i = start
    while i < len(argv):
        word = argv[i]
        if word == "--":
            break
        if word.startswith("-") and len(word) > 1:
            if word in table.global_valued:
                i += 2
                continue
            unsure = unsure or ("=" not in word and word not in table.global_flags)
            i += 1
            continue
        if word.startswith("+"):  # cargo +toolchain
            i += 1
            continue
        found.append(i)
        if not unsure:
            break
        unsure = False
        i += 1
    return found


def _scan(table: Flags, argv: list[str], start: int) -> list[Finding]:
    findings: list[Finding] = []
    operands = _operands(table, argv, start) if (table.subcommands or table.global_dangerous
                                                 or table.per_subcommand) else []  # fmt: skip
    sub_at = operands[0] if operands else len(argv)
    sub = argv[sub_at] if operands else ""
    for at in operands:
        if argv[at] in table.subcommands:
            findings.append(Finding(at, argv[at], argv[at], table.program, table.subcommands[argv[at]]))
    nested = table.per_subcommand.get(sub, {})
    skip_value = False
    for i in range(start, len(argv)):
        word = argv[i]
        if word == "--":
            break
        if skip_value or i == sub_at:
            skip_value = False
            continue
        before = i < sub_at
        name = word.split("=", 1)[0] if word.startswith("--") else word
        if before and name in table.global_dangerous:
            findings.append(Finding(i, name, name, table.program, table.global_dangerous[name]))
        elif not before and not word.startswith("-") and word in nested:
            findings.append(Finding(i, word, f"{sub} {word}", table.program, nested[word]))
        else:
            findings.extend(
                _option_findings(table, {**table.dangerous, **({} if before else nested)}, i, word)
            )
        skip_value = before and word in table.global_valued
    return sorted(findings, key=lambda f: f.index)


def _option_findings(table: Flags, options: Mapping[str, str], i: int, word: str) -> list[Finding]:
    if word.startswith("--") and len(word) > 2:
        name = word.split("=", 1)[0]
        flag = _long(name, options, table.abbrev)
        return [Finding(i, name, flag, table.program, options[flag])] if flag else []
    if word.startswith("-") and len(word) > 1:
        if table.whole_words:
            name = word.split("=", 1)[0]
            return [Finding(i, name, name, table.program, options[name])] if name in options else []
        for j, char in enumerate(word[1:], start=2):
            if f"-{char}" in options:
                return [Finding(i, word[:j], f"-{char}", table.program, options[f"-{char}"])]
            if char in table.short_valued:
                break
        return []
    if table.assignments and _ASSIGNMENT.match(word):
        name = word.split("=", 1)[0] + "="
        return [Finding(i, name, name, table.program, table.assignments)]
    return []


def forms(argv: list[str]) -> list[list[str]]:
    """Other spellings of the same command, for deny and ask patterns: the program's plain name
    (`/usr/bin/python3.11` → `python`), `python -m pip …` → `pip …`, and a subcommand brought
    forward over global options (`git -C x push` → `git push`, `pip -q install` → `pip install`)."""
    found: list[list[str]] = []
    name = program_name(argv[0])
    current = [name, *argv[1:]]
    if current != argv:
        found.append(current)
    if name == "python":
        i = 1
        while i < len(argv) and argv[i].startswith("-") and argv[i] not in ("-m", "-c", "-"):
            i += 1
        if i + 1 < len(argv) and argv[i] == "-m" and argv[i + 1] in PYTHON_MODULES_AS_PROGRAMS:
            current = [argv[i + 1], *argv[i + 2 :]]
            found.append(current)
            name = current[0]
        elif i < len(argv) and argv[i].startswith("-m") and argv[i][2:] in PYTHON_MODULES_AS_PROGRAMS:
            current = [argv[i][2:], *argv[i + 1 :]]
            found.append(current)
            name = current[0]
    table = FLAGS.get(name)
    if table is not None and (table.subcommands or table.global_dangerous or table.per_subcommand):
        operands = _operands(table, current, 1)
        if operands and operands[0] > 1:
            found.append([name, *current[operands[0] :]])
    return found
