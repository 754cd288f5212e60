"""The bubblewrap sandbox: the bwrap command line (binds, hidden host, the run's git view), one-off
commands limited through --block-fd, and the persistent sandbox whose server runs each command."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from agentic.errors import SandboxUnavailable
from agentic.git.view import GIT_AT, git_view, index_of
from agentic.sandbox import seccomp
from agentic.sandbox.base import CommandResult, not_found, refused
from agentic.sandbox.env import GIT_INDEX_DIR, command_env
from agentic.sandbox.hostview import host_view, under
from agentic.sandbox.limits import Limited
from agentic.sandbox.mounts import MountRefused, check_mount_targets, inside
from agentic.sandbox.probe import bwrap_for
from agentic.sandbox.process import Capped, Fds, read_child_pid, run_process
from agentic.sandbox.server import Server, ServerFailed, ServerGone, server_argv
from agentic.sandbox.users import adopt, sandbox_user

INDEX_AT = f"/tmp/{GIT_INDEX_DIR}/index"  # the sandbox's own copy of git's index (agentic.sandbox.env)


@dataclass
class BubblewrapSandbox(Limited):
    name: str = "bubblewrap"
    # One sandbox for all commands (agentic.sandbox.server): bubblewrap is started once, each
    # command is a fork inside it. Read-only targets are checked and bound when it starts.
    persistent: bool = False

    def __post_init__(self) -> None:
        setup, why = bwrap_for(self.run_as)
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
        self._git = git_view(self._wt, hidden, self.secret, rebuild=not self.beside_run)
        self._at = self._git.at if self._git else self._wt
        self._index = index_of(self._wt, self._git)
        readonly = [inside(self.worktree, self._wt, p) for p in [Path(".git"), *self.readonly]]
        own_git = os.path.join(self._wt, ".git")  # replaced by the synthesized .git when the worktree is mapped
        self._readonly = [p for p in readonly if self._git is None or p != own_git]
        self._view = host_view(self._wt, self.run_as, self.expose, self._git)
        self._parents = self._view.mount_parents([*self._view.exposed, self._at, *([GIT_AT] if self._git else [])])
        self._adopted: dict[str, tuple[tuple[int, int, int], list[str]]] = {}
        self._server: Server | None = None
        self._server_index: str | None = None  # INDEX_AT when the running server's sandbox has one
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
        index_fd: int | None = None,
        covers: Iterable[tuple[str, int | None]] = (),
    ) -> list[str]:
        """The bwrap command line for argv. Raises MountRefused when a read-only target is a link.

        `covers`: the hidden paths inside the worktree (_covers), a directory covered by an empty
        tmpfs, a file by an empty read-only file bubblewrap makes from its descriptor.
        """
        targets = check_mount_targets(self._wt, self._readonly)
        view, wt, size = self._view, self._wt, str(self.tmp_bytes)
        cmd = [self._setup.path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
               "--perms", "1777", "--size", size, "--tmpfs", "/dev/shm",
               "--perms", "1777", "--size", size, "--tmpfs", "/tmp"]  # fmt: skip
        if index_fd is not None:  # git's index: a copy the sandbox user may rewrite (git renames over it)
            cmd += ["--perms", "0777", "--dir", os.path.dirname(INDEX_AT),
                    "--perms", "0666", "--file", str(index_fd), INDEX_AT]  # fmt: skip
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
        cmd += ["--ro-bind" if self.read_only_worktree else "--bind", wt, at]
        for path in view.exposed:  # what the checkout shows read-only (its .venv) stays over the worktree
            if under(path, at) and path != at:
                cmd += ["--ro-bind", path, path]
        if self._git is not None:  # git finds the run's own view of the repository through a .git at the new path
            git = self._git
            cmd += ["--ro-bind", git.view, GIT_AT, "--ro-bind", git.objects, f"{GIT_AT}/objects",
                    "--ro-bind", git.dot_git, os.path.join(at, ".git")]  # fmt: skip
        for path in targets:
            cmd += ["--ro-bind", path, os.path.join(at, os.path.relpath(path, wt))]
        for path, fd in covers:
            seen = os.path.join(at, os.path.relpath(path, wt))
            cmd += ["--tmpfs", seen] if fd is None else ["--perms", "0444", "--ro-bind-data", str(fd), seen]
        if self.run_as is None:
            # The tmpfs mounts belong to the sandbox user in a user namespace: make them read-only.
            # (Dropped to another user, it cannot write to these root-owned 0755 directories.)
            for path in [*view.hidden, *view.masked_dirs, "/dev"]:
                cmd += ["--remount-ro", path]
        cmd += ["--chdir", at, *self._namespaces(), "--die-with-parent", "--new-session"]
        for option, fd in (("--seccomp", seccomp_fd), ("--info-fd", info_fd), ("--block-fd", block_fd)):
            if fd is not None:
                cmd += [option, str(fd)]
        return [*cmd, "--", *self._user, *argv]

    def _namespaces(self) -> list[str]:
        """bubblewrap's namespace flags: every one unshared, the network too unless it is granted."""
        flags = list(self._setup.flags)
        if not self.network:
            return flags
        if "--unshare-all" in flags:
            return [*flags, "--share-net"]
        return [f for f in flags if f != "--unshare-net"]

    def _open_index(self, fds: Fds) -> int | None:
        """A descriptor of the index bubblewrap copies into the sandbox; None without one."""
        if self._index is None:
            return None
        try:
            return fds.add(os.open(self._index, os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            return None

    def _covers(self, fds: Fds) -> list[tuple[str, int | None]]:
        """The hidden paths to cover: a directory with None, a file with a descriptor of a pipe at its
        end, one each (bubblewrap closes what it copied from), for an empty regular file (a device
        would confuse git). Nothing is left on the host."""
        covers: list[tuple[str, int | None]] = []
        empty: int | None = None
        for path in self._hidden_targets():
            if os.path.isdir(path):
                covers.append((path, None))
                continue
            if empty is None:
                empty, write_end = fds.pipe()
                fds.close(write_end)
                covers.append((path, empty))
            else:
                covers.append((path, fds.add(os.dup(empty))))
        return covers

    def run(self, argv: list[str], *, timeout_s: float, max_output_bytes: int = 60_000, stdin: bytes | None = None,
            split_stderr: bool = False, attached: bool = False) -> CommandResult:  # fmt: skip
        if self.persistent and stdin is None and not split_stderr and not attached:
            return self._run_in_server(argv, timeout_s, max_output_bytes)
        program = self._filter()
        fds = Fds()
        try:
            seccomp_fd = fds.add(seccomp.pipe_with(program)) if program is not None else None
            info_r, info_w = fds.pipe()
            block_r, block_w = fds.pipe()
            index_fd = self._open_index(fds)
            covers = self._covers(fds)
            cmd = self.wrap(argv, seccomp_fd=seccomp_fd, info_fd=info_w, block_fd=block_r, index_fd=index_fd,
                            covers=covers)  # fmt: skip
            env = command_env(extra=self.env, git_index=INDEX_AT if index_fd is not None else None)
            if self.run_as is not None:
                adopt(self._wt, *self.run_as, skip=[os.path.join(self._wt, ".git")], seen=self._adopted)
            limits = self.limits(timeout_s)

            def release(_pid: int) -> None:
                """Once bwrap has cloned the sandbox's init: limit it, then let it go on."""
                fds.close(seccomp_fd, info_w, block_r)  # the child holds its own copies
                init = read_child_pid(info_r)
                if init is None:
                    return  # bubblewrap failed before creating the sandbox; its output says why
                for res, soft, hard in limits:
                    resource.prlimit(init, res, (soft, hard))
                os.write(block_w, b"1")

            errors = Capped(max_output_bytes) if split_stderr else None
            code, output, timed_out, cut, secs = run_process(
                cmd, cwd=Path(self._wt), env=env, timeout_s=timeout_s, max_output_bytes=max_output_bytes,
                pass_fds=[fd for fd in (seccomp_fd, info_w, block_r, index_fd, *(c for _, c in covers)) if fd is not None],
                on_start=release,
                stdin=stdin, stderr_into=errors, attached=attached,
            )  # fmt: skip
        except MountRefused as exc:
            return refused(argv, str(exc), self.name)
        except OSError as exc:
            return refused(argv, f"the sandbox could not start: {exc}", self.name)
        finally:
            fds.close_all()
        stderr = errors.text()[0] if errors is not None else ""
        return CommandResult(argv, code, not_found(argv, code, output), secs, timed_out, cut, self.name, stderr)

    def _start_server(self) -> Server:
        program = self._filter()
        fds = Fds()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            seccomp_fd = fds.add(seccomp.pipe_with(program)) if program is not None else None
            index_fd = self._open_index(fds)
            covers = self._covers(fds)
            cmd = self.wrap([*server_argv(), str(theirs.fileno())], seccomp_fd=seccomp_fd, index_fd=index_fd,
                            covers=covers)  # fmt: skip
            passed = [fd for fd in (seccomp_fd, theirs.fileno(), index_fd, *(c for _, c in covers)) if fd is not None]
            server = Server(cmd, Path(self._wt), command_env(extra=self.env), passed, ours)
            self._server_index = INDEX_AT if index_fd is not None else None
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
        buffer = Capped(max_output_bytes)
        try:
            if self._server is None or not self._server.alive:
                self._server = None
                self._server = self._start_server()
            if self.run_as is not None:
                adopt(self._wt, *self.run_as, skip=[os.path.join(self._wt, ".git")], seen=self._adopted)
            request: dict[str, object] = {"argv": argv, "env": command_env(extra=self.env, git_index=self._server_index),
                                          "limits": self.limits(timeout_s)}  # fmt: skip
            try:
                outcome = self._server.run(request, timeout_s, buffer.feed)
            except ServerGone:  # it died between commands (killed from outside): once more, in a new one
                self.close()
                self._server = self._start_server()
                outcome = self._server.run(request, timeout_s, buffer.feed)
        except MountRefused as exc:
            return refused(argv, str(exc), self.name)
        except OSError as exc:  # ServerFailed among them
            self.close()
            return refused(argv, str(exc) if isinstance(exc, ServerFailed) else f"the sandbox could not start: {exc}",
                            self.name)  # fmt: skip
        if outcome.timed_out:
            self._server = None  # it was killed with everything in it
        output, cut = buffer.text()
        code = outcome.code
        return CommandResult(argv, code, not_found(argv, code, output), time.monotonic() - start, outcome.timed_out,
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
        if any(under(word, root) for word in words for root in roots):
            with contextlib.suppress(OSError):
                os.kill(int(entry), signal.SIGKILL)
                killed += 1
    return killed
