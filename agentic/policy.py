"""Permission decisions: every tool call gets one before it executes.

Order: protected paths (writes) → deny → ask → allow → nothing matched (deny). The decision names
the rule that made it, e.g. `tools.write_file.deny[0] ".env*"`, so the journal and the audit can
say why an action was allowed or refused.

Commands (`run_command`) are decided on their parsed argv, in this order:

1. Shell syntax is refused (`command-syntax`): commands are a plain argv, never run through a shell.
2. Programs that must never run are refused outright, whatever the contract says (`wrapper sudo`):
   `sudo`, `su`, `doas`, `xargs`, `setsid`, `nohup`, `chroot`, `unshare`…, a shell given a string to
   run (`sh -c`, `bash -lc`…), `find` with `-exec`/`-execdir`/`-ok`/`-okdir`/`-delete`, `env` that
   sets variables, a leading `NAME=value`.
3. Wrappers (`timeout`, `nice`, `env`, `stdbuf`, `time`, `uv run`…) are removed with their own
   options, and the wrapped command is decided as if it stood alone; the rule names both:
   `wrapper timeout → tools.run_command.allow[1] 'pytest *'`. A deny pattern matching the command
   as written (wrapper included) still denies it.
4. The rule's patterns: deny → ask → allow → nothing matched (deny). An ask or allow pattern admits
   a command only if it spells every dangerous option in it: options and subcommands that change what
   the program does (`pytest -p`, `python -c`, `python -m MODULE`, `pip install`, `git -c`…; see
   `FLAGS`) must be named by the pattern at their position (`pytest -p xdist *`, `--rootdir=*`); a
   trailing `*` or `true` never admits one. When a pattern matched but none admits the command, the
   refusal names the option and the program (`dangerous-flag pytest --rootdir`).
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from agentic import globs
from agentic.contract import Contract, Example, Patterns, Rule

Verdict = Literal["allow", "ask", "deny"]
SHELL_OPERATORS = set(";&|<>()")
GLOB_CHARS = "*?["
MAX_WRAPPERS = 8


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
        return decide_command(tool, rule, str(args.get("command", "")))
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


# ---------------------------------------------------------------------------------------------
# commands


def decide_command(tool: str, rule: Rule, command: str) -> Decision:
    """The decision for one command string under `rule` (see the module docstring for the order)."""
    try:
        argv = parse_command(command)
    except CommandRefused as exc:
        return Decision("deny", "command-syntax", str(exc))
    via = ""  # "wrapper timeout → " for each wrapper removed
    for _ in range(MAX_WRAPPERS):
        refusal = _refusal(argv)
        if refusal is not None:
            return Decision("deny", via + refusal[0], refusal[1])
        unwrapped = _unwrap(argv)
        if isinstance(unwrapped, tuple):
            return Decision("deny", via + unwrapped[0], unwrapped[1])
        if unwrapped is None or not unwrapped.inner:
            break
        if (hit := _first_match(rule.deny, argv, command_matches)) is not None:
            where = "" if hit == "true" else hit
            return Decision("deny", f"{via}tools.{tool}.deny{where}", "the contract denies this command")
        via += f"wrapper {unwrapped.name} → "
        argv = unwrapped.inner
    else:
        return Decision("deny", via.rstrip(" →"), f"more than {MAX_WRAPPERS} wrappers in one command")
    decision = _pattern_decision(tool, rule, argv)
    if via:
        reason = f"decided on the wrapped command: {shlex.join(argv)}"
        return Decision(decision.verdict, via + decision.rule, decision.reason or reason)
    return decision


def _pattern_decision(tool: str, rule: Rule, argv: list[str]) -> Decision:
    """deny → ask → allow; an ask or allow pattern admits argv only if it spells its dangerous options."""
    findings = dangerous_flags(argv)
    refused: Decision | None = None
    for verdict in ("deny", "ask", "allow"):
        patterns: Patterns = getattr(rule, verdict)
        if patterns is False:
            continue
        hits = [(f"tools.{tool}.{verdict}", None)] if patterns is True else [
            (f"tools.{tool}.{verdict}[{i}] {p!r}", p) for i, p in enumerate(patterns) if command_matches(p, argv)
        ]  # fmt: skip
        for name, pattern in hits:
            unspelled = next((f for f in findings if verdict != "deny" and not _spelled(pattern, f)), None)
            if unspelled is None:
                return Decision(verdict, name)  # type: ignore[arg-type]
            if refused is None:
                refused = Decision("deny", f"dangerous-flag {unspelled.program} {unspelled.flag}",
                                   _flag_reason(unspelled, name))  # fmt: skip
    return refused or Decision("deny", f"tools.{tool}", "no rule of this tool matches")


def _has_glob(word: str) -> bool:
    return any(c in word for c in GLOB_CHARS)


def _literal_prefix(word: str) -> str:
    cut = min((word.index(c) for c in GLOB_CHARS if c in word), default=len(word))
    return word[:cut]


def _spelled(pattern: str | None, finding: Finding) -> bool:
    """Whether the pattern names the dangerous option at its position (never by a trailing `*`)."""
    if pattern is None:
        return False
    words = shlex.split(pattern)
    explicit = len(words) - 1 if words and words[-1] == "*" else len(words)
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


# --- programs refused outright, and wrappers -----------------------------------------------------

REFUSED_PROGRAMS: dict[str, str] = {
    "sudo": "runs a command as another user",
    "su": "runs a command as another user",
    "doas": "runs a command as another user",
    "pkexec": "runs a command as another user",
    "runuser": "runs a command as another user",
    "setpriv": "runs a command with other privileges",
    "capsh": "runs a command with other capabilities",
    "chroot": "runs a command under another root directory",
    "unshare": "runs a command in new namespaces",
    "nsenter": "runs a command in other namespaces",
    "setsid": "detaches a command from the harness's process control",
    "nohup": "keeps a command running after the harness stops it",
    "xargs": "builds a command's arguments at run time, which the contract cannot check",
    "parallel": "builds commands at run time, which the contract cannot check",
    "watch": "runs its command through a shell",
    "script": "runs a command through a shell",
}
SHELLS = frozenset({"sh", "bash", "rbash", "zsh", "dash", "ksh", "mksh", "pdksh", "ash", "yash", "fish", "csh",
                    "tcsh", "pwsh", "powershell"})  # fmt: skip
FIND_EXEC = frozenset({"-exec", "-execdir", "-ok", "-okdir", "-delete"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
ENV_ASSIGNMENT_WHY = (
    "variables such as PYTEST_ADDOPTS, PYTHONPATH, LD_PRELOAD or GIT_SSH_COMMAND change what a program does"
)


@dataclass(frozen=True)
class Wrapper:
    """A program that runs another command: its own options, and the operands before the command."""

    name: str
    flags: frozenset[str] = frozenset()  # options without a value ("-v", "--verbose")
    valued: frozenset[str] = frozenset()  # options with a value: "-n 5", "-n5", "--adjustment=5"
    refused: Mapping[str, str] = field(default_factory=dict)  # option → why it is refused
    operands: int = 0  # words before the command (timeout's DURATION, flock's FILE)
    numeric: bool = False  # options like nice's "-10"
    assignments: bool = False  # NAME=VALUE words before the command (env): refused


def _why(why: str, options: str) -> dict[str, str]:
    """{option: why} for each of the space-separated `options`."""
    return dict.fromkeys(options.split(), why)


def _set(options: str) -> frozenset[str]:
    return frozenset(options.split())


def _wrapper(name: str, flags: str = "", valued: str = "", refused: Mapping[str, str] | None = None,
             **more: Any) -> Wrapper:  # fmt: skip
    return Wrapper(name, _set(flags), _set(valued), refused or {}, **more)


_OTHER_DIR = "runs the command in another directory"
SYSTEM_BIN_DIRS = frozenset({"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"})
WRAPPERS: dict[str, Wrapper] = {
    w.name: w
    for w in (
        _wrapper(
            "env",
            flags="- -i --ignore-environment -0 --null -v --debug --default-signal --ignore-signal "
            "--block-signal --list-signal-handling",
            valued="-u --unset",
            refused={
                **_why("splits a string into a command line the contract cannot check", "-S --split-string"),
                **_why(_OTHER_DIR, "-C --chdir"),
                **_why("runs the command under another name", "-a --argv0"),
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
            refused=_why("changes the priority of other processes", "-p --pid -P --pgid -u --uid"),
        ),
        _wrapper("stdbuf", valued="-i -o -e --input --output --error"),
        _wrapper(
            "flock",
            flags="-s --shared -x -e --exclusive -u --unlock -n --nb --nonblock -o --close -F --no-fork --verbose",
            valued="-w --wait --timeout -E --conflict-exit-code",
            refused=_why("runs its command through a shell", "-c --command"),
            operands=1,
        ),
        _wrapper("time", "-p --portability -v --verbose -q --quiet -a --append", "-f --format -o --output"),
        _wrapper("command", "-p -v -V"),
        _wrapper("exec", "-c -l", "-a"),
        _wrapper("busybox", refused=_why("installs applet links", "--install")),
        _wrapper(
            "uv run",
            flags="--frozen --locked --offline --no-sync --isolated --no-project --active --no-dev --exact "
            "--all-extras --all-packages --no-config -q --quiet -v --verbose --no-progress",
            valued="--extra --group --only-group --no-group --color",
            refused={
                **_why("installs extra packages", "--with --with-editable --with-requirements"),
                **_why("runs another interpreter", "-p --python"),
                **_why(_OTHER_DIR, "--directory --project"),
                **_why("loads variables from a file", "--env-file"),
            },
        ),
        _wrapper(
            "poetry run",
            flags="-q --quiet -v -vv -vvv --verbose -n --no-interaction --ansi --no-ansi --no-plugins --no-cache",
            refused=_why(_OTHER_DIR, "-C --directory -P --project"),
        ),
    )
}


@dataclass(frozen=True)
class Unwrapped:
    name: str
    inner: list[str]


def program_name(word: str) -> str:
    """The program a word names, for the built-in tables: its base name, with versions normalised.

    `python3`, `python3.11` and `/usr/bin/python3` are `python`; `pip3` is `pip`; `py.test` is `pytest`.
    """
    name = word.rsplit("/", 1)[-1]
    if re.fullmatch(r"(?:python|pypy)(?:\d+(?:\.\d+)*)?[dmtu]?", name):
        return "python"
    if re.fullmatch(r"pip\d*(?:\.\d+)*", name):
        return "pip"
    if name in ("py.test", "pytest-3") or re.fullmatch(r"pytest-?\d+(?:\.\d+)*", name):
        return "pytest"
    return {"gmake": "make", "nodejs": "node"}.get(name, name)


def _refusal(argv: list[str]) -> tuple[str, str] | None:
    """(rule, reason) when argv is a command refused outright, whatever the contract says."""
    name = program_name(argv[0])
    if _ASSIGNMENT.match(argv[0]):
        var = argv[0].split("=", 1)[0]
        return (f"wrapper {var}=…", f"setting variables ({var}=…) is not allowed: {ENV_ASSIGNMENT_WHY}; "
                "run the command without it")  # fmt: skip
    if name in REFUSED_PROGRAMS:
        return (
            f"wrapper {name}",
            f"{name} is never allowed: it {REFUSED_PROGRAMS[name]}; run the command itself",
        )
    if name in SHELLS and (flag := _shell_string_flag(name, argv)) is not None:
        return (f"wrapper {name} {flag}", f"{name} {flag} runs a string through a shell, which the contract "
                "cannot check; run the command itself, as an argv")  # fmt: skip
    if name == "find" and (primary := next((w for w in argv[1:] if w in FIND_EXEC), None)) is not None:
        return (f"wrapper find {primary}", f"find {primary} runs a command or deletes files for every match, "
                "which the contract cannot check; list the files with find, then act on each one")  # fmt: skip
    return None


def _shell_string_flag(name: str, argv: list[str]) -> str | None:
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


def _unwrap(argv: list[str]) -> Unwrapped | tuple[str, str] | None:
    """The wrapped command (None: argv is not a wrapper), or (rule, reason) when it cannot be unwrapped.

    Only a wrapper found on the system is unwrapped (`timeout`, `/usr/bin/timeout`): `./timeout` may
    be anything, so it is decided as a program of its own.
    """
    if "/" in argv[0] and argv[0].rsplit("/", 1)[0] not in SYSTEM_BIN_DIRS:
        return None
    name = program_name(argv[0])
    skip = 1
    if len(argv) > 1 and f"{name} {argv[1]}" in WRAPPERS:
        name, skip = f"{name} {argv[1]}", 2
    spec = WRAPPERS.get(name)
    if spec is None:
        return None
    i = skip
    while i < len(argv):
        word = argv[i]
        if word == "--":
            i += 1
            break
        if word in spec.flags:
            i += 1
            continue
        if not word.startswith("-") or word == "-":
            break
        if spec.numeric and re.fullmatch(r"-[+-]?\d+", word):
            i += 1
            continue
        option = word.split("=", 1)[0] if word.startswith("--") else word[:2]
        if option in spec.refused:
            return f"wrapper {name} {option}", f"{name} {option} is not allowed: it {spec.refused[option]}"
        if option in spec.flags and (option == word or word.startswith("--")):
            i += 1
        elif option in spec.valued:
            i += 1 if (word != option) else 2
        else:
            return (f"wrapper {name} {option}", f"{name} option {option} is not one agentic knows, so it cannot "
                    f"tell which command {name} would run; run the command without {name}")  # fmt: skip
    if i < len(argv) and spec.assignments and _ASSIGNMENT.match(argv[i]):
        var = argv[i].split("=", 1)[0]
        return (f"wrapper {name} {var}=…", f"{name} may not set variables ({var}=…): {ENV_ASSIGNMENT_WHY}; "
                "run the command without them")  # fmt: skip
    i += spec.operands
    inner = argv[i:]
    if inner and inner[0].startswith("-"):
        option = inner[0].split("=", 1)[0]
        why = spec.refused.get(
            option, "is an option after the command's operands, which agentic does not accept"
        )
        return f"wrapper {name} {option}", f"{name} {option} is not allowed: it {why}"
    return Unwrapped(name, inner)


# --- dangerous options ------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A dangerous option or subcommand at argv[index], as written (a prefix of that word)."""

    index: int
    written: str
    flag: str
    program: str
    why: str
    value_index: int | None = None  # the option's value must be named by the pattern too (python -m)


