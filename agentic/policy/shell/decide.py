"""The contract's decision for a bash script given to `run_command`.

The script is parsed (agentic.policy.shell.parse) and every part of it decided; the strictest verdict wins
(deny over ask over allow) and names its rule:

1. A script bash cannot parse is refused (`command-syntax`).
2. Each simple command, in order:
   - a program only known at run time (`$CMD args`, `$(which python) x.py`) is asked;
   - shell builtins that only change the script's own state (`cd`, `echo`, `export`, `test`…) and
     functions the script defines are allowed, unless a deny or ask pattern names them;
   - `source FILE` and `bash FILE` of a file the script itself writes, or whose name is only known
     at run time, are asked: the commands in it cannot be decided before it runs;
   - privilege programs (`sudo`, `su`, `chroot`…) are refused (agentic.policy.shell.wrappers);
   - what a command runs besides itself (a wrapper's command, `xargs` and `find -exec` commands,
     the scripts of `sh -c`, `eval` and `trap`) is decided too, as if it stood alone, and a deny
     pattern matching the command as written still denies it;
   - otherwise the rule's patterns decide: deny → ask → allow → nothing matched (deny).
3. Each file a redirection (or `tee`) writes is decided as a `write_file` of that path, relative to
   every directory the script may be in at that point. A write outside the worktree is allowed: the
   sandbox keeps /tmp private and everything else read-only.

Patterns are matched word by word (`command_matches`); a word only known at run time matches a
pattern word `*` (or the trailing `*`), and "may match" any other: an ask or deny pattern that may
match makes the command `ask`, an allow pattern must match for sure. Deny and ask patterns also
match other spellings of the command (agentic.policy.shell.flags.forms): `python3 -m pip install` is
`pip install`, `git -C x push` is `git push`. An ask or allow pattern admits a command only if it
spells every dangerous option in it (agentic.policy.shell.flags); `true` admits any command.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from agentic.policy.contract import Patterns, Rule
from agentic.policy.decision import Decision, Part, strictest
from agentic.policy.shell.flags import Finding, dangerous_flags, forms
from agentic.policy.shell.parse import UNKNOWN, Command, ParseError, Redirect, Script, parse
from agentic.policy.shell.programs import FLAGS, program_name
from agentic.policy.shell.wrappers import (
    SHELLS,
    Inner,
    Refusal,
    evaluated,
    inner,
    known,
    on_path,
    shell_string_flag,
)

MAX_DEPTH = 8
GLOB_CHARS = "*?["
BUILTINS = frozenset({
    "cd", "pushd", "popd", "dirs", "pwd", "echo", "printf", "true", "false", ":", "test", "[", "[[", "exit",
    "return", "set", "shopt", "export", "unset", "local", "declare", "readonly", "typeset", "shift", "break",
    "continue", "wait", "read", "let", "getopts", "type", "hash", "jobs", "times", "umask", "ulimit",
    "unalias", "caller",
})  # fmt: skip
DEVICES = ("/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/fd/", "/proc/self/fd/")
INCIDENTAL = frozenset({"shell-builtin", "device", "sandbox", "empty-script"})
WriteDecider = Callable[[str], Decision]


def command_matches(pattern: str, argv: list[str]) -> bool | None:
    """Whether argv matches a pattern word by word (a final lone `*` stands for any remaining words);
    None when it may, depending on words only known at run time."""
    words, rest = pattern_words(pattern)
    if len(argv) < len(words) or (not rest and len(argv) != len(words)):
        return False
    result: bool | None = True
    for word, arg in zip(words, argv, strict=False):
        if word == "*":
            continue
        if arg.startswith(UNKNOWN):
            result = None
        elif not fnmatch.fnmatchcase(arg, word):
            return False
    return result


@lru_cache(maxsize=8192)
def pattern_words(pattern: str) -> tuple[tuple[str, ...], bool]:
    """A pattern's words before a final lone `*`, and whether it had one."""
    words = shlex.split(pattern)
    if words and words[-1] == "*":
        return tuple(words[:-1]), True
    return tuple(words), False


@dataclass
class Scope:
    """What deciding one script needs: the rule, how writes are decided, where the worktree is."""

    tool: str
    rule: Rule
    decide_write: WriteDecider
    root: str | None = None  # the worktree's absolute path, as commands see it (None: unknown)
    parts: list[Part] = field(default_factory=list)


