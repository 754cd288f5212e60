"""The sandboxes without bubblewrap: Landlock rules with seccomp and rlimits (opt-in), and no
isolation at all (`--unsafe-no-sandbox` only)."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agentic.errors import SandboxUnavailable
from agentic.git.view import index_of
from agentic.sandbox import landlock, seccomp
from agentic.sandbox.base import CommandResult, refused
from agentic.sandbox.env import GIT_INDEX_DIR, command_env
from agentic.sandbox.hostview import PRIVATE, host_view
from agentic.sandbox.limits import Limited
from agentic.sandbox.mounts import inside
from agentic.sandbox.process import Capped, run_process
from agentic.sandbox.users import adopt, sandbox_user, traversable

DEVICES_RW = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")
_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


@dataclass
class LandlockSandbox(Limited):
    """The fallback without namespaces: Landlock rules, seccomp, rlimits, a new session.

    Everything outside the hidden directories and the host's /tmp and /dev/shm is readable (what the
    view exposes there, a virtual environment on PATH, is granted again); the worktree and a private
    temporary directory (TMPDIR) are writable. Read-only paths inside the worktree are kept owned by root when the
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
            blocked = [a for a in blocked if not traversable(a, *self.run_as)]
            if blocked:
                raise SandboxUnavailable(
                    f"commands cannot be sandboxed: uid {self.run_as[0]} cannot reach the worktree "
                    f"({blocked[0]} is closed to it) and the Landlock fallback has no bind mounts",
                    hint="install bubblewrap, or keep the repository in a directory other users may search",
                )
        self._keep = [inside(self.worktree, self._wt, p) for p in [Path(".git"), *self.readonly]]
        self._view = host_view(self._wt, None, self.expose)
        self._index = index_of(self._wt, None)
        self._adopted: dict[str, tuple[tuple[int, int, int], list[str]]] = {}
        if self.run_as is not None:
            adopt(self._wt, *self.run_as, skip=self._keep, seen=self._adopted)

    def _copy_index(self, tmp: str) -> str | None:
        """git's index, copied into the command's temporary directory (agentic.sandbox.env); its path."""
        if self._index is None:
            return None
        own = os.path.join(tmp, GIT_INDEX_DIR)
        try:
            os.mkdir(own)
            shutil.copy2(self._index, os.path.join(own, "index"))  # its time too (racy git: see gate.hook.working_tree)
            if self.run_as is not None:
                for path in (own, os.path.join(own, "index")):
                    os.chown(path, *self.run_as)
        except OSError:
            return None
        return os.path.join(own, "index")

    def _ruleset(self, tmp: str) -> landlock.Ruleset:
        rules = landlock.Ruleset(network=self.network)
        try:
            view = self._view
            masked = [*view.masked_files, *view.masked_dirs]
            for path in landlock.readable_except([*view.hidden, *PRIVATE, *masked]):
                rules.allow(path, landlock.READ)
            for exposed in view.exposed:
                for path in landlock.readable_except(masked, root=exposed):
                    rules.allow(path, landlock.READ)
            for path in DEVICES_RW:
                rules.allow(path, landlock.READ_FILE | landlock.WRITE_FILE | landlock.IOCTL_DEV)
            rules.allow(self._wt, landlock.READ if self.read_only_worktree else rules.fs)
            rules.allow(tmp, rules.fs)
        except BaseException:
            rules.close()
            raise
        return rules

    def run(self, argv: list[str], *, timeout_s: float, max_output_bytes: int = 60_000, stdin: bytes | None = None,
            split_stderr: bool = False, attached: bool = False) -> CommandResult:  # fmt: skip
        tmp = tempfile.mkdtemp(prefix="agentic-sandbox-")
        rules: landlock.Ruleset | None = None
        try:
            index = self._copy_index(tmp)
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

            env = command_env(home=tmp, extra=self.env, git_index=index)
            env["TMPDIR"] = tmp
            errors = Capped(max_output_bytes) if split_stderr else None
            code, output, timed_out, cut, secs = run_process(
                argv, cwd=Path(self._wt), env=env, timeout_s=timeout_s, max_output_bytes=max_output_bytes,
                preexec_fn=preexec, user=self.run_as, stdin=stdin, stderr_into=errors, attached=attached,
            )  # fmt: skip
        except FileNotFoundError as exc:
            return CommandResult(argv, 127, f"{argv[0]}: command not found inside the sandbox\n{exc}\n", 0.0,
                                 sandbox=self.name)  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            return refused(argv, f"the sandbox could not start: {exc}", self.name)
        finally:
            if rules is not None:
                rules.close()
            shutil.rmtree(tmp, ignore_errors=True)
        return CommandResult(argv, code, output, secs, timed_out, cut, self.name, errors.text()[0] if errors else "")


@dataclass
class UnsafeNoSandbox(Limited):
    """No isolation: a plain subprocess with the allow-listed environment, a new session, rlimits and
    the timeout. Only for `--unsafe-no-sandbox`; the command can read and write what the harness can."""

    name: str = "none (unsafe)"

    def __post_init__(self) -> None:
        self.run_as = None  # runs as the harness's own user

    def run(self, argv: list[str], *, timeout_s: float, max_output_bytes: int = 60_000, stdin: bytes | None = None,
            split_stderr: bool = False, attached: bool = False) -> CommandResult:  # fmt: skip
        try:
            errors = Capped(max_output_bytes) if split_stderr else None
            code, output, timed_out, cut, secs = run_process(
                argv, cwd=self.worktree, env=command_env(extra=self.env), timeout_s=timeout_s, max_output_bytes=max_output_bytes,
                preexec_fn=self.set_limits(timeout_s), stdin=stdin, stderr_into=errors, attached=attached,
            )  # fmt: skip
        except FileNotFoundError as exc:
            return CommandResult(argv, 127, f"{argv[0]}: command not found\n{exc}\n", 0.0, sandbox=self.name)
        except (OSError, subprocess.SubprocessError) as exc:
            return refused(argv, f"the command could not start: {exc}", self.name)
        return CommandResult(argv, code, output, secs, timed_out, cut, self.name, errors.text()[0] if errors else "")
