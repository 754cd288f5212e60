"""The environment a sandboxed command gets: an allow-list of the harness's, never its secrets."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Mapping
from functools import lru_cache

# Where a sandboxed git finds its index: a copy of the worktree's, private to the sandbox and
# writable (the worktree's git directory is read-only), so `git status`, `git checkout -- FILE` and
# `git restore` work. Bubblewrap puts it in the sandbox's /tmp when the sandbox starts; the Landlock
# fallback in each command's private temporary directory.
GIT_INDEX_DIR = ".agentic-index"

ENV_PASSTHROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYENV_ROOT", "PYENV_VERSION", "VIRTUAL_ENV",
                   "RUSTUP_TOOLCHAIN")  # fmt: skip


def rustup_home() -> str | None:
    """rustup's toolchains (RUSTUP_HOME, else ~/.rustup) when its proxies are on PATH (`cargo` and
    `rustc` in ~/.cargo/bin are rustup): shown read-only to commands (agentic.sandbox.hostview) and
    named to them, whose HOME is another. Cargo's own home stays out of sight (its credentials and
    config): commands get a fresh one under HOME, so only crates vendored in the repository build."""
    return _rustup_home(os.environ.get("PATH"), os.environ.get("RUSTUP_HOME"), os.path.expanduser("~"))


@lru_cache(maxsize=8)
def _rustup_home(path: str | None, configured: str | None, user_home: str) -> str | None:
    """rustup_home for these values of PATH, RUSTUP_HOME and the home (asked once, not per command)."""
    if shutil.which("rustup", path=path) is None:
        return None
    home = configured or os.path.join(user_home, ".rustup")
    return os.path.realpath(home) if os.path.isdir(home) else None


def go_module_cache() -> str | None:
    """Go's module cache when `go` is on PATH: GOMODCACHE, else the first GOPATH entry's pkg/mod, each
    from the environment or else from go's own settings file (`go env -w`), else ~/go/pkg/mod. Shown
    read-only to commands and named to them (their HOME is another), so the modules this machine has
    downloaded build offline; go's settings file (proxies and their credentials) stays out of sight."""
    return _go_module_cache(os.environ.get("PATH"), os.environ.get("GOMODCACHE"), os.environ.get("GOPATH"),
                            _go_settings_file(), os.path.expanduser("~"))  # fmt: skip


def _go_settings_file() -> str:
    """Where `go env -w` writes: GOENV, else go/env in the user's configuration directory."""
    configured = os.environ.get("GOENV")
    if configured:
        return configured
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(config, "go", "env")


@lru_cache(maxsize=8)
def _go_module_cache(path: str | None, configured: str | None, gopath: str | None, settings: str,
                     user_home: str) -> str | None:  # fmt: skip
    """go_module_cache for these values (asked once, not per command)."""
    if shutil.which("go", path=path) is None:
        return None
    written = {}
    with contextlib.suppress(OSError, UnicodeDecodeError), open(settings, encoding="utf-8") as fh:
        written = dict(line.strip().split("=", 1) for line in fh if "=" in line)
    cache = configured or written.get("GOMODCACHE")
    if not cache:
        first = (gopath or written.get("GOPATH") or "").split(os.pathsep)[0] or os.path.join(user_home, "go")
        cache = os.path.join(first, "pkg", "mod")
    return os.path.realpath(cache) if os.path.isabs(cache) and os.path.isdir(cache) else None


def command_env(
    home: str = "/tmp", extra: Mapping[str, str | None] | None = None, git_index: str | None = None
) -> dict[str, str]:
    """The environment a sandboxed command gets: an allow-list, never the harness's secrets; then the
    contract's `env` (agentic.policy.contract.command_env): a value sets a variable, None removes one.
    docs/commands.md lists what is set here; all of it but the GIT_CONFIG_* keys can be overridden.
    `git_index`: the sandbox's own copy of the index (GIT_INDEX_FILE), when it made one."""
    env = {k: os.environ[k] for k in ENV_PASSTHROUGH if k in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    env.update(
        HOME=home,
        TMPDIR="/tmp",
        TERM="dumb",
        NO_COLOR="1",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
        PYTEST_ADDOPTS="-p no:cacheprovider",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL="/dev/null",
        # The worktree belongs to the sandbox user, its git dir to the harness: without this, git
        # inside the sandbox stops at its "dubious ownership" check.
        GIT_CONFIG_COUNT="1",
        GIT_CONFIG_KEY_0="safe.directory",
        GIT_CONFIG_VALUE_0="*",
    )
    if git_index is not None:
        env["GIT_INDEX_FILE"] = git_index
    if (rustup := rustup_home()) is not None:
        env["RUSTUP_HOME"] = rustup
    if (modules := go_module_cache()) is not None:
        # the modules this machine has, read-only; no proxy (no network: go says so at once instead of
        # trying), no toolchain download; the build cache is the command's own, under HOME. (No GOFLAGS:
        # a vendor/ directory keeps its default, -mod=vendor.)
        env.update(GOMODCACHE=modules, GOPROXY="off", GOTOOLCHAIN="local")
    for name, value in (extra or {}).items():
        if name.startswith("GIT_CONFIG_"):
            continue
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env
