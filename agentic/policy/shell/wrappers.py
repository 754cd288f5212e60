"""Commands that run other commands: wrappers, payloads, and programs refused outright.

`inner(argv)` says what a command runs besides itself, so that the contract decides that too:

- wrappers run the rest of their argv (`timeout 60 pytest`, `nice -n 5 …`, `env A=1 …`, `nohup`,
  `setsid`, `time`, `stdbuf`, `flock`, `exec`, `command`, `uv run`, `poetry run`…): the wrapped
  command is decided as if it stood alone;
- `xargs CMD …` runs CMD with arguments read at run time, and `find … -exec CMD … ;` runs CMD for
  every match: CMD is decided, the arguments only known at run time count as unknown words;
- `sh -c SCRIPT`, `bash -lc SCRIPT`, `eval WORDS`, `trap SCRIPT SIGNAL` and `watch CMD` run a
  script: it is parsed and each of its commands decided; when it is only known at run time the
  command is asked (`ask`), since nobody can check it before it runs.

Privilege programs (`sudo`, `su`, `doas`, `chroot`, `unshare`…) are refused outright: there are no
other users, privileges or namespaces to reach in the sandbox.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentic.policy.shell.parse import UNKNOWN
from agentic.policy.shell.programs import program_name, why, words

PRIVILEGED: dict[str, str] = {
    **why("runs a command as another user", "sudo su doas pkexec runuser"),
    **why("runs a command with other privileges", "setpriv capsh"),
    "chroot": "runs a command under another root directory",
    **why("runs a command in other namespaces", "unshare nsenter"),
}
SHELLS = frozenset({"sh", "bash", "rbash", "zsh", "dash", "ksh", "mksh", "pdksh", "ash", "yash", "fish", "csh",
                    "tcsh", "pwsh", "powershell"})  # fmt: skip
POSIX_SHELLS = frozenset({"sh", "bash", "rbash", "dash", "ksh", "mksh", "pdksh", "ash", "yash", "zsh"})
FIND_EXEC = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
SYSTEM_BIN_DIRS = frozenset({"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Inner:
    """Something a command runs besides itself: a command (argv) or a script to parse."""

    via: str  # "timeout", "xargs", "find -exec", "bash -c", "eval"
    argv: list[str] | None = None
    script: str | None = None


@dataclass(frozen=True)
class Refusal:
    verdict: str  # "deny" | "ask"
    rule: str
    reason: str


@dataclass(frozen=True)
class Wrapper:
    """A program that runs another command: its own options, and the operands before the command."""

    name: str
    flags: frozenset[str] = frozenset()  # options without a value ("-v", "--verbose")
    valued: frozenset[str] = frozenset()  # options with a value: "-n 5", "-n5", "--adjustment=5"
    refused: Mapping[str, str] = field(default_factory=dict)  # option → why it is refused
    operands: int = 0  # words before the command (timeout's DURATION, flock's FILE)
    numeric: bool = False  # options like nice's "-10"
    assignments: bool = False  # NAME=VALUE words before the command (env)
    queries: frozenset[str] = frozenset()  # options that make it look a command up, not run it


def _wrapper(name: str, flags: str = "", valued: str = "", refused: Mapping[str, str] | None = None,
             **more: Any) -> Wrapper:  # fmt: skip
    return Wrapper(name, words(flags), words(valued), refused or {}, **more)


WRAPPERS: dict[str, Wrapper] = {
    w.name: w
    for w in (
        _wrapper(
            "env",
            flags="- -i --ignore-environment -0 --null -v --debug --default-signal --ignore-signal "
            "--block-signal --list-signal-handling",
            valued="-u --unset -C --chdir",
            refused={
                **why("splits a string into a command line the contract cannot check", "-S --split-string"),
                **why("runs the command under another name", "-a --argv0"),
            },
            assignments=True,
        ),
        _wrapper(
            "timeout",
            "--preserve-status --foreground -v --verbose",
            "-s --signal -k --kill-after",
            operands=1,
        ),
        _wrapper("nice", valued="-n --adjustment", numeric=True),
        _wrapper(
            "ionice",
            flags="-t --ignore",
            valued="-c --class -n --classdata",
            refused=why("changes the priority of other processes", "-p --pid -P --pgid -u --uid"),
        ),
        _wrapper("stdbuf", valued="-i -o -e --input --output --error"),
        _wrapper(
            "flock",
            flags="-s --shared -x -e --exclusive -u --unlock -n --nb --nonblock -o --close -F --no-fork --verbose",
            valued="-w --wait --timeout -E --conflict-exit-code",
            refused=why("runs its command through a shell", "-c --command"),
            operands=1,
        ),
        _wrapper("time", "-p --portability -v --verbose -q --quiet -a --append", "-f --format -o --output"),
        _wrapper("command", "-p", queries=words("-v -V")),
        _wrapper("exec", "-c -l", "-a"),
        _wrapper("busybox", refused=why("installs applet links", "--install")),
        _wrapper("nohup"),
        _wrapper("setsid", "-c --ctty -f --fork -w --wait"),
        _wrapper("builtin"),
        _wrapper(
            "xargs",
            "-0 --null -r --no-run-if-empty -t --verbose -p --interactive -x --exit --open-tty -o",
            "-a --arg-file -d --delimiter -E -e --eof -I --replace -L -l --max-lines -n --max-args "
            "-P --max-procs -s --max-chars --process-slot-var",
        ),
        _wrapper(
            "uv run",
            flags="--frozen --locked --offline --no-sync --isolated --no-project --active --no-dev --exact "
            "--all-extras --all-packages --no-config -q --quiet -v --verbose --no-progress",
            valued="--extra --group --only-group --no-group --color --directory --project",
            refused={
                **why("installs extra packages", "--with --with-editable --with-requirements"),
                **why("runs another interpreter", "-p --python"),
                **why("loads variables from a file", "--env-file"),
            },
        ),
        _wrapper(
            "poetry run",
            flags="-q --quiet -v -vv -vvv --verbose -n --no-interaction --ansi --no-ansi --no-plugins --no-cache",
            valued="-C --directory -P --project",
        ),
    )
}



def shell_string_flag(name: str, argv: list[str]) -> str | None:
    """The option that makes a shell run a string (`-c`, `-lc`, fish's `-C`, pwsh's `-Command`), if any."""
    if name in ("pwsh", "powershell"):
        for word in argv[1:]:
            low = word.lower()
            if (
                low.startswith("-")
                and low.lstrip("-")
                and any(
                    o.startswith(low.lstrip("-"))
                    for o in ("command", "commandwithargs", "cwa", "encodedcommand", "ec")
                )
            ):
                return word
        return None
    i = 1
    while i < len(argv):
        word = argv[i]
        if word == "--" or not word.startswith(("-", "+")) or word in ("-", "+"):
            return None
        if word.startswith("--"):
            if word.split("=", 1)[0] in ("--command", "--init-command"):
                return word
            i += 2 if word in ("--rcfile", "--init-file") else 1
            continue
        cluster = word[1:]
        if word.startswith("-") and ("c" in cluster or (name == "fish" and "C" in cluster)):
            return word
        i += 2 if cluster and cluster[-1] in "oO" else 1  # -o OPTION, -O SHOPT take a value
    return None


# Variables whose value bash runs or expands later (prompts expanded under `set -x`, files sourced
# by a new bash, exported functions): setting one hides commands from the contract.
EVALUATED_VARIABLES = frozenset({"PS0", "PS1", "PS2", "PS3", "PS4", "PROMPT_COMMAND", "BASH_ENV", "ENV",
                                 "SHELLOPTS", "BASHOPTS"})  # fmt: skip


def evaluated(variable: str) -> bool:
    return variable in EVALUATED_VARIABLES or variable.startswith("BASH_FUNC_")


def on_path(word: str) -> bool:
    """Whether a program word names a program found on PATH (or in a system directory): `./timeout`
    may be anything, so it is decided as a program of its own."""
    return "/" not in word or word.rsplit("/", 1)[0] in SYSTEM_BIN_DIRS


def known(word: str) -> bool:
    return not word.startswith(UNKNOWN)


def inner(argv: list[str]) -> list[Inner] | Refusal | None:
    """What argv runs besides itself (None: nothing), or why it cannot be run or known."""
    name = program_name(argv[0])
    if name in PRIVILEGED:
        return Refusal("deny", f"program {name}", f"{name} {PRIVILEGED[name]}; there are no other users, "
                       f"privileges or namespaces in the sandbox: run the command without {name}")  # fmt: skip
    if not on_path(argv[0]):
        return None
    if name in SHELLS:
        return _shell(name, argv)
    if name == "eval":
        return _script("eval", " ".join(argv[1:]), argv[1:])
    if name == "trap":
        operands = [w for w in argv[1:] if not w.startswith("-")] if len(argv) > 2 else []
        return _script("trap", operands[0], operands[:1]) if operands else None
    if name == "alias":  # with expand_aliases a name runs its value: decided as a script
        values = [w.split("=", 1)[1] for w in argv[1:] if "=" in w and known(w)]
        hidden = [w for w in argv[1:] if not known(w)]
        if hidden:
            return _script("alias", "", hidden)
        return [Inner("alias", script=v) for v in values] or None
    if name == "watch":
        rest = _after_options(argv, valued=words("-n --interval -d --differences -q --equexit"))
        return _script("watch", " ".join(rest), rest) if rest else None
    if name == "find":
        return _find(argv)
    if name == "parallel":
        return Refusal("ask", "program parallel", "parallel builds its commands at run time, which the contract "
                       "cannot check before they run; write a loop instead (for f in …; do …; done)")  # fmt: skip
    return _unwrap(name, argv)


def _script(via: str, text: str, parts: list[str]) -> list[Inner] | Refusal:
    if not all(known(w) for w in parts):
        return Refusal("ask", f"unknown {via}", f"{via} runs a script that is only known when it runs, so the "
                       "contract cannot check it first; write the commands out")  # fmt: skip
    return [Inner(via, script=text)]


def _shell(name: str, argv: list[str]) -> list[Inner] | Refusal | None:
    flag = shell_string_flag(name, argv)
    if flag is None:
        return None  # a shell running a file (decided as a program), or reading its input
    if name not in POSIX_SHELLS:
        return Refusal("ask", f"program {name} {flag}", f"{name} {flag} runs a script in a language agentic does "
                       "not parse; write it as a bash script")  # fmt: skip
    at = argv.index(flag) + 1
    while at < len(argv) and argv[at].startswith(("-", "+")) and argv[at] != "--":
        at += 1
    if at < len(argv) and argv[at] == "--":
        at += 1
    if at >= len(argv):
        return Refusal("deny", f"program {name} {flag}", f"{name} {flag} needs a script to run")
    return _script(f"{name} {flag}", argv[at], [argv[at]])


def _find(argv: list[str]) -> list[Inner] | Refusal | None:
    found: list[Inner] = []
    i = 1
    while i < len(argv):
        if argv[i] in FIND_EXEC:
            primary, i = argv[i], i + 1
            start = i
            while i < len(argv) and argv[i] not in (";", "+"):
                i += 1
            command = [UNKNOWN + "{}" if "{}" in w else w for w in argv[start:i]]
            if not command:
                return Refusal("deny", f"program find {primary}", f"find {primary} needs a command")
            found.append(Inner(f"find {primary}", argv=command))
        i += 1
    return found or None


def _after_options(argv: list[str], valued: frozenset[str]) -> list[str]:
    i = 1
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in valued else 1
    return argv[i:]


def _unwrap(name: str, argv: list[str]) -> list[Inner] | Refusal | None:
    """A wrapper's wrapped command, or why it cannot be told."""
    skip = 1
    if len(argv) > 1 and f"{name} {argv[1]}" in WRAPPERS:
        name, skip = f"{name} {argv[1]}", 2
    spec = WRAPPERS.get(name)
    if spec is None:
        return None
    replace: str | None = None  # xargs -I STRING
    i = skip
    while i < len(argv):
        word = argv[i]
        if word == "--":
            i += 1
            break
        if not word.startswith("-") or word == "-":
            break
        if word in spec.queries:
            return None  # command -v NAME: looks NAME up
        if spec.numeric and re.fullmatch(r"-[+-]?\d+", word):
            i += 1
            continue
        option = word.split("=", 1)[0] if word.startswith("--") else word[:2]
        if option in spec.refused:
            return Refusal("deny", f"wrapper {name} {option}", f"{name} {option} is not allowed: it "
                           f"{spec.refused[option]}")  # fmt: skip
        if word in spec.flags or (option in spec.flags and word.startswith("--")):
            i += 1
        elif name == "xargs" and word == "-i":
            replace, i = "{}", i + 1  # -i alone: the replace string is {}
        elif option in spec.valued:
            attached = word != option
            value = (word.split("=", 1)[1] if word.startswith("--") else word[2:]) if attached else \
                (argv[i + 1] if i + 1 < len(argv) else "")  # fmt: skip
            if name == "xargs" and option in ("-I", "-i", "--replace"):
                replace = value or "{}"
            i += 1 if attached else 2
        elif len(word) > 2 and not word.startswith("--") and all(f"-{c}" in spec.flags for c in word[1:]):
            i += 1  # a cluster of flags: -0r
        else:
            return Refusal("ask", f"wrapper {name} {option}", f"{name} option {option} is not one agentic knows, "
                           f"so it cannot tell which command {name} would run; run the command without it")  # fmt: skip
    if spec.assignments:
        while i < len(argv) and _ASSIGNMENT.match(argv[i]):
            if evaluated(argv[i].split("=", 1)[0]):
                variable = argv[i].split("=", 1)[0]
                return Refusal("ask", f"variable {variable}", f"{variable} holds code bash runs later, which the "
                               "contract cannot check before it runs")  # fmt: skip
            i += 1
    i += spec.operands
    rest = argv[i:]
    if rest and rest[0].startswith("-") and rest[0] != "-":
        option = rest[0].split("=", 1)[0]
        if option in spec.refused:
            return Refusal("deny", f"wrapper {name} {option}", f"{name} {option} is not allowed: it "
                           f"{spec.refused[option]}")  # fmt: skip
        return Refusal("ask", f"wrapper {name} {option}", f"{name} {option} stands after {name}'s operands, so "
                       f"agentic cannot tell which command {name} would run; put options first")  # fmt: skip
    if name == "xargs":
        rest = rest or ["echo"]
        if replace:
            rest = [UNKNOWN + w if replace in w else w for w in rest]
        else:
            rest = [*rest, UNKNOWN + "(xargs input)"]
    return [Inner(name, argv=rest)] if rest else None
