"""The built-in tables of programs' options: those that change what an allowed program does.

`FLAGS` says, per program, which options and subcommands are dangerous (with why), which options
take a value and which come before a subcommand; `program_name` normalises a word to a table's key.
agentic.policy.shell.flags reads the tables to find such options in a command.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field


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
RUNS_CODE = "runs code given on the command line"
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
                **why(RUNS_CODE, "-E --eval"),
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
                **why(RUNS_CODE, "-e --eval -p --print"),
                **why("preloads a module", "-r --require --import --loader --experimental-loader"),
            },
            whole_words=True,
        ),
        Flags("perl", {**why(RUNS_CODE, "-e -E"), **why("loads a module", "-M -m")}, short_valued="IxlF0CdD"),
        Flags("ruby", {"-e": RUNS_CODE, "-r": "loads a library"}, short_valued="IxCEFK"),
        Flags("php", {**why(RUNS_CODE, "-r -B -R -E"), **why(_CONFIG, "-d -c")}, whole_words=True),
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

PYTHON_MODULES_AS_PROGRAMS = frozenset({"pip", "pytest", "venv", "http.server", "ensurepip", "twine", "build",
                                        "pipx", "poetry", "uv", "ruff", "mypy", "black", "coverage"})  # fmt: skip
