"""A bash script, parsed with tree-sitter's bash grammar, as the parts the contract decides.

`parse(script)` yields every simple command the script would run, wherever it stands: in pipelines,
lists, subshells, `{ …; }`, functions, loops and conditions, `$(…)`, backticks, `<(…)` and the
expansions of an unquoted heredoc. Each command's words are resolved statically where bash would
give them a fixed value (quotes and escapes removed); a word holding an expansion (`$x`, `${x}`,
`$(…)`, `$((…))`) is only known when the script runs, and says so (`Word.value is None`).

It also yields every file a redirection writes (`>`, `>>`, `&>`, `&>>`, `>|`, `<>`, `>& FILE`, a
heredoc's `> file`, and `tee FILE`), with the directories the script may be in at that point: the
script's start, and every `cd`/`pushd` before it (a directory only known at run time is `None`).
Reads (`<`), descriptor duplications (`2>&1`) and here-strings write nothing.

The grammar's own precedence is not relied on for meaning: a redirection is decided against every
directory the script may have changed to before it, so a misplaced operator cannot hide a write.
"""

from __future__ import annotations

import codecs
import posixpath
import re
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Node, Parser

WRITE_OPERATORS = frozenset({">", ">>", "&>", "&>>", ">|", "<>"})
DUPLICATIONS = frozenset({">&", "<&", ">&-", "<&-"})
CHANGE_DIR = frozenset({"cd", "pushd"})
UNKNOWN = "\x00"  # starts the text of a word whose value is known only at run time (never in argv)


class ParseError(ValueError):
    """A script bash itself would refuse (or tree-sitter cannot read)."""


@dataclass(frozen=True)
class Word:
    value: str | None  # None: only known when the script runs
    text: str  # as written

    @property
    def known(self) -> bool:
        return self.value is not None

    def key(self) -> str:
        """The value, or a marker that can equal no real argument (for pattern matching)."""
        return self.value if self.value is not None else UNKNOWN + self.text


@dataclass(frozen=True)
class Command:
    words: tuple[Word, ...]  # the program and its arguments (leading NAME=value assignments apart)
    text: str  # the command as written
    assignments: tuple[str, ...] = ()  # NAME=value before the program, as written
    cwds: tuple[str | None, ...] = (".",)  # the directories it may run in

    @property
    def argv(self) -> list[str]:
        return [w.key() for w in self.words]


@dataclass(frozen=True)
class Redirect:
    target: Word
    operator: str
    text: str
    cwds: tuple[str | None, ...]


@dataclass
class Script:
    text: str
    commands: list[Command] = field(default_factory=list)
    writes: list[Redirect] = field(default_factory=list)
    functions: set[str] = field(default_factory=set)
    assignments: list[tuple[str, str]] = field(default_factory=list)  # (NAME, as written), wherever they stand


@cache
def _parser() -> Parser:
    import tree_sitter_bash
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_bash.language()))


def parse(script: str, cwds: tuple[str | None, ...] = (".",)) -> Script:
    """The script's commands and writes; ParseError when bash could not run it."""
    if "\x00" in script:
        raise ParseError("a script cannot contain NUL characters")
    source = script.encode("utf-8", "surrogateescape")
    tree = _parser().parse(source)
    if tree.root_node.has_error:
        raise ParseError(_error_message(tree.root_node, source))
    _check_coverage(tree.root_node, source)
    walker = _Walker(Script(script), list(cwds))
    walker.visit(tree.root_node)
    return walker.script


_IGNORABLE = re.compile(rb"(?:\s|\\\n|-)*")


def _check_coverage(root: Node, source: bytes) -> None:
    """Refuse a script part of which no node of the tree covers: what the grammar skipped would
    still run, undecided. (Only whitespace, line continuations and a lone `-` before a heredoc,
    which the grammar folds into the `<<`, may be left over.)"""
    covered = 0
    stack = [root]
    gaps: list[tuple[int, int]] = []
    while stack:
        node = stack.pop()
        if node.child_count == 0 or node.type in ("heredoc_body", "comment", "string_content", "raw_string"):
            if node.start_byte > covered:
                gaps.append((covered, node.start_byte))
            covered = max(covered, node.end_byte)
            continue
        stack.extend(reversed(node.children))
    gaps.append((covered, len(source)))
    for start, end in gaps:
        if not _IGNORABLE.fullmatch(source[start:end]):
            text = source[start:end].decode("utf-8", "replace").strip()[:40]
            raise ParseError(f"bash cannot parse this script as agentic reads it: {text!r} is not part of any command")


def _error_message(root: Node, source: bytes) -> str:
    node = _first_error(root)
    if node is None:
        return "bash cannot parse this script"
    line, column = node.start_point
    excerpt = source[node.start_byte : node.start_byte + 40].decode("utf-8", "replace").split("\n")[0]
    what = f"missing {node.type!r}" if node.is_missing else f"unexpected {excerpt!r}"
    return f"bash cannot parse this script: line {line + 1}, column {column + 1}: {what}"


def _first_error(node: Node) -> Node | None:
    if node.type == "ERROR" or node.is_missing:
        return node
    for child in node.children:
        if child.has_error or child.is_missing:
            found = _first_error(child)
            if found is not None:
                return found
    return None


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "surrogateescape")  # None only for a tree parsed without its source


_GLOB = re.compile(r"(?<!\\)[*?[]")  # unquoted, unescaped pattern characters
_BRACES = re.compile(r"(?<!\\)\{[^{}]*(?:,|\.\.)[^{}]*(?<!\\)\}")  # brace expansion
_DOUBLE_ESCAPE = re.compile(r"\\([$`\"\\\n])")
_UNQUOTED_ESCAPE = re.compile(r"\\(.)", re.S)
EXPANSIONS = frozenset({"simple_expansion", "expansion", "command_substitution", "arithmetic_expansion",
                        "process_substitution", "translated_string"})  # fmt: skip


