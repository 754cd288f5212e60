"""Process isolation for every command the agent or the gate runs.

`BubblewrapSandbox` runs an argv (never a shell) under bubblewrap: the host root read-only, only the
run's worktree writable (its `.git` link and the given read-only paths excepted), a private /tmp,
every namespace unshared (no network, its own PID namespace), `--die-with-parent` and
`--new-session`, and an environment built from an allow-list, so no API key reaches a command.
A timeout kills the whole process tree: bubblewrap is the PID-namespace init's parent, and the
namespace dies with it, including children that called setsid or double-forked.
Output is capped: head and tail are kept and the cut is marked.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Protocol

from agentic.errors import SandboxUnavailable

ENV_PASSTHROUGH = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYENV_ROOT", "PYENV_VERSION", "VIRTUAL_ENV")


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


def command_env(home: str = "/tmp") -> dict[str, str]:
    """The environment a sandboxed command gets: an allow-list, never the harness's secrets."""
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
    )
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
    cmd: list[str], *, cwd: Path, env: dict[str, str], timeout_s: float, max_output_bytes: int
) -> tuple[int | None, str, bool, bool, float]:
    """Run cmd in its own session; on timeout kill its process group. → (code, output, timed_out, cut, secs)."""
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
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
    try:
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
    output, cut = buffer.text()
    return (None if timed_out else proc.returncode), output, timed_out, cut, time.monotonic() - start


@cache
def bubblewrap_status() -> tuple[str | None, str]:
    """(path to bwrap or None, why not). Probes once that namespaces can really be created here."""
    path = shutil.which("bwrap")
    if path is None:
        return None, "bubblewrap (bwrap) is not installed"
    probe = [path, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "--", "true"]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"bubblewrap cannot start: {exc}"
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip()
        return None, f"bubblewrap cannot create namespaces here: {why}"
    return path, ""


def require_sandbox() -> str:
    """The bwrap path, or SandboxUnavailable saying why commands cannot be isolated here."""
    path, why = bubblewrap_status()
    if path is None:
        raise SandboxUnavailable(
            f"commands cannot be sandboxed: {why}",
            hint="install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap), or use a contract "
            "without run_tests, run_command and command checks",
        )
    return path


@dataclass
class BubblewrapSandbox:
    worktree: Path
    readonly: list[Path] = field(default_factory=list)  # paths inside the worktree to keep read-only
    name: str = "bubblewrap"

    def __post_init__(self) -> None:
        self.bwrap = require_sandbox()

    def wrap(self, argv: list[str]) -> list[str]:
        wt = str(self.worktree)
        cmd = [self.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
        cmd += ["--bind", wt, wt]
        for path in [self.worktree / ".git", *self.readonly]:
            if path.exists() and not path.is_symlink():
                cmd += ["--ro-bind", str(path), str(path)]
        cmd += ["--unshare-all", "--die-with-parent", "--new-session", "--chdir", wt, "--", *argv]
        return cmd

    def run(self, argv: list[str], *, timeout_s: float, max_output_bytes: int = 60_000) -> CommandResult:
        code, output, timed_out, cut, secs = run_process(
            self.wrap(argv),
            cwd=self.worktree,
            env=command_env(),
            timeout_s=timeout_s,
            max_output_bytes=max_output_bytes,
        )
        if code is not None and code != 0 and output.startswith("bwrap: execvp"):
            output = f"{argv[0]}: command not found inside the sandbox\n{output}"
        return CommandResult(argv, code, output, secs, timed_out, cut, self.name)