def decide_script(tool: str, rule: Rule, script: str, decide_write: WriteDecider, root: str | None = None) -> Decision:
    """The decision for a whole script: the strictest of its parts, which it carries."""
    scope = Scope(tool, rule, decide_write, root)
    decisions = _script(scope, script, (".",), 0)
    worst = strictest(decisions) or Decision("allow", "empty-script", "the script runs no command")
    if worst.verdict == "allow":  # name the rule that admitted a real program, not a builtin's
        worst = next((d for d in decisions if d.rule not in INCIDENTAL), worst)
    return Decision(worst.verdict, worst.rule, worst.reason, parts=tuple(scope.parts))


def _script(scope: Scope, text: str, cwds: tuple[str | None, ...], depth: int) -> list[Decision]:
    if depth > MAX_DEPTH:
        return [_part(scope, "command", text, Decision("deny", "command-syntax", f"scripts nested more than "
                                                        f"{MAX_DEPTH} deep"))]  # fmt: skip
    try:
        parsed = parse(text, cwds)
    except ParseError as exc:
        return [_part(scope, "command", text, Decision("deny", "command-syntax", str(exc)))]
    decisions: list[Decision] = []
    for command in parsed.commands:
        decisions.append(_part(scope, "command", command.text, _command(scope, parsed, command, depth)))
    for write in parsed.writes:
        decisions.append(_write(scope, write))
    for variable, text in parsed.assignments:
        if evaluated(variable):
            decision = Decision("ask", f"variable {variable}", f"{variable} holds code bash runs or expands "
                                "later, which the contract cannot check before it runs")  # fmt: skip
            decisions.append(_part(scope, "command", text, decision))
    return decisions


def _part(scope: Scope, kind: str, text: str, decision: Decision) -> Decision:
    scope.parts.append(Part(kind, " ".join(text.split()) if kind == "command" else text, decision.verdict,
                            decision.rule, decision.reason))  # fmt: skip
    return decision


def _command(scope: Scope, parsed: Script, command: Command, depth: int) -> Decision:
    program = command.words[0]
    argv = command.argv
    if not program.known:
        return Decision("ask", "unknown-program", f"the program {program.text} is only known when the script runs, "
                        "so the contract cannot check it first; write the program's name out")  # fmt: skip
    name = program.value or ""
    if name in BUILTINS or name in parsed.functions:
        explicit = _patterns(scope, argv, ("deny", "ask"))
        if explicit is not None:
            return explicit
        why = "a function this script defines: its commands are decided where it is defined" \
            if name in parsed.functions else "a shell builtin that only changes the script's own state"  # fmt: skip
        return Decision("allow", "shell-builtin", why)
    if (sourced := _runs_file(name, argv)) is not None and (refusal := _unknown_file(parsed, command, sourced)):
        return refusal
    return _argv(scope, argv, command.cwds, depth)


def _argv(scope: Scope, argv: list[str], cwds: tuple[str | None, ...], depth: int, via: str = "") -> Decision:
    """One command's decision: its own, and that of what it runs besides itself."""
    found = inner(argv)
    if isinstance(found, Refusal):
        return Decision(found.verdict, via + found.rule, found.reason)  # type: ignore[arg-type]
    if found is None:
        decision = _pattern_decision(scope, argv)
        return Decision(decision.verdict, via + decision.rule, decision.reason) if via else decision
    denied = _patterns(scope, argv, ("deny",))
    if denied is not None:
        return Decision(denied.verdict, via + denied.rule, denied.reason)
    decisions: list[Decision] = []
    if program_name(argv[0]) == "find":  # find is a program of its own, not only a wrapper
        decisions.append(_pattern_decision(scope, argv))
    for item in found:
        decisions.append(_inner(scope, item, cwds, depth + 1, f"{via}wrapper {item.via} → "))
    worst = strictest(decisions)
    assert worst is not None
    return worst


def _inner(scope: Scope, item: Inner, cwds: tuple[str | None, ...], depth: int, via: str) -> Decision:
    if depth > MAX_DEPTH:
        return Decision("deny", via.rstrip(" →"), f"more than {MAX_DEPTH} wrappers in one command")
    if item.script is not None:
        worst = strictest(_script(scope, item.script, cwds, depth))
        if worst is None:
            return Decision("allow", via + "empty-script", "the script runs no command")
        return Decision(worst.verdict, via + worst.rule, worst.reason)
    assert item.argv is not None
    if not item.argv or not known(item.argv[0]):
        return Decision("ask", via + "unknown-program", "the command it runs is only known when it runs, so the "
                        "contract cannot check it first")  # fmt: skip
    return _argv(scope, item.argv, cwds, depth, via)


