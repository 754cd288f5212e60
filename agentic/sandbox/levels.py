"""Which isolation this machine gives commands (for `agentic doctor`), and the sandbox to use."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from agentic.errors import SandboxUnavailable
from agentic.sandbox import landlock, seccomp
from agentic.sandbox.base import Sandbox
from agentic.sandbox.bubblewrap import BubblewrapSandbox
from agentic.sandbox.env import command_env
from agentic.sandbox.fallback import LandlockSandbox, UnsafeNoSandbox
from agentic.sandbox.hostview import project_envs
from agentic.sandbox.probe import bwrap_for
from agentic.sandbox.users import default_run_as


@dataclass(frozen=True)
class SandboxLevel:
    """Which isolation commands get on this machine, and what it blocks (for `agentic doctor`)."""

    name: str  # "bubblewrap", "landlock" (fallback) or "none"
    features: dict[str, bool] = field(default_factory=dict)
    detail: str = ""
    fix: str = ""

    def summary(self) -> str:
        on = [name for name, active in self.features.items() if active]
        off = [name for name, active in self.features.items() if not active]
        parts = [self.detail] if self.detail else []
        if on:
            parts.append("blocks/limits: " + ", ".join(on))
        if off:
            parts.append("off: " + ", ".join(off))
        return "; ".join(parts)


@cache
def sandbox_level() -> SandboxLevel:
    """The strongest isolation available here (probed once)."""
    setup, why = bwrap_for(default_run_as())
    filtered, filter_detail = seccomp.status()
    seccomp_fix = "" if filtered else f"seccomp is off: {filter_detail}"
    if setup is not None:
        unprivileged = setup.run_as is not None or os.geteuid() != 0
        features = {
            "namespaces (mount, pid, network, ipc, uts)": True,
            "host home, /root, /home and /run hidden": True,
            "seccomp filter": filtered,
            "resource limits": True,
            "unprivileged user": unprivileged,
        }
        fixes = [seccomp_fix] if seccomp_fix else []
        if not unprivileged:
            fixes.append("install util-linux (setpriv) so commands run as uid 65534")
        return SandboxLevel("bubblewrap", features, f"bubblewrap at {setup.path}", "; ".join(fixes))
    abi = landlock.abi_version()
    install = "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) and allow unprivileged user namespaces"
    if abi > 0:
        features = {
            "namespaces (mount, pid, network, ipc, uts)": False,
            "landlock filesystem rules": True,
            "landlock tcp rules": abi >= 4,
            "landlock signal and abstract-socket scoping": abi >= 6,
            "seccomp filter": filtered,
            "resource limits": True,
            "unprivileged user": True,
        }
        return SandboxLevel("landlock", features, f"Landlock ABI {abi} fallback ({why})", install)
    return SandboxLevel("none", {}, f"{why}; Landlock is not available either", install)


def require_sandbox(*, fallback: bool = False) -> SandboxLevel:
    """The level commands will run at, or SandboxUnavailable saying why they cannot be isolated here.

    The Landlock level counts only with `fallback=True`.
    """
    level = sandbox_level()
    if level.name == "bubblewrap" or (fallback and level.name == "landlock"):
        return level
    _, why = bwrap_for(default_run_as())
    raise SandboxUnavailable(
        f"commands cannot be sandboxed: {why}",
        hint="install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap), or use a contract "
        "without run_tests, run_command and command checks",
    )


def make_sandbox(
    worktree: Path,
    readonly: Iterable[Path] = (),
    *,
    fallback: bool = False,
    unsafe: bool = False,
    persistent: bool = False,
    env: Mapping[str, str | None] | None = None,
    hidden: Iterable[Path] = (),
    secret: Iterable[str] = (),
    read_only: bool = False,
    network: bool = False,
    beside_run: bool = False,
    expose: Iterable[Path] = (),
) -> Sandbox:
    """The strongest sandbox available for `worktree` (see require_sandbox), or the unsafe one on request.

    `persistent`: kept up between commands (the run's worktree); close() it when done. `env`: the
    contract's variables for every command (agentic.policy.contract.command_env). `hidden`: files and
    directories of the worktree commands see empty (what the contract denies to read_file), and
    `secret` the globs whose content git in the sandbox shows in no commit (agentic.git.view);
    bubblewrap only: Landlock cannot take one file out of a tree it allows. `read_only`: the worktree
    itself is read-only to commands (hooks). `network`: the host's network is reachable (an MCP
    server the contract lets out); bubblewrap and Landlock otherwise block it. `beside_run`: the run's
    own sandbox of this worktree is up (a hook's or an MCP server's sandbox): its git view is reused,
    not rebuilt under it. `expose`: host directories shown read-only besides the usual ones (the
    environment of the test command's program: agentic.sandbox.hostview.program_envs).
    """
    variables = dict(env or {})
    if unsafe:
        return UnsafeNoSandbox(worktree, list(readonly), env=variables, read_only_worktree=read_only, network=network)
    level = require_sandbox(fallback=fallback)
    if level.name == "bubblewrap":
        return BubblewrapSandbox(worktree, list(readonly), list(hidden), list(secret), env=variables,
                                 persistent=persistent, read_only_worktree=read_only, network=network,
                                 beside_run=beside_run, expose=list(expose))  # fmt: skip
    return LandlockSandbox(worktree, list(readonly), env=variables, read_only_worktree=read_only, network=network,
                           expose=list(expose))  # fmt: skip


def sandbox_identity(
    checkout: Path, *, fallback: bool = False, unsafe: bool = False,
    env: Mapping[str, str | None] | None = None, secret: Iterable[str] = (), expose: Iterable[Path] = (),
) -> str | None:  # fmt: skip
    """A digest of what a checkout sandbox made with these arguments (make_sandbox, not persistent,
    writable) shows a command besides the checkout itself: its level, its environment, the host
    directories it brings back and the globs it masks. Two clean checkouts of one commit under one
    identity run a command alike, so what the command found in one holds for the other.

    None when the person's checkout `checkout` keeps a virtual environment of its own (.venv, ...), or
    when `expose` shows one: commands see it, and what is installed there can change at any moment.
    """
    if project_envs(str(checkout)) or next(iter(expose), None) is not None:
        return None
    level = "none" if unsafe else require_sandbox(fallback=fallback).name
    shown = {
        "level": level,
        "env": sorted(command_env(extra=dict(env or {})).items()),
        "host": [os.environ.get(k) for k in ("HOME", "XDG_RUNTIME_DIR", "PYENV_ROOT")],
        "python": [sys.executable, sys.prefix, sys.base_prefix, sys.exec_prefix],
        "user": os.geteuid(),
        "secret": sorted(secret),
    }
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode("utf-8", "surrogateescape")).hexdigest()
