"""The harness's own git: one hardened way to run it, on the host, over untrusted repositories.

No system or global config, hooks, fsmonitor, pagers, external diff or textconv, no terminal
prompts, no background maintenance (the person's own git runs it as they configured), and no filter
driver: a `filter=` attribute in the repository (LFS, git-crypt, anything its config names) never
starts a program on the host, so checkouts hold the blobs as stored (LFS pointer files stay
pointers) and snapshots store the bytes as written. Paths that are not UTF-8 round-trip through
`surrogateescape`, as `os.fsdecode` gives them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from agentic.errors import WorkspaceError

HARDENING = [
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.fsmonitor=false",
    "-c", "core.pager=cat",
    "-c", "diff.external=",
    "-c", "core.sshCommand=false",
    "-c", "protocol.allow=never",
    "-c", "submodule.recurse=false",
    "-c", "safe.directory=*",  # worktrees are handed to the sandbox's unprivileged user
    "-c", "maintenance.auto=false",  # no `git maintenance run --auto` after a commit or cherry-pick
]  # fmt: skip
DRIVER_KEYS = ("clean", "smudge", "process")


def program() -> str:
    """git's path on PATH (found once per PATH value: a run makes about thirty git calls, and each
    would search PATH again); "git" when PATH has none, so that starting it fails as it would, or
    when it is found through a relative PATH entry (which names another git in each directory)."""
    return _which_git(os.environ.get("PATH"))


@lru_cache(maxsize=8)
def _which_git(path: str | None) -> str:
    found = shutil.which("git", path=path)
    return found if found is not None and os.path.isabs(found) else "git"


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null", GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    env.update(extra or {})
    return env


def _config_file(where: str, explicit: bool) -> str | None:
    """The repository's shared config file (where its filter drivers are defined); remembered once
    found (a failure, such as a directory that is not a repository yet, is asked again)."""
    key = (where, explicit)
    if key not in _CONFIG_FILES and not explicit:
        found = _own_git_dir(where)  # the working tree's top: its git dir is where .git says
        if found is not None and os.path.isfile(os.path.join(found, "HEAD")):
            where, explicit = found, True
    if key not in _CONFIG_FILES and explicit and os.path.isfile(os.path.join(where, "HEAD")):
        # a git dir named outright: its common dir is where its `commondir` file points, else itself
        # (gitrepository-layout(5)); read here rather than asked of a git process
        try:
            with open(os.path.join(where, "commondir"), encoding="utf-8") as fh:
                common = os.path.join(where, fh.read().strip())
        except FileNotFoundError:
            common = where
        except (OSError, UnicodeDecodeError):
            common = None
        if common is not None:
            _CONFIG_FILES[key] = os.path.join(os.path.abspath(common), "config")
    if key not in _CONFIG_FILES:
        location = [f"--git-dir={where}"] if explicit else []
        with starting(Path(where)):
            done = subprocess.run([program(), *HARDENING, *location, "rev-parse", "--path-format=absolute", "--git-common-dir"],
                                  cwd=None if explicit else where, env=git_env(), capture_output=True,
                                  check=False)  # fmt: skip
        if done.returncode != 0:
            return None
        if len(_CONFIG_FILES) > 1024:
            _CONFIG_FILES.clear()
        _CONFIG_FILES[key] = os.path.join(os.fsdecode(done.stdout.strip()), "config")
    return _CONFIG_FILES[key]


_CONFIG_FILES: dict[tuple[str, bool], str] = {}


def dot_git_file(top: str) -> str | None:
    """The git dir a working tree's `.git` file names (`gitdir: <path>`, relative to the tree), as
    written; None when `.git` is not such a file (missing, a directory, a link, unreadable)."""
    dot_git = os.path.join(top, ".git")
    if os.path.islink(dot_git):
        return None
    try:
        with open(dot_git, encoding="utf-8") as fh:
            text = fh.read(4096).strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith("gitdir:") or "\n" in text:
        return None
    return os.path.join(top, text[len("gitdir:") :].strip())


def _own_git_dir(top: str) -> str | None:
    """The git dir of a working tree's top directory, read from its `.git` (a directory, or a file
    saying `gitdir: <path>` as a linked worktree's does); None when `top` has neither (git would
    look further up: it is asked then)."""
    dot_git = os.path.join(top, ".git")
    if os.path.isdir(dot_git) and not os.path.islink(dot_git):
        return dot_git
    return dot_git_file(top)


@lru_cache(maxsize=256)
def _drivers(config: str, stamp: tuple[int, int]) -> tuple[str, ...]:
    if not _may_define_drivers(config):
        return ()
    done = subprocess.run(
        [program(), "config", "--file", config, "-z", "--includes", "--get-regexp", r"^filter\..*\.(clean|smudge|process)$"],
        env=git_env(), capture_output=True, check=False,
    )  # fmt: skip
    names = sorted({os.fsdecode(key.split(b"\n", 1)[0])[len("filter."):].rsplit(".", 1)[0]
                    for key in done.stdout.split(b"\0") if key})  # fmt: skip
    options: list[str] = []
    for name in names:
        options += [arg for key in DRIVER_KEYS for arg in ("-c", f"filter.{name}.{key}=")]
        options += ["-c", f"filter.{name}.required=false"]
    return tuple(options)


def no_drivers(where: str, explicit: bool) -> tuple[str, ...]:
    """`-c` options that switch off every filter driver the repository's config defines (an empty
    command is no filter; `required=false` so git stores the bytes instead of failing). Read again
    whenever the config file changes."""
    config = _config_file(where, explicit)
    try:
        info = os.stat(config) if config else None
    except OSError:
        info = None
    return _drivers(config, (info.st_mtime_ns, info.st_size)) if config and info else ()


def _may_define_drivers(config: str) -> bool:
    """False only when the file plainly defines no filter: neither a `filter` nor an `include`
    (section names are case-insensitive) appears in it anywhere. Then no git is asked."""
    try:
        with open(config, "rb") as fh:
            text = fh.read().lower()
    except OSError:
        return True
    return b"filter" in text or b"include" in text


def hardening(args: list[str], cwd: Path) -> list[str]:
    """HARDENING plus the filter drivers of the repository the command works on."""
    explicit = next((a.removeprefix("--git-dir=") for a in args if a.startswith("--git-dir=")), None)
    if explicit is None and args[:1] == ["--git-dir"] and len(args) > 1:  # git's own option, before the command
        explicit = args[1]
    if args[:1] in (["init"], ["clone"]):
        return HARDENING
    return [*HARDENING, *no_drivers(explicit or str(cwd), explicit is not None)]


@contextmanager
def starting(cwd: Path) -> Iterator[None]:
    """Where git's failure to start (not installed, the directory gone) becomes a WorkspaceError."""
    try:
        yield
    except OSError as exc:
        where = exc.filename if exc.filename not in (None, "git", program()) else cwd
        raise WorkspaceError(f"git cannot run in {where}: {exc.strerror or exc}",
                             hint="install git and put it on PATH; `agentic doctor` checks it") from None  # fmt: skip


