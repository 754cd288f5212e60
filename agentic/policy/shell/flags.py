"""What agentic knows about programs' options: the ones that change what an allowed program does.

A contract's allow or ask pattern admits a command only if it spells every dangerous option in it
(`pytest -p xdist *` admits `pytest -p xdist`; `pytest *` does not admit `pytest -p evil`); see
`dangerous_flags`. The same knowledge finds a program's subcommand behind its global options, so
that a deny pattern `git push *` also denies `git -C x push`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def why(reason: str, options: str) -> dict[str, str]:
    """{option: reason} for each of the space-separated `options`."""
    return dict.fromkeys(options.split(), reason)


def words(options: str) -> frozenset[str]:
    return frozenset(options.split())


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


_OTHER_DIR = "runs the command in another directory"
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
                **why(_CONFIG, "-c --config-file --inifile -o --override-ini"),
                "--rootdir": "moves where pytest looks for its configuration",
                "--confcutdir": "changes which conftest.py files are loaded",
                "-p": "loads or blocks a plugin",
                "--basetemp": "chooses a directory that pytest empties",
                "--pdbcls": "imports a debugger class",
                **why("writes a report file", "--junitxml --junit-xml"),
            },
            short_valued="kmcpoWrn",
        ),
        Flags(
            "pip",
            subcommands={
                **why(_INSTALL, "install uninstall"),
                "download": "downloads packages",
                "wheel": "builds packages",
                "config": _CONFIG,
            },
            global_valued=words(
                "--python --log --log-file --proxy --retries --timeout --exists-action --trusted-host --cert "
                "--client-cert --cache-dir --use-feature --use-deprecated"
            ),
            global_flags=words(
                "-q --quiet -v --verbose --isolated --no-cache-dir --disable-pip-version-check --no-color "
                "--no-input -V --version --require-virtualenv"
            ),
            abbrev=True,
        ),
        Flags(
            "uv",
            subcommands={
                **why(_INSTALL, "add remove sync tool"),
                **why(_NET, "lock publish"),
                "python": "installs interpreters",
                "self": "updates uv",
                "run": "runs a command (write `uv run` first, then its options)",
            },
            per_subcommand={"pip": why(_INSTALL, "install uninstall sync")},
        ),
        Flags(
            "uvx",
            {
                **why(_INSTALL, "--from --with --with-editable --with-requirements"),
                **why("runs another interpreter", "-p --python"),
            },
        ),
        Flags(
            "npm",
            {
                **why("works on global packages", "-g --global"),
                **why(_CONFIG, "--prefix --userconfig --globalconfig --node-options"),
                "--script-shell": _RUNS,
            },
            subcommands={
                **why(
                    _INSTALL,
                    "install i in ins inst insta instal isnt isnta isntal add ci clean-install "
                    "install-test it install-ci-test cit uninstall un unlink remove rm r update up upgrade "
                    "udpate rebuild rb link ln dedupe ddp prune",
                ),
                **why(_RUNS, "exec x explore"),
                **why(
                    _NET,
                    "publish unpublish login logout adduser add-user owner access token dist-tag "
                    "deprecate org team star unstar hook",
                ),
                **why(_CONFIG, "config c set"),
            },
            abbrev=True,
        ),
        Flags("npx", why(_INSTALL, "-p --package -y --yes") | why(_RUNS, "-c --call"), whole_words=True),
        Flags(
            "cargo",
            why(_CONFIG, "--config -Z"),
            subcommands={
                **why(_INSTALL, "install uninstall add remove"),
                **why(_NET, "publish login logout owner yank"),
            },
            short_valued="jpZ",
            global_valued=frozenset({"--color", "--config", "-Z", "-C"}),
        ),
        Flags(
            "make",
            {
                **why("reads another makefile", "-f --file --makefile"),
                **why(_OTHER_DIR, "-C --directory"),
                **why("includes other makefiles", "-I --include-dir"),
                **why(_CODE, "-E --eval"),
            },
            short_valued="fCIEoWjlO",
            abbrev=True,
            assignments="overrides a make variable, which changes the commands a recipe runs",
        ),
        Flags("ruff", why("rewrites files", "--fix --unsafe-fixes --add-noqa")),
        Flags(
            "git",
            {**why(_RUNS, "--upload-pack --receive-pack --exec --ext-diff"), "--output": _WRITES},
            global_dangerous={
                **why(_CONFIG, "-c --config-env"),
                "--exec-path": _RUNS,
                **why("works on another repository", "--git-dir --work-tree"),
                "-C": "works in another directory",
            },
            global_valued=words(
                "-c -C --git-dir --work-tree --namespace --config-env --super-prefix --attr-source"
            ),
            global_flags=words(
                "-p --paginate -P --no-pager --bare --no-replace-objects --literal-pathspecs --glob-pathspecs "
                "--noglob-pathspecs --icase-pathspecs --no-optional-locks --no-advice --exec-path -v --version "
                "-h --help --html-path --man-path --info-path"
            ),
            subcommands={
                **why(
                    _NET,
                    "clone fetch pull push remote submodule ls-remote send-email send-pack fetch-pack "
                    "request-pull svn p4 cvsimport cvsexportcommit cvsserver http-fetch http-push",
                ),
                **why(
                    _RUNS,
                    "daemon upload-pack receive-pack upload-archive http-backend instaweb difftool "
                    "mergetool bisect filter-branch filter-repo shell hook web--browse credential "
                    "credential-store credential-cache",
                ),
                **why(_CONFIG, "config maintenance"),
            },
            per_subcommand={
                **{sub: {"-u": _RUNS} for sub in ("clone", "fetch", "pull", "ls-remote", "fetch-pack")},
                "archive": {"-u": _RUNS, "--remote": _NET},
                "rebase": {"-x": _RUNS},
                "grep": why(_RUNS, "-O --open-files-in-pager"),
            },
            abbrev=True,
        ),
        Flags(
            "node",
            {
                **why(_CODE, "-e --eval -p --print"),
                **why("preloads a module", "-r --require --import --loader --experimental-loader"),
            },
            whole_words=True,
        ),
        Flags("perl", {**why(_CODE, "-e -E"), **why("loads a module", "-M -m")}, short_valued="IxlF0CdD"),
        Flags("ruby", {"-e": _CODE, "-r": "loads a library"}, short_valued="IxCEFK"),
        Flags("php", {**why(_CODE, "-r -B -R -E"), **why(_CONFIG, "-d -c")}, whole_words=True),
        Flags("find", why(_WRITES, "-fprint -fprint0 -fprintf -fls"), whole_words=True),
        Flags(
            "tar",
            why(
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
                    **why(_INSTALL, "add install i remove rm update up upgrade link unlink rebuild import"),
                    **why(_RUNS, "dlx exec"),
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




PYTHON_MODULES_AS_PROGRAMS = frozenset({"pip", "pytest", "venv", "http.server", "ensurepip", "twine", "build",
                                        "pipx", "poetry", "uv", "ruff", "mypy", "black", "coverage"})  # fmt: skip


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
