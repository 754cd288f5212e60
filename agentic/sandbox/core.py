"""Process isolation for every command the agent or the gate runs.

`BubblewrapSandbox` runs an argv (never a shell) under bubblewrap:

- a harness worktree is seen at the person's working tree path (agentic.gitview): bound over the
  person's checkout, which stays hidden, with the checkout's virtual environment bound back read-only
  and a `.git` file of the sandbox's own pointing at a git dir synthesized for the run (its branch,
  tags and the object store; none of the person's config, index, stash or worktrees), bound
  read-only at /tmp/.agentic-git; editable installs and absolute paths then resolve to the run's code;
- the host root read-only; only the run's worktree writable, except its `.git` link and the given
  read-only paths, which are bound read-only after a check, before every spawn, that no component
  of them below the worktree is a symbolic link (bubblewrap before 0.12 follows links at mount
  targets, so a planted link would put a mount onto the host);
- a private, size-limited /tmp and /dev/shm; the harness's $HOME, /root, /home, /run,
  $XDG_RUNTIME_DIR and the person's checkout hidden under empty read-only tmpfs, then the few
  directories commands need re-bound read-only (PATH entries, the Python prefixes, PYENV_ROOT,
  VIRTUAL_ENV, the repository's git dir when it is not viewed), and secret files that are still visible masked;
- every namespace unshared (no network, its own PID namespace), `--die-with-parent`,
  `--new-session`, a seccomp filter (agentic.seccomp), and resource limits (address space, CPU
  seconds, file size, process count) set on the sandbox's init with prlimit(2) while bubblewrap
  waits on `--block-fd`, so the command and everything it starts inherit them;
- when the harness is root, the command runs as a uid/gid of the worktree's own (sandbox_user; process
  limits do not bind root, and concurrent runs must not share theirs):
  bubblewrap mounts as root, keeps only CAP_SETUID/CAP_SETGID, and `setpriv` drops to that user with
  no capabilities and no_new_privs. The worktree is handed to that user before every command.

A timeout kills the whole process tree: bubblewrap is the PID-namespace init's parent, and the
namespace dies with it, including children that called setsid or double-forked.

With `persistent=True` (the run's worktree) the same bubblewrap set-up is started once and a server
inside it runs each command (agentic.sandbox_server): rlimits are set by the server in the forked
command, what a command leaves running is killed when it ends, and read-only targets are checked
and bound when the sandbox starts.
Output is capped: head and tail are kept and the cut is marked.

Without bubblewrap, `LandlockSandbox` (opt-in) uses Landlock filesystem/network rules, the seccomp
filter (which here also pins the process group), rlimits and a new session. `UnsafeNoSandbox` is a
plain subprocess with the same environment and limits, for `--unsafe-no-sandbox` only.
`sandbox_level()` says which level this machine gets and what it blocks.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import json
import math
import os
import pwd
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Protocol

from agentic.errors import SandboxUnavailable
from agentic.git.view import GIT_AT, GitView, git_common_dir, git_view
from agentic.sandbox import landlock, seccomp
from agentic.sandbox.server import NOT_FOUND_PREFIX, Server, ServerFailed, ServerGone, server_argv

ENV_PASSTHROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYENV_ROOT", "PYENV_VERSION", "VIRTUAL_ENV")
GiB = 1024**3
MiB = 1024**2
NOBODY = (65534, 65534)  # the probe's user; a sandbox runs as a user of its own (sandbox_user)
SANDBOX_UIDS = (1_500_000_000, 100_000_000)  # first uid, how many: a range no account or subuid map uses


def sandbox_user(worktree: str) -> tuple[int, int]:
    """The uid/gid a root harness runs this worktree's commands as: one of its own, derived from the
    worktree's path. Concurrent runs (agentic eval) then neither share the per-user process limit
    (RLIMIT_NPROC), nor see each other's processes as their own to signal."""
    first, span = SANDBOX_UIDS
    uid = first + int.from_bytes(hashlib.sha256(worktree.encode()).digest()[:8], "big") % span
    return uid, uid
CPU_MARGIN_S = 5  # RLIMIT_CPU default: the timeout plus this
REFUSED_EXIT = 126  # exit code of a CommandResult for a command the sandbox refused to start
# Relative to a home directory; masked when still visible inside the sandbox.
SECRET_PATHS = (
    ".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker/config.json", ".config/gcloud", ".config/gh",
    ".config/hub", ".config/op", ".git-credentials", ".netrc", ".pypirc", ".npmrc", ".yarnrc",
    ".gem/credentials", ".cargo/credentials", ".cargo/credentials.toml", ".m2/settings.xml", ".pgpass",
    ".my.cnf", ".vault-token", ".password-store", ".local/share/keyrings", ".terraform.d",
    ".bash_history", ".zsh_history", ".python_history", ".env",
)  # fmt: skip
DEVICES_RW = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")
NOT_FOUND = ("bwrap: execvp ", "setpriv: failed to execute ", NOT_FOUND_PREFIX)


@dataclass
class CommandResult:
    argv: list[str]
    exit_code: int | None  # None when killed at the timeout
    output: str
    duration_s: float
    timed_out: bool = False
    truncated: bool = False
    sandbox: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def summary(self) -> str:
        if self.timed_out:
            return f"killed after the {self.duration_s:.0f}s timeout"
        return f"exit status {self.exit_code}"