def run_git(
    args: list[str], cwd: Path, *, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a hardened git command; the caller inspects the result."""
    with starting(cwd):
        return subprocess.run(
            [program(), *hardening(args, cwd), *args],
            cwd=cwd, env=git_env(env), input=input, capture_output=True, check=False,
            encoding="utf-8", errors="surrogateescape",
        )  # fmt: skip


def run_git_bytes(
    args: list[str], cwd: Path, *, env: dict[str, str] | None = None, input: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """run_git for content: bytes in, bytes out."""
    with starting(cwd):
        return subprocess.run([program(), *hardening(args, cwd), *args], cwd=cwd, env=git_env(env), input=input,
                              capture_output=True, check=False)  # fmt: skip


def failure(args: list[str], stderr: str, stdout: str = "") -> WorkspaceError:
    command = next((a for a in args if not a.startswith("-")), "")
    return WorkspaceError(f"git {command} failed: {stderr.strip() or stdout.strip()}")


def git(args: list[str], cwd: Path, *, env: dict[str, str] | None = None, check: bool = True,
        input: str | None = None) -> str:  # fmt: skip
    """Run a hardened git command and return its stdout; WorkspaceError when it fails and check is set."""
    done = run_git(args, cwd, env=env, input=input)
    if check and done.returncode != 0:
        raise failure(args, done.stderr, done.stdout)
    return done.stdout


def person_configs(keys: list[str], cwd: Path) -> dict[str, str]:
    """Values of the person's own git config as git reads them for them (system, global, repository),
    with one git: the last value of each key that is set; unset or unreadable keys are left out.
    Reading config runs nothing, so only the environment's GIT_ variables are left out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    pattern = "^(" + "|".join(re.escape(key.lower()) for key in keys) + ")$"
    try:
        done = subprocess.run([program(), "config", "-z", "--get-regexp", pattern], cwd=cwd, env={**env, "LC_ALL": "C"},
                              capture_output=True, check=False, encoding="utf-8", errors="surrogateescape")  # fmt: skip
    except OSError:
        return {}
    if done.returncode != 0:
        return {}
    wanted = {key.lower(): key for key in keys}
    found: dict[str, str] = {}
    for item in done.stdout.split("\0"):
        name, _, value = item.partition("\n")
        if name.lower() in wanted:
            found[wanted[name.lower()]] = value.strip()
    return found