def _word_value(node: Node) -> str | None:
    """What bash makes of a word, or None when it holds an expansion."""
    kind = node.type
    if kind in EXPANSIONS:
        return None
    if kind in ("word", "number", "command_name", "variable_name", "test_operator", "extglob_pattern"):
        if kind == "command_name":
            return _word_value(node.named_children[0]) if node.named_children else ""
        if any(c.type in EXPANSIONS for c in node.children):
            return None
        text = _text(node)
        if kind == "word" and _GLOB.search(text):
            return None  # a pattern: the files it matches are only known when it runs
        return _UNQUOTED_ESCAPE.sub(lambda m: "" if m.group(1) == "\n" else m.group(1), text)
    if kind == "raw_string":
        return _text(node)[1:-1]
    if kind == "ansi_c_string":
        body = _text(node)[2:-1]
        try:
            return codecs.decode(body.encode("latin-1", "backslashreplace"), "unicode_escape")
        except (UnicodeDecodeError, UnicodeEncodeError):
            return body
    if kind == "string":
        parts: list[str] = []
        for child in node.children:
            if child.type in EXPANSIONS:
                return None
            if child.type == "string_content":
                parts.append(_DOUBLE_ESCAPE.sub(lambda m: "" if m.group(1) == "\n" else m.group(1), _text(child)))
        return "".join(parts)
    if kind == "concatenation":
        unquoted = "".join(_text(c) if c.type == "word" else "''" for c in node.children)
        if _BRACES.search(unquoted):
            return None  # a{b,c}: bash makes several words of it
        values = [_word_value(c) for c in node.children]
        return None if any(v is None for v in values) else "".join(v or "" for v in values)
    return None  # brace_expression ({1..3}) and anything else: only known when it runs


def _join(base: str | None, target: str) -> str | None:
    if base is None:
        return None
    if target.startswith("/"):
        return posixpath.normpath(target)
    return posixpath.normpath(posixpath.join(base, target))


class _Walker:
    """Visits the syntax tree in document order, collecting commands and writes."""

    def __init__(self, script: Script, cwds: list[str | None]) -> None:
        self.script = script
        self.cwds = cwds

    def visit(self, node: Node) -> None:
        handler = getattr(self, f"_{node.type}", None)
        if handler is not None:
            handler(node)
            return
        for child in node.children:
            self.visit(child)

    def _command(self, node: Node) -> None:
        words: list[Word] = []
        assignments: list[str] = []
        for child in node.named_children:
            if child.type == "variable_assignment":
                assignments.append(_text(child))
            elif not child.type.endswith("_redirect"):
                words.append(Word(_word_value(child), _text(child)))
        if words:  # not only assignments (`X=1`)
            self.script.commands.append(Command(tuple(words), _text(node), tuple(assignments), tuple(self.cwds)))
        for child in node.named_children:  # then what runs inside it: substitutions, redirections
            if child.type == "variable_assignment" or child.type.endswith("_redirect"):
                self.visit(child)
            else:
                self._nested(child)
        if words and words[0].value in CHANGE_DIR:
            self._change_dir(words[1:])
        if words and words[0].value == "tee":  # tee FILE… writes each file, like a redirection
            for target in (w for w in words[1:] if not (w.value or "").startswith("-")):
                self.script.writes.append(Redirect(target, "tee", _text(node), tuple(self.cwds)))

    def _variable_assignment(self, node: Node) -> None:
        name = node.child_by_field_name("name")
        if name is not None:
            self.script.assignments.append((_text(name), _text(node)))
        for child in node.children:
            self.visit(child)

    def _declaration_command(self, node: Node) -> None:  # export, local, declare, readonly, typeset
        words = [Word(_text(c), _text(c)) for c in node.children[:1]]  # the keyword
        self.script.commands.append(Command(tuple(words), _text(node), (), tuple(self.cwds)))
        for child in node.children[1:]:
            self.visit(child)

    def _unset_command(self, node: Node) -> None:
        self._declaration_command(node)

    def _function_definition(self, node: Node) -> None:
        name = node.child_by_field_name("name")
        if name is not None:
            self.script.functions.add(_text(name))
        body = node.child_by_field_name("body")
        if body is not None:
            self.visit(body)

    def _file_redirect(self, node: Node) -> None:
        operator = next((_text(c) for c in node.children if not c.is_named), "")
        destination = node.child_by_field_name("destination")
        for child in node.named_children:
            self._nested(child)
        if destination is None:
            return
        target = Word(_word_value(destination), _text(destination))
        if operator == ">&" and target.value is not None and (target.value.isdigit() or target.value == "-"):
            return  # 2>&1, >&-: descriptors, not files
        if operator not in WRITE_OPERATORS and operator != ">&":
            return
        self.script.writes.append(Redirect(target, operator, _text(node), tuple(self.cwds)))

    def _nested(self, node: Node) -> None:
        """Commands inside a word: substitutions, wherever they are nested."""
        if node.type in ("command_substitution", "process_substitution"):
            for child in node.children:
                self.visit(child)
            return
        for child in node.children:
            self._nested(child)

    def _change_dir(self, args: list[Word]) -> None:
        operands = [w for w in args if not (w.value or "").startswith("-") or w.value == "-"]
        if not operands:
            self.cwds.append("~")
            return
        target = operands[0].value
        if target is None or target == "-" or target.startswith("~"):
            self.cwds.append(None if target is None or target == "-" else "~")
            return
        self.cwds.append(_join(self.cwds[-1], target))