class Sandbox(Protocol):
    name: str

    def run(self, argv: list[str], *, timeout_s: float, max_output_bytes: int = 60_000) -> CommandResult: ...

    def close(self) -> None: ...


def command_env(home: str = "/tmp", extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The environment a sandboxed command gets: an allow-list, never the harness's secrets; then the
    contract's `env` (agentic.contract.command_env): a value sets a variable, None removes one.
    docs/commands.md lists what is set here; all of it but the GIT_CONFIG_* keys can be overridden."""
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
    for name, value in (extra or {}).items():
        if name.startswith("GIT_CONFIG_"):
            continue
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


class _Capped:
    """Collects a stream keeping the first and last `limit / 2` bytes."""

    def __init__(self, limit: int) -> None:
        self.half = max(1, limit // 2)
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_len = 0
        self.dropped = 0

    def feed(self, chunk: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail.append(chunk)
        self.tail_len += len(chunk)
        while self.tail_len - len(self.tail[0]) >= self.half:
            self.tail_len -= len(self.tail[0])
            self.dropped += len(self.tail.popleft())

    def text(self) -> tuple[str, bool]:
        tail = b"".join(self.tail)
        if self.tail_len > self.half:
            extra = self.tail_len - self.half
            self.dropped += extra
            tail = tail[extra:]
            self.tail_len = self.half
        head = self.head.decode("utf-8", "replace")
        rest = tail.decode("utf-8", "replace")
        if self.dropped:
            return f"{head}\n[… {self.dropped} bytes of output cut …]\n{rest}", True
        return head + rest, False


def run_process(
    cmd: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout_s: float,
    max_output_bytes: int,
    pass_fds: Sequence[int] = (),
    preexec_fn: Callable[[], None] | None = None,
    user: tuple[int, int] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> tuple[int | None, str, bool, bool, float]:
    """Run cmd in its own session; on timeout kill its process group. → (code, output, timed_out, cut, secs).

    `user` (uid, gid) switches the child to that user with no supplementary groups; with it or a
    preexec_fn, Python forks instead of using vfork. `on_start(pid)` runs once the child exists,
    under the timeout; when it raises OSError the group is killed and the error re-raised.
    """
    start = time.monotonic()
    ids = {"user": user[0], "group": user[1], "extra_groups": []} if user else {}
    proc = subprocess.Popen(  # type: ignore[call-overload]
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        pass_fds=tuple(pass_fds),
        preexec_fn=preexec_fn,
        **ids,
    )
    buffer = _Capped(max_output_bytes)

    def pump() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read1(65536):
            buffer.feed(chunk)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    expired = threading.Event()

    def kill_group() -> None:
        expired.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    # A timer rather than wait(timeout): Popen.wait(timeout) polls with sleeps of up to 50 ms.
    timer = threading.Timer(timeout_s, kill_group)
    timer.start()
    failure: OSError | None = None
    try:
        if on_start is not None:
            try:
                on_start(proc.pid)
            except OSError as exc:
                failure = exc
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        timer.cancel()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group
        proc.wait()
    timed_out = expired.is_set()
    reader.join(timeout=5)
    if proc.stdout is not None:
        proc.stdout.close()
    if failure is not None:
        raise failure
    output, cut = buffer.text()
    return (None if timed_out else proc.returncode), output, timed_out, cut, time.monotonic() - start


def _refused(argv: list[str], why: str, sandbox: str) -> CommandResult:
    return CommandResult(list(argv), REFUSED_EXIT, f"refused to start: {why}\n", 0.0, sandbox=sandbox)


def _not_found(argv: list[str], code: int | None, output: str) -> str:
    if code not in (None, 0) and output.startswith(NOT_FOUND) and argv and argv[0] in output.splitlines()[0]:
        return f"{argv[0]}: command not found inside the sandbox\n{output}"
    return output


# ---------------------------------------------------------------------------------------------
# What is available here


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


@dataclass(frozen=True)
class _Bwrap:
    """A bubblewrap invocation that was probed to work here."""

    path: str
    flags: tuple[str, ...]  # namespaces and capabilities
    user_prefix: tuple[str, ...]  # setpriv … -- when dropping to run_as inside
    run_as: tuple[int, int] | None

    def user_for(self, run_as: tuple[int, int] | None) -> tuple[str, ...]:
        """The setpriv prefix that drops to `run_as` (empty: no drop)."""
        if not self.user_prefix or run_as is None:
            return ()
        return (self.user_prefix[0], f"--reuid={run_as[0]}", f"--regid={run_as[1]}", "--clear-groups",
                "--inh-caps=-all", "--")  # fmt: skip


def default_run_as() -> tuple[int, int] | None:
    """Who commands run as: uid/gid 65534 when the harness is root, else the harness's own user."""
    return NOBODY if os.geteuid() == 0 else None


@cache
def _probe_bwrap(drop: bool) -> tuple[_Bwrap | None, str]:
    """A working bubblewrap set-up: `drop` = as root, switch to 65534 inside (needs setpriv)."""
    path = shutil.which("bwrap")
    if path is None:
        return None, "bubblewrap (bwrap) is not installed"
    root = os.geteuid() == 0
    variants: list[tuple[tuple[str, ...], tuple[str, ...], tuple[int, int] | None]] = []
    if drop and root:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            return None, "setpriv (util-linux) is not installed"
        uid, gid = NOBODY
        # Real root does the mounts (so it can bind what lives under /root), then keeps only the
        # two capabilities setpriv needs to become 65534; no user namespace.
        flags = ("--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                 "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID")  # fmt: skip
        user = (setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--inh-caps=-all", "--")
        variants.append((flags, user, NOBODY))
    else:
        base = ("--unshare-all", "--unshare-user", *(("--cap-drop", "ALL") if root else ()))
        variants += [((*base, "--disable-userns"), (), None), (base, (), None)]
    why = ""
    for options, prefix, run_as in variants:
        probe = [path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", *options,
                 "--die-with-parent", "--new-session", "--", *prefix, "true"]  # fmt: skip
        try:
            done = subprocess.run(probe, capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"bubblewrap cannot start: {exc}"
        if done.returncode == 0:
            return _Bwrap(path, options, prefix, run_as), ""
        why = done.stderr.decode("utf-8", "replace").strip()
    return None, f"bubblewrap cannot create namespaces here: {why}"


def _bwrap_for(run_as: tuple[int, int] | None) -> tuple[_Bwrap | None, str]:
    if run_as is not None and os.geteuid() == 0:
        setup, _ = _probe_bwrap(True)
        if setup is not None:
            return setup, ""
    setup, other = _probe_bwrap(False)
    return setup, other if setup is None else ""


@cache
def sandbox_level() -> SandboxLevel:
    """The strongest isolation available here (probed once)."""
    setup, why = _bwrap_for(default_run_as())
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
    _, why = _bwrap_for(default_run_as())
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
) -> Sandbox:
    """The strongest sandbox available for `worktree` (see require_sandbox), or the unsafe one on request.

    `persistent`: kept up between commands (the run's worktree); close() it when done. `env`: the
    contract's variables for every command (agentic.contract.command_env). `hidden`: files and
    directories of the worktree commands see empty (what the contract denies to read_file), and
    `secret` the globs whose content git in the sandbox shows in no commit (agentic.gitview);
    bubblewrap only: Landlock cannot take one file out of a tree it allows.
    """
    variables = dict(env or {})
    if unsafe:
        return UnsafeNoSandbox(worktree, list(readonly), env=variables)
    level = require_sandbox(fallback=fallback)
    if level.name == "bubblewrap":
        return BubblewrapSandbox(worktree, list(readonly), list(hidden), list(secret), env=variables,
                                 persistent=persistent)  # fmt: skip
    return LandlockSandbox(worktree, list(readonly), env=variables)


# ---------------------------------------------------------------------------------------------
# The host as commands see it


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _existing_dir(path: str | None) -> str | None:
    if not path:
        return None
    real = os.path.realpath(path)
    return real if os.path.isdir(real) else None


def _traversable(path: str, uid: int, gid: int) -> bool:
    """May uid:gid (no supplementary groups) search this directory? ACLs are not considered."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


PROJECT_ENVS = (".venv", "venv", "env", ".env")  # virtual environments kept in a checkout (with a pyvenv.cfg)


def _project_envs(checkout: str | None) -> list[str]:
    """The checkout's own virtual environments: shown read-only at their path, also inside a worktree
    seen at the checkout's path, so the project's interpreter and its editable installs work there."""
    if checkout is None:
        return []
    return [os.path.join(checkout, d) for d in PROJECT_ENVS if os.path.isfile(os.path.join(checkout, d, "pyvenv.cfg"))]


def _homes() -> list[str]:
    homes = [os.environ.get("HOME", "")]
    with contextlib.suppress(KeyError):
        homes.append(pwd.getpwuid(os.geteuid()).pw_dir)
    return [h for h in homes if h]


def _interpreter_dirs() -> list[str]:
    """Where the Python that commands will likely use lives: this one's prefixes and VIRTUAL_ENV's."""
    dirs = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
            os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))]  # fmt: skip
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        dirs.append(venv)
        with contextlib.suppress(OSError):
            for line in Path(venv, "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "home" and value.strip():
                    dirs.append(os.path.dirname(os.path.realpath(value.strip())))
    return dirs


def _path_entries() -> list[str]:
    entries = []
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if not entry or not os.path.isabs(entry):
            continue
        entries.append(entry)
        parent = os.path.dirname(entry)
        if os.path.basename(entry) == "shims" and os.path.isdir(os.path.join(parent, "libexec")):
            entries.append(parent)  # a pyenv/rbenv-style root: its shims call libexec/*
    return entries


@dataclass(frozen=True)
class HostView:
    """Which host directories are hidden, re-exposed read-only and masked (all real paths)."""

    hidden: tuple[str, ...]  # empty tmpfs over each, read-only after the binds below
    exposed: tuple[str, ...]  # bound read-only at their own path
    masked_files: tuple[str, ...]
    masked_dirs: tuple[str, ...]

    def mount_parents(self, targets: Iterable[str]) -> dict[str, str]:
        """{directory: mode} to create in the tmpfs above each target bound there.

        Left to itself, bubblewrap 0.8 gives them the modes of the host directories, so a 0700
        /root/.cargo above /root/.cargo/bin would lock the sandbox user out. Under the private
        /tmp they are sticky and world-writable like /tmp itself; elsewhere 0755.
        """
        out: dict[str, str] = {}
        for target in targets:
            root = next((h for h in (*self.hidden, "/tmp") if _under(target, h) and target != h), None)
            if root is None:
                continue
            parts = Path(target).parts
            for depth in range(len(Path(root).parts) + 1, len(parts)):
                out[str(Path(*parts[:depth]))] = "1777" if root == "/tmp" else "0755"
        return out


def host_view(worktree: str, run_as: tuple[int, int] | None, expose: Iterable[Path] = (),
              view: GitView | None = None) -> HostView:  # fmt: skip
    """Compute what to hide and what to bring back for a sandbox on `worktree` (a real path). With
    a git view, the person's checkout and git dir are hidden and only the view's parts come back."""
    if view is not None:
        checkout: str | None = view.at
        git_dirs: list[str | None] = list(view.expose)
    else:
        common = git_common_dir(Path(worktree))
        checkout = str(common.parent) if common is not None and common.name == ".git" else None
        git_dirs = [str(common) if common else None]
    wanted = [*_homes(), "/root", "/home", "/run", "/var/run", os.environ.get("XDG_RUNTIME_DIR"), checkout,
              *(view.hide if view else ())]  # fmt: skip
    # Anything under /tmp is already out of sight: the sandbox gets its own empty /tmp.
    hidden: set[str] = {d for d in map(_existing_dir, wanted) if d and d != "/" and not _under(d, "/tmp")}
    candidates = [*_path_entries(), *_interpreter_dirs(), os.environ.get("PYENV_ROOT"),
                  *git_dirs, *map(str, expose), *_project_envs(checkout)]  # fmt: skip
    exposed_all = [d for d in dict.fromkeys(map(_existing_dir, candidates)) if d]

    def covered(path: str, dirs: Iterable[str]) -> bool:
        return any(_under(path, d) for d in dirs)

    if run_as is not None:
        # A directory the sandbox user cannot search hides nothing it could see: an empty tmpfs
        # there changes no access, and lets bubblewrap create the mount points beneath it.
        for target in [worktree, *exposed_all]:
            for depth in range(2, len(Path(target).parts)):
                ancestor = str(Path(*Path(target).parts[:depth]))
                if covered(ancestor, hidden | {"/tmp"}):
                    break
                if not _traversable(ancestor, *run_as):
                    hidden.add(ancestor)
                    break
    hidden_list = sorted(hidden, key=len)
    hidden_list = [h for i, h in enumerate(hidden_list) if not covered(h, hidden_list[:i])]
    invisible = [*hidden_list, "/tmp"]
    exposed = [d for d in sorted(exposed_all, key=len) if covered(d, invisible)]
    exposed = [d for i, d in enumerate(exposed) if not covered(d, exposed[:i])]
    files: list[str] = []
    dirs: list[str] = []
    for home in dict.fromkeys(_homes()):
        for name in SECRET_PATHS:
            real = os.path.realpath(os.path.join(home, name))
            if not os.path.exists(real) or (covered(real, invisible) and not covered(real, exposed)):
                continue
            if _under(worktree, real):
                continue
            (dirs if os.path.isdir(real) else files).append(real)
    return HostView(
        tuple(hidden_list), tuple(exposed), tuple(dict.fromkeys(files)), tuple(dict.fromkeys(dirs))
    )


# ---------------------------------------------------------------------------------------------
# The worktree before each command


def inside(worktree: Path, real_worktree: str, path: Path) -> str:
    """`path` (relative to the worktree, or absolute inside it) as a path under the real worktree."""
    full = os.path.abspath(path if path.is_absolute() else worktree / path)
    for base in (os.path.abspath(worktree), real_worktree):
        if _under(full, base) and full != base:
            return os.path.join(real_worktree, os.path.relpath(full, base))
    raise ValueError(f"read-only path {path} is not inside the worktree {worktree}")


class MountRefused(Exception):
    """A read-only mount target inside the worktree is (or runs through) a symbolic link."""


@functools.cache
def empty_file() -> str:
    """An empty, read-only regular file to mount over a masked one (a device would confuse git)."""
    fd, path = tempfile.mkstemp(prefix="agentic-empty-")
    os.close(fd)
    os.chmod(path, 0o444)
    return path


def check_mount_targets(worktree: str, paths: Iterable[str]) -> list[str]:
    """The targets that exist, each checked component by component (lstat) below the worktree.

    Raises MountRefused naming the first link found; a path that vanished is skipped.
    """
    out: list[str] = []
    for path in paths:
        rel = os.path.relpath(path, worktree)
        if rel == "." or rel.startswith(".."):
            raise MountRefused(f"{path} is not inside the worktree")
        current = worktree
        present = True
        for part in Path(rel).parts:
            current = os.path.join(current, part)
            try:
                st = os.lstat(current)
            except FileNotFoundError:
                present = False
                break
            except NotADirectoryError:
                present = False
                break
            if stat.S_ISLNK(st.st_mode):
                shown = os.path.relpath(current, worktree)
                raise MountRefused(
                    f"`{shown}` inside the worktree is a symbolic link, and the sandbox mounts a read-only "
                    f"path there; remove the link or restore the original, then run the command again"
                )
        if present:
            out.append(current)
    return out


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
SETTLED_NS = 2_000_000_000  # a directory unchanged for this long is remembered as adopted


ADOPT_MAX_DEPTH = 256  # levels adopt descends (one fd and one frame each); git checks out far less deep


def adopt(root: str, uid: int, gid: int, skip: Iterable[str] = (),
          seen: dict[str, tuple[tuple[int, int, int], list[str]]] | None = None) -> int:  # fmt: skip
    """Give everything under `root` (itself included) to uid:gid; returns how many entries changed.

    Walks with directory fds (one per level) and never follows links, so a link planted in the
    tree cannot redirect it. Entries in `skip` (absolute paths) and hard-linked files are left alone.

    `seen` remembers directories already adopted: an entry can only appear in a directory by
    changing its mtime, so a directory whose inode, mtime and ctime are as remembered is not listed
    again (its subdirectories still are checked). Only directories unchanged for SETTLED_NS are
    remembered, so a change within one timestamp tick of the walk is never missed.
    """
    top = os.open(root, _DIR_FLAGS)
    try:
        st = os.fstat(top)
        changed = 0
        if (st.st_uid, st.st_gid) != (uid, gid):
            os.fchown(top, uid, gid)
            changed = 1
        walk = _Adoption(uid, gid, set(skip), {} if seen is None else seen, time.time_ns())
        return changed + walk.directory(top, root, 0)
    finally:
        os.close(top)


@dataclass
class _Adoption:
    uid: int
    gid: int
    skip: set[str]
    seen: dict[str, tuple[tuple[int, int, int], list[str]]]
    now_ns: int

    def directory(self, fd: int, path: str, depth: int) -> int:
        st = os.fstat(fd)  # before listing: a later change moves mtime, or falls in the unsettled window
        key = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
        known = self.seen.get(path)
        changed = 0
        if known is not None and known[0] == key:
            subdirs = known[1]
        else:
            changed, subdirs = self.entries(fd, path)
            if self.now_ns - max(st.st_mtime_ns, st.st_ctime_ns) > SETTLED_NS:
                self.seen[path] = (key, subdirs)
            else:
                self.seen.pop(path, None)
        for name in subdirs if depth < ADOPT_MAX_DEPTH else ():  # deeper: only the sandbox made it, it owns it
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError:
                continue
            try:
                changed += self.directory(child, os.path.join(path, name), depth + 1)
            finally:
                os.close(child)
        return changed

    def entries(self, fd: int, path: str) -> tuple[int, list[str]]:
        changed, subdirs = 0, []
        with os.scandir(fd) as entries:
            for entry in entries:
                if os.path.join(path, entry.name) in self.skip:
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                is_dir = stat.S_ISDIR(st.st_mode)
                if (st.st_uid, st.st_gid) != (self.uid, self.gid) and (is_dir or st.st_nlink == 1):
                    os.chown(entry.name, self.uid, self.gid, dir_fd=fd, follow_symlinks=False)
                    changed += 1
                if is_dir:
                    subdirs.append(entry.name)
        return changed, subdirs


# ---------------------------------------------------------------------------------------------
# The sandboxes


@dataclass
class _Limited:
    worktree: Path
    readonly: list[Path] = field(default_factory=list)  # paths inside the worktree to keep read-only
    hidden: list[Path] = field(default_factory=list)  # paths inside the worktree commands see empty (bubblewrap)
    secret: list[str] = field(default_factory=list)  # globs of paths whose content git shows in no commit
    memory_bytes: int | None = 4 * GiB  # RLIMIT_AS
    cpu_s: int | None = None  # RLIMIT_CPU; None: the timeout + CPU_MARGIN_S
    file_bytes: int | None = 1 * GiB  # RLIMIT_FSIZE
    processes: int | None = 256  # RLIMIT_NPROC (counted per user; does not bind root)
    tmp_bytes: int = 1 * GiB  # size of the private /tmp (and of /dev/shm)
    seccomp: bool = True
    expose: list[Path] = field(default_factory=list)  # more host directories to show read-only
    env: dict[str, str | None] = field(default_factory=dict)  # the contract's variables (None: unset)
    run_as: tuple[int, int] | None = field(default_factory=default_run_as)

    def limits(self, timeout_s: float) -> list[tuple[int, int, int]]:
        """(resource, soft, hard) for the command."""
        cpu = self.cpu_s if self.cpu_s is not None else math.ceil(timeout_s) + CPU_MARGIN_S
        out = [(resource.RLIMIT_CPU, cpu, cpu + CPU_MARGIN_S), (resource.RLIMIT_CORE, 0, 0)]
        for res, value in ((resource.RLIMIT_AS, self.memory_bytes), (resource.RLIMIT_FSIZE, self.file_bytes),
                           (resource.RLIMIT_NPROC, self.processes)):  # fmt: skip
            if value is not None:
                out.append((res, value, value))
        return out

    def set_limits(self, timeout_s: float) -> Callable[[], None]:
        limits = self.limits(timeout_s)

        def apply() -> None:
            for res, soft, hard in limits:
                resource.setrlimit(res, (soft, hard))

        return apply

    def _filter(self, pin_session: bool = False) -> bytes | None:
        return seccomp.program(pin_session) if self.seccomp else None

    def close(self) -> None:
        """Release what the sandbox holds between commands (nothing, unless it is persistent)."""


@dataclass
class BubblewrapSandbox(_Limited):
    name: str = "bubblewrap"
    # One sandbox for all commands (agentic.sandbox_server): bubblewrap is started once, each
    # command is a fork inside it. Read-only targets are checked and bound when it starts.
    persistent: bool = False

    def __post_init__(self) -> None:
        setup, why = _bwrap_for(self.run_as)
        if setup is None:
            raise SandboxUnavailable(
                f"commands cannot be sandboxed: {why}",
                hint="install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap)",
            )
        self._setup = setup
        self._wt = os.path.realpath(self.worktree)
        self.run_as = sandbox_user(self._wt) if setup.run_as is not None else None
        self._user = setup.user_for(self.run_as)
        hidden = [os.path.relpath(inside(self.worktree, self._wt, p), self._wt) for p in self.hidden]
        self._git = git_view(self._wt, hidden, self.secret)
        self._at = self._git.at if self._git else self._wt
        readonly = [inside(self.worktree, self._wt, p) for p in [Path(".git"), *self.readonly]]
        own_git = os.path.join(self._wt, ".git")  # replaced by the synthesized .git when the worktree is mapped
        self._readonly = [p for p in readonly if self._git is None or p != own_git]
        self._view = host_view(self._wt, self.run_as, self.expose, self._git)
        self._parents = self._view.mount_parents([*self._view.exposed, self._at, *([GIT_AT] if self._git else [])])
        self._adopted: dict[str, tuple[tuple[int, int, int], list[str]]] = {}
        self._server: Server | None = None
        if self.run_as is not None:
            adopt(self._wt, *self.run_as, skip=[os.path.join(self._wt, ".git")], seen=self._adopted)

    @property
    def where(self) -> str:
        """The worktree's path as commands see it: the repository's own path for a run's worktree."""
        return self._at

    def _hidden_targets(self) -> list[str]:
        """The hidden paths that exist with no link on the way (a link is never mounted over)."""
        found = []
        for path in self.hidden:
            with contextlib.suppress(MountRefused):
                found += check_mount_targets(self._wt, [inside(self.worktree, self._wt, path)])
        return found

    def wrap(
        self,
        argv: list[str],
        *,
        seccomp_fd: int | None = None,
        info_fd: int | None = None,
        block_fd: int | None = None,
    ) -> list[str]:
        """The bwrap command line for argv. Raises MountRefused when a read-only target is a link."""
        targets = check_mount_targets(self._wt, self._readonly)
        view, wt, size = self._view, self._wt, str(self.tmp_bytes)
        cmd = [self._setup.path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
               "--perms", "1777", "--size", size, "--tmpfs", "/dev/shm",
               "--perms", "1777", "--size", size, "--tmpfs", "/tmp"]  # fmt: skip
        for path in view.hidden:
            cmd += ["--tmpfs", path]
        for path, mode in self._parents.items():
            cmd += ["--perms", mode, "--dir", path]
        for path in view.exposed:
            cmd += ["--ro-bind", path, path]
        for path in view.masked_files:
            cmd += ["--ro-bind", "/dev/null", path]
        for path in view.masked_dirs:
            cmd += ["--tmpfs", path]
        at = self._at
        cmd += ["--bind", wt, at]
        for path in view.exposed:  # what the checkout shows read-only (its .venv) stays over the worktree
            if _under(path, at) and path != at:
                cmd += ["--ro-bind", path, path]
        if self._git is not None:  # git finds the run's own view of the repository through a .git at the new path
            git = self._git
            cmd += ["--ro-bind", git.view, GIT_AT, "--ro-bind", git.objects, f"{GIT_AT}/objects",
                    "--ro-bind", git.dot_git, os.path.join(at, ".git")]  # fmt: skip
        for path in targets:
            cmd += ["--ro-bind", path, os.path.join(at, os.path.relpath(path, wt))]
        for path in self._hidden_targets():
            seen = os.path.join(at, os.path.relpath(path, wt))
            cmd += ["--tmpfs", seen] if os.path.isdir(path) else ["--ro-bind", empty_file(), seen]
        if self.run_as is None:
            # The tmpfs mounts belong to the sandbox user in a user namespace: make them read-only.
            # (Dropped to another user, it cannot write to these root-owned 0755 directories.)
            for path in [*view.hidden, *view.masked_dirs, "/dev"]:
                cmd += ["--remount-ro", path]
        cmd += ["--chdir", at, *self._setup.flags, "--die-with-parent", "--new-session"]
        for option, fd in (("--seccomp", seccomp_fd), ("--info-fd", info_fd), ("--block-fd", block_fd)):
            if fd is not None:
                cmd += [option, str(fd)]
        return [*cmd, "--", *self._user, *argv]

    def run(self, argv: list[str], *, timeout_s: float, max_output_bytes: int = 60_000) -> CommandResult:
        if self.persistent:
            return self._run_in_server(argv, timeout_s, max_output_bytes)
        program = self._filter()
        fds = _Fds()
        try:
            seccomp_fd = fds.add(seccomp.pipe_with(program)) if program is not None else None
            info_r, info_w = fds.pipe()
            block_r, block_w = fds.pipe()
            cmd = self.wrap(argv, seccomp_fd=seccomp_fd, info_fd=info_w, block_fd=block_r)
            if self.run_as is not None:
                adopt(self._wt, *self.run_as, skip=[os.path.join(self._wt, ".git")], seen=self._adopted)
            limits = self.limits(timeout_s)

            def release(_pid: int) -> None:
                """Once bwrap has cloned the sandbox's init: limit it, then let it go on."""
                fds.close(seccomp_fd, info_w, block_r)  # the child holds its own copies
                init = _read_child_pid(info_r)
                if init is None:
                    return  # bubblewrap failed before creating the sandbox; its output says why
                for res, soft, hard in limits:
                    resource.prlimit(init, res, (soft, hard))
                os.write(block_w, b"1")

            code, output, timed_out, cut, secs = run_process(
                cmd, cwd=Path(self._wt), env=command_env(extra=self.env), timeout_s=timeout_s, max_output_bytes=max_output_bytes,
                pass_fds=[fd for fd in (seccomp_fd, info_w, block_r) if fd is not None], on_start=release,
            )  # fmt: skip
        except MountRefused as exc:
            return _refused(argv, str(exc), self.name)
        except OSError as exc:
            return _refused(argv, f"the sandbox could not start: {exc}", self.name)
        finally:
            fds.close_all()
        return CommandResult(argv, code, _not_found(argv, code, output), secs, timed_out, cut, self.name)


    def _start_server(self) -> Server:
        program = self._filter()
        fds = _Fds()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            seccomp_fd = fds.add(seccomp.pipe_with(program)) if program is not None else None
            cmd = self.wrap([*server_argv(), str(theirs.fileno())], seccomp_fd=seccomp_fd)
            server = Server(cmd, Path(self._wt), command_env(extra=self.env), [fd for fd in (seccomp_fd, theirs.fileno())
                                                                 if fd is not None], ours)  # fmt: skip
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
            fds.close_all()
        server.wait_ready()
        return server

    def _run_in_server(self, argv: list[str], timeout_s: float, max_output_bytes: int) -> CommandResult:
        start = time.monotonic()
        buffer = _Capped(max_output_bytes)
        try:
            if self._server is None or not self._server.alive:
                self._server = None
                self._server = self._start_server()
            if self.run_as is not None:
                adopt(self._wt, *self.run_as, skip=[os.path.join(self._wt, ".git")], seen=self._adopted)
            request: dict[str, object] = {"argv": argv, "env": command_env(extra=self.env),
                                          "limits": self.limits(timeout_s)}  # fmt: skip
            try:
                outcome = self._server.run(request, timeout_s, buffer.feed)
            except ServerGone:  # it died between commands (killed from outside): once more, in a new one
                self.close()
                self._server = self._start_server()
                outcome = self._server.run(request, timeout_s, buffer.feed)
        except MountRefused as exc:
            return _refused(argv, str(exc), self.name)
        except OSError as exc:  # ServerFailed among them
            self.close()
            return _refused(argv, str(exc) if isinstance(exc, ServerFailed) else f"the sandbox could not start: {exc}",
                            self.name)  # fmt: skip
        if outcome.timed_out:
            self._server = None  # it was killed with everything in it
        output, cut = buffer.text()
        code = outcome.code
        return CommandResult(argv, code, _not_found(argv, code, output), time.monotonic() - start, outcome.timed_out,
                             cut, self.name)  # fmt: skip

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()


def kill_sandboxes(paths: Iterable[str]) -> int:
    """SIGKILL every bubblewrap process whose command line binds one of `paths` (or a path below);
    returns how many. For a run whose harness died: bubblewrap before 0.12 can leave a sandbox's
    init behind, asleep forever, when its parent is killed during start-up (--die-with-parent is
    set too late; containers/bubblewrap#633). Only the caller may know no live harness uses them."""
    roots = [p.rstrip("/") for p in paths if p]
    killed = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path("/proc", entry, "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not argv or os.path.basename(argv[0]) != b"bwrap":
            continue
        words = [os.fsdecode(a) for a in argv[1:] if a]
        if any(_under(word, root) for word in words for root in roots):
            with contextlib.suppress(OSError):
                os.kill(int(entry), signal.SIGKILL)
                killed += 1
    return killed


class _Fds:
    """File descriptors opened for one spawn, each closed exactly once."""

    def __init__(self) -> None:
        self.open: list[int] = []

    def add(self, fd: int) -> int:
        self.open.append(fd)
        return fd

    def pipe(self) -> tuple[int, int]:
        read_end, write_end = os.pipe()
        return self.add(read_end), self.add(write_end)

    def close(self, *fds: int | None) -> None:
        for fd in fds:
            if fd is not None and fd in self.open:
                self.open.remove(fd)
                with contextlib.suppress(OSError):
                    os.close(fd)

    def close_all(self) -> None:
        self.close(*list(self.open))


def _read_child_pid(fd: int) -> int | None:
    """The sandbox init's pid from bubblewrap's --info-fd JSON; None when bwrap ended before it."""
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
        with contextlib.suppress(ValueError, KeyError, TypeError):
            return int(json.loads(data)["child-pid"])
    return None


_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


@dataclass
class LandlockSandbox(_Limited):
    """The fallback without namespaces: Landlock rules, seccomp, rlimits, a new session.

    Everything outside the hidden directories is readable; the worktree and a private temporary
    directory are writable. Read-only paths inside the worktree are kept owned by root when the
    harness is root (so the sandbox user cannot rewrite them in place), but Landlock cannot stop
    the sandbox from deleting or renaming them; the gate's protected-path check still sees that.
    """

    name: str = "landlock"

    def __post_init__(self) -> None:
        if landlock.abi_version() < 1:
            raise SandboxUnavailable("commands cannot be sandboxed: Landlock is not available on this kernel")
        self._wt = os.path.realpath(self.worktree)
        self.run_as = sandbox_user(self._wt) if os.geteuid() == 0 and self.run_as is not None else None
        if self.run_as is not None:
            blocked = [str(Path(*Path(self._wt).parts[:d])) for d in range(2, len(Path(self._wt).parts))]
            blocked = [a for a in blocked if not _traversable(a, *self.run_as)]
            if blocked:
                raise SandboxUnavailable(
                    f"commands cannot be sandboxed: uid {self.run_as[0]} cannot reach the worktree "
                    f"({blocked[0]} is closed to it) and the Landlock fallback has no bind mounts",
                    hint="install bubblewrap, or keep the repository in a directory other users may search",
                )
        self._keep = [inside(self.worktree, self._wt, p) for p in [Path(".git"), *self.readonly]]
        self._view = host_view(self._wt, None, self.expose)
        self._adopted: dict[str, tuple[tuple[int, int, int], list[str]]] = {}
        self._server: Server | None = None
        if self.run_as is not None:
            adopt(self._wt, *self.run_as, skip=self._keep, seen=self._adopted)

    def _ruleset(self, tmp: str) -> landlock.Ruleset:
        rules = landlock.Ruleset()
        try:
            view = self._view
            masked = [*view.masked_files, *view.masked_dirs]
            for path in landlock.readable_except([*view.hidden, "/tmp", *masked]):
                rules.allow(path, landlock.READ)
            for exposed in view.exposed:
                for path in landlock.readable_except(masked, root=exposed):
                    rules.allow(path, landlock.READ)
            for path in DEVICES_RW:
                rules.allow(path, landlock.READ_FILE | landlock.WRITE_FILE | landlock.IOCTL_DEV)
            rules.allow(self._wt, rules.fs)
            rules.allow(tmp, rules.fs)
        except BaseException:
            rules.close()
            raise
        return rules

    def run(self, argv: list[str], *, timeout_s: float, max_output_bytes: int = 60_000) -> CommandResult:
        tmp = tempfile.mkdtemp(prefix="agentic-sandbox-")
        rules: landlock.Ruleset | None = None
        try:
            if self.run_as is not None:
                os.chown(tmp, *self.run_as)
                adopt(self._wt, *self.run_as, skip=self._keep, seen=self._adopted)
            rules = self._ruleset(tmp)
            program = self._filter(pin_session=True)
            load_filter = seccomp.loader(program) if program is not None else None
            set_limits, ruleset_fd = self.set_limits(timeout_s), rules.fd

            def preexec() -> None:
                set_limits()
                _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
                landlock.restrict_self(ruleset_fd)
                if load_filter is not None:
                    load_filter()

            env = command_env(home=tmp, extra=self.env)
            env["TMPDIR"] = tmp
            code, output, timed_out, cut, secs = run_process(
                argv, cwd=Path(self._wt), env=env, timeout_s=timeout_s, max_output_bytes=max_output_bytes,
                preexec_fn=preexec, user=self.run_as,
            )  # fmt: skip
        except FileNotFoundError as exc:
            return CommandResult(argv, 127, f"{argv[0]}: command not found inside the sandbox\n{exc}\n", 0.0,
                                 sandbox=self.name)  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            return _refused(argv, f"the sandbox could not start: {exc}", self.name)
        finally:
            if rules is not None:
                rules.close()
            shutil.rmtree(tmp, ignore_errors=True)
        return CommandResult(argv, code, output, secs, timed_out, cut, self.name)


@dataclass
class UnsafeNoSandbox(_Limited):
    """No isolation: a plain subprocess with the allow-listed environment, a new session, rlimits and
    the timeout. Only for `--unsafe-no-sandbox`; the command can read and write what the harness can."""

    name: str = "none (unsafe)"

    def __post_init__(self) -> None:
        self.run_as = None  # runs as the harness's own user

    def run(self, argv: list[str], *, timeout_s: float, max_output_bytes: int = 60_000) -> CommandResult:
        try:
            code, output, timed_out, cut, secs = run_process(
                argv, cwd=self.worktree, env=command_env(extra=self.env), timeout_s=timeout_s, max_output_bytes=max_output_bytes,
                preexec_fn=self.set_limits(timeout_s),
            )  # fmt: skip
        except FileNotFoundError as exc:
            return CommandResult(argv, 127, f"{argv[0]}: command not found\n{exc}\n", 0.0, sandbox=self.name)
        except (OSError, subprocess.SubprocessError) as exc:
            return _refused(argv, f"the command could not start: {exc}", self.name)
        return CommandResult(argv, code, output, secs, timed_out, cut, self.name)