def _runs_file(name: str, argv: list[str]) -> str | None:
    """The file `source FILE`, `. FILE` or `bash FILE` runs as shell commands, if any."""
    if name in ("source", "."):
        return argv[1] if len(argv) > 1 else None
    if program_name(name) in SHELLS and on_path(name) and shell_string_flag(program_name(name), argv) is None:
        operands = [w for w in argv[1:] if not w.startswith(("-", "+"))]
        return operands[0] if operands else None
    return None


def _unknown_file(parsed: Script, command: Command, path: str) -> Decision | None:
    if not known(path):
        return Decision("ask", "unknown-script", f"{path[1:]} is only known when the script runs, so the commands it "
                        "holds cannot be checked first; name the file")  # fmt: skip
    written = {p for w in parsed.writes if w.target.value is not None for p in _places(w.target.value, w.cwds)}
    if written & set(_places(path, command.cwds)):
        return Decision("ask", "unknown-script", f"{path} is written by this same script, so the commands in it "
                        "cannot be checked before they run; write the file in one call and run it in the next")  # fmt: skip
    return None


def _places(path: str, cwds: tuple[str | None, ...]) -> list[str]:
    return [posixpath.normpath(posixpath.join(cwd, path)) for cwd in cwds if cwd is not None]


def _write(scope: Scope, write: Redirect) -> Decision:
    target = write.target
    if target.value is None:
        decision = Decision("ask", "unknown-write", f"{write.text} writes a file whose name is only known when the "
                            "script runs; name the file")  # fmt: skip
        return _part(scope, "write", target.text, decision)
    path = target.value
    if path.startswith(DEVICES) or path.isdigit():
        return Decision("allow", "device", "")
    decisions = []
    for cwd in write.cwds if not path.startswith(("/", "~")) else ("/",):
        if cwd is None:
            decision = Decision("ask", "unknown-write", f"{write.text} writes relative to a directory only known "
                                "when the script runs (after cd); use a path from the repository's root")  # fmt: skip
            decisions.append(_part(scope, "write", path, decision))
            continue
        where = _in_worktree(scope, cwd, path)
        if where is None:
            decision = Decision("allow", "sandbox", "outside the worktree: the sandbox keeps /tmp private and "
                                "everything else read-only")  # fmt: skip
            decisions.append(_part(scope, "write", posixpath.join(cwd, path), decision))
        else:
            decisions.append(_part(scope, "write", where, scope.decide_write(where)))
    return strictest(decisions) or Decision("allow", "device", "")


def _in_worktree(scope: Scope, cwd: str, path: str) -> str | None:
    """The path relative to the worktree, or None when it is outside."""
    if path.startswith("~") or cwd.startswith("~"):
        return None
    full = posixpath.normpath(posixpath.join(cwd, path))
    if full.startswith("/"):
        root = scope.root
        if root is None or not (full == root or full.startswith(root.rstrip("/") + "/")):
            return None
        full = posixpath.relpath(full, root)
    if full == ".." or full.startswith("../"):
        return None
    return full


# --- patterns -------------------------------------------------------------------------------------


def _patterns(scope: Scope, argv: list[str], verdicts: tuple[str, ...]) -> Decision | None:
    """The first deny (then ask) pattern that matches argv in any spelling; one that may match asks."""
    spellings = [argv, *forms(argv)] if known(argv[0]) else [argv]
    for verdict in verdicts:
        patterns: Patterns = getattr(scope.rule, verdict)
        if patterns is False:
            continue
        if patterns is True:
            return _decision(scope, verdict, None, None)
        for i, pattern in _candidates(patterns, spellings):
            results = [command_matches(pattern, words) for words in spellings]
            if True in results:
                return _decision(scope, verdict, i, pattern)
            if None in results:
                d = _decision(scope, verdict, i, pattern)
                return Decision("ask", d.rule, f"it may match {pattern!r} depending on words only known when it "
                                "runs; write them out")  # fmt: skip
    return None


@lru_cache(maxsize=256)
def _by_program(patterns: tuple[str, ...]) -> tuple[dict[str, list[tuple[int, str]]], list[tuple[int, str]]]:
    """Patterns indexed by their literal first word; those whose first word is a glob apart."""
    literal: dict[str, list[tuple[int, str]]] = {}
    globbed: list[tuple[int, str]] = []
    for i, pattern in enumerate(patterns):
        words, _ = pattern_words(pattern)
        if words and not _has_glob(words[0]):
            literal.setdefault(words[0], []).append((i, pattern))
        else:
            globbed.append((i, pattern))
    return literal, globbed