@dataclass(frozen=True)
class Flags:
    """Options and subcommands that change what an allowed program does."""

    program: str
    dangerous: Mapping[str, str] = field(default_factory=dict)  # option → why, anywhere in argv
    short_valued: str = ""  # short options taking a value: the rest of a cluster is not more options
    abbrev: bool = False  # unambiguous prefixes of long options are accepted (getopt_long, git)
    whole_words: bool = False  # single-dash options are whole words (find, node): no clusters
    subcommands: Mapping[str, str] = field(default_factory=dict)  # dangerous subcommand → why
    global_dangerous: Mapping[str, str] = field(default_factory=dict)  # options before the subcommand only
    global_valued: frozenset[str] = frozenset()  # options before the subcommand that take a value
    global_flags: frozenset[str] = frozenset()  # options before the subcommand that take no value
    per_subcommand: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    assignments: str | None = None  # why NAME=VALUE operands are dangerous (make)


_CONFIG = "changes the configuration the program runs with"
_INSTALL = "installs or removes packages"
_NET = "talks to other repositories or hosts"
_RUNS = "runs arbitrary commands"
_CODE = "runs code given on the command line"
_WRITES = "writes a file"

FLAGS: dict[str, Flags] = {
    f.program: f
    for f in (
        Flags(
            "pytest",
            {
                **_why(_CONFIG, "-c --config-file --inifile -o --override-ini"),
                "--rootdir": "moves where pytest looks for its configuration",
                "--confcutdir": "changes which conftest.py files are loaded",
                "-p": "loads or blocks a plugin",
                "--basetemp": "chooses a directory that pytest empties",
                "--pdbcls": "imports a debugger class",
                **_why("writes a report file", "--junitxml --junit-xml"),
            },
            short_valued="kmcpoWrn",
        ),
        Flags(
            "pip",
            subcommands={
                **_why(_INSTALL, "install uninstall"),
                "download": "downloads packages",
                "wheel": "builds packages",
                "config": _CONFIG,
            },
            global_valued=_set(
                "--python --log --log-file --proxy --retries --timeout --exists-action --trusted-host --cert "
                "--client-cert --cache-dir --use-feature --use-deprecated"
            ),
            global_flags=_set(
                "-q --quiet -v --verbose --isolated --no-cache-dir --disable-pip-version-check --no-color "
                "--no-input -V --version --require-virtualenv"
            ),
            abbrev=True,
        ),
        Flags(
            "uv",
            subcommands={
                **_why(_INSTALL, "add remove sync tool"),
                **_why(_NET, "lock publish"),
                "python": "installs interpreters",
                "self": "updates uv",
                "run": "runs a command (write `uv run` first, then its options)",
            },
            per_subcommand={"pip": _why(_INSTALL, "install uninstall sync")},
        ),
        Flags(
            "uvx",
            {
                **_why(_INSTALL, "--from --with --with-editable --with-requirements"),
                **_why("runs another interpreter", "-p --python"),
            },
        ),
        Flags(
            "npm",
            {
                **_why("works on global packages", "-g --global"),
                **_why(_CONFIG, "--prefix --userconfig --globalconfig --node-options"),
                "--script-shell": _RUNS,
            },
            subcommands={
                **_why(
                    _INSTALL,
                    "install i in ins inst insta instal isnt isnta isntal add ci clean-install "
                    "install-test it install-ci-test cit uninstall un unlink remove rm r update up upgrade "
                    "udpate rebuild rb link ln dedupe ddp prune",
                ),
                **_why(_RUNS, "exec x explore"),
                **_why(
                    _NET,
                    "publish unpublish login logout adduser add-user owner access token dist-tag "
                    "deprecate org team star unstar hook",
                ),
                **_why(_CONFIG, "config c set"),
            },
            abbrev=True,
        ),
        Flags("npx", _why(_INSTALL, "-p --package -y --yes") | _why(_RUNS, "-c --call"), whole_words=True),
        Flags(
            "cargo",
            _why(_CONFIG, "--config -Z"),
            subcommands={
                **_why(_INSTALL, "install uninstall add remove"),
                **_why(_NET, "publish login logout owner yank"),
            },
            short_valued="jpZ",
            global_valued=frozenset({"--color", "--config", "-Z", "-C"}),
        ),
        Flags(
            "make",
            {
                **_why("reads another makefile", "-f --file --makefile"),
                **_why(_OTHER_DIR, "-C --directory"),
                **_why("includes other makefiles", "-I --include-dir"),
                **_why(_CODE, "-E --eval"),
            },
            short_valued="fCIEoWjlO",
            abbrev=True,
            assignments="overrides a make variable, which changes the commands a recipe runs",
        ),
        Flags("ruff", _why("rewrites files", "--fix --unsafe-fixes --add-noqa")),
        Flags(
            "git",
            {**_why(_RUNS, "--upload-pack --receive-pack --exec --ext-diff"), "--output": _WRITES},
            global_dangerous={
                **_why(_CONFIG, "-c --config-env"),
                "--exec-path": _RUNS,
                **_why("works on another repository", "--git-dir --work-tree"),
                "-C": "works in another directory",
            },
            global_valued=_set(
                "-c -C --git-dir --work-tree --namespace --config-env --super-prefix --attr-source"
            ),
            global_flags=_set(
                "-p --paginate -P --no-pager --bare --no-replace-objects --literal-pathspecs --glob-pathspecs "
                "--noglob-pathspecs --icase-pathspecs --no-optional-locks --no-advice --exec-path -v --version "
                "-h --help --html-path --man-path --info-path"
            ),
            subcommands={
                **_why(
                    _NET,
                    "clone fetch pull push remote submodule ls-remote send-email send-pack fetch-pack "
                    "request-pull svn p4 cvsimport cvsexportcommit cvsserver http-fetch http-push",
                ),
                **_why(
                    _RUNS,
                    "daemon upload-pack receive-pack upload-archive http-backend instaweb difftool "
                    "mergetool bisect filter-branch filter-repo shell hook web--browse credential "
                    "credential-store credential-cache",
                ),
                **_why(_CONFIG, "config maintenance"),
            },
            per_subcommand={
                **{sub: {"-u": _RUNS} for sub in ("clone", "fetch", "pull", "ls-remote", "fetch-pack")},
                "archive": {"-u": _RUNS, "--remote": _NET},
                "rebase": {"-x": _RUNS},
                "grep": _why(_RUNS, "-O --open-files-in-pager"),
            },
            abbrev=True,
        ),
        Flags(
            "node",
            {
                **_why(_CODE, "-e --eval -p --print"),
                **_why("preloads a module", "-r --require --import --loader --experimental-loader"),
            },
            whole_words=True,
        ),
        Flags("perl", {**_why(_CODE, "-e -E"), **_why("loads a module", "-M -m")}, short_valued="IxlF0CdD"),
        Flags("ruby", {"-e": _CODE, "-r": "loads a library"}, short_valued="IxCEFK"),
        Flags("php", {**_why(_CODE, "-r -B -R -E"), **_why(_CONFIG, "-d -c")}, whole_words=True),
        Flags("find", _why(_WRITES, "-fprint -fprint0 -fprintf -fls"), whole_words=True),
        Flags(
            "tar",
            _why(
                _RUNS,
                "--to-command --use-compress-program -I --checkpoint-action --info-script "
                "--new-volume-script -F --rsh-command --rmt-command",
            ),
            short_valued="fCTXbKLNVgH",
            abbrev=True,
        ),
        *(
            Flags(
                name,
                subcommands={
                    **_why(_INSTALL, "add install i remove rm update up upgrade link unlink rebuild import"),
                    **_why(_RUNS, "dlx exec"),
                    "publish": _NET,
                    "config": _CONFIG,
                },
            )
            for name in ("pnpm", "yarn")
        ),
    )
}
PYTHON_MODULE_FLAGS = {"pytest": "pytest", "pip": "pip", "ruff": "ruff"}  # python -m MODULE → FLAGS key


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
                return [Finding(i, word[:j], "-c", "python", _CODE)]
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