def _candidates(patterns: tuple[str, ...], spellings: list[list[str]]) -> list[tuple[int, str]]:
    """The patterns that may match one of the spellings, in the contract's order."""
    literal, globbed = _by_program(patterns)
    found = {item for words in spellings for item in literal.get(words[0], ())}
    if any(w[0].startswith(UNKNOWN) for w in spellings):
        found.update(item for items in literal.values() for item in items)
    return sorted(found.union(globbed))


def _decision(scope: Scope, verdict: str, index: int | None, pattern: str | None) -> Decision:
    where = "" if index is None else f"[{index}] {pattern!r}"
    reason = scope.rule.reasons.get(pattern or "", "") if pattern is not None else ""
    if not reason:
        reason = "the contract denies this command" if verdict == "deny" else \
            "the contract asks a person for this command" if verdict == "ask" else ""  # fmt: skip
    return Decision(verdict, f"tools.{scope.tool}.{verdict}{where}", reason)  # type: ignore[arg-type]


def _pattern_decision(scope: Scope, argv: list[str]) -> Decision:
    """deny → ask → allow; an ask or allow pattern admits argv only if it spells its dangerous options."""
    explicit = _patterns(scope, argv, ("deny",))
    if explicit is not None:
        return explicit
    findings = dangerous_flags([_as_written(w) for w in argv])
    hidden = _hidden_option(argv)
    refused: Decision | None = None
    for verdict in ("ask", "allow"):
        patterns: Patterns = getattr(scope.rule, verdict)
        if patterns is True:
            return _decision(scope, verdict, None, None)
        if patterns is False:
            continue
        spellings = [argv, *([[program_name(argv[0]), *argv[1:]]] if on_path(argv[0]) else [])]
        for i, pattern in enumerate(patterns):
            results = [command_matches(pattern, words) for words in spellings]
            if verdict == "ask" and None in results and True not in results:
                return Decision("ask", _decision(scope, "ask", i, pattern).rule, f"it may match {pattern!r}")
            if True not in results:
                continue
            unspelled = next((f for f in findings if not _spelled(pattern, f)), None)
            if unspelled is None and hidden is not None:
                return Decision("ask", _decision(scope, verdict, i, pattern).rule, f"{hidden} is only known when "
                                "it runs and may be an option that changes what the program does; write it out")  # fmt: skip
            if unspelled is None:
                return _decision(scope, verdict, i, pattern)
            if refused is None:
                name = _decision(scope, verdict, i, pattern).rule
                refused = Decision("deny", f"dangerous-flag {unspelled.program} {unspelled.flag}",
                                   _flag_reason(unspelled, name))  # fmt: skip
    return refused or Decision("deny", f"tools.{scope.tool}", "no rule of this tool matches this command")


def _as_written(word: str) -> str:
    """A word for the dangerous-option tables: its value, or for one only known at run time the
    literal text it starts with (`--basetemp=$HOME` is --basetemp)."""
    return word[1:].lstrip("\"'") if word.startswith(UNKNOWN) else word


def _hidden_option(argv: list[str]) -> str | None:
    """A word only known at run time that may be a dangerous option of a program agentic knows."""
    name = program_name(argv[0])
    if name != "python" and name not in FLAGS:
        return None
    for word in argv[1:]:
        if word.startswith(UNKNOWN) and not re.match(r"[\w./@:+,%=]", _as_written(word)[:1] or "-"):
            return word[1:]
    return None


def _has_glob(word: str) -> bool:
    return any(c in word for c in GLOB_CHARS)


def _literal_prefix(word: str) -> str:
    cut = min((word.index(c) for c in GLOB_CHARS if c in word), default=len(word))
    return word[:cut]


def _spelled(pattern: str, finding: Finding) -> bool:
    """Whether the pattern names the dangerous option at its position (never by a trailing `*`)."""
    words, _ = pattern_words(pattern)
    explicit = len(words)
    if finding.index >= explicit:
        return False
    word = words[finding.index]
    if _has_glob(word) and not _literal_prefix(word).startswith(finding.written):
        return False
    if finding.value_index is not None:
        return finding.value_index < explicit and not _has_glob(words[finding.value_index])
    return True


def _flag_reason(finding: Finding, rule: str) -> str:
    return (f"{finding.program} {finding.flag} is refused: it {finding.why}. The rule {rule} admits the command "
            f"but does not name {finding.flag} (a trailing * never admits it); run the command without it")  # fmt: skip
