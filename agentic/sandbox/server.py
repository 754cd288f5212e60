"""A sandbox that stays up for a run: bubblewrap is paid once, each command is a spawn inside it.

Starting bubblewrap (namespaces, mounts, the drop to the sandbox user) costs several milliseconds; a
run's commands all use the same sandbox, so the run's worktree sandbox starts one small server
inside it (SERVER, run by the harness's Python with -I -S, importing only built-in modules: it
starts in about 14 ms) and sends it each command over a socket pair, in marshal's format (the same
interpreter reads it, and only the harness holds the other end). The server, already confined like
any command (same namespaces, mounts, seccomp filter, user), starts the command in a new session
with the command's resource limits and its environment, its output going to a pipe the harness
passed along with the request, and waits for it: with posix_spawn (a vfork, no copy of the server's
page tables; the limits other than CPU time held by the server itself, CPU time set on the command
as it starts), else with fork. Then it kills every other process left in the sandbox (background
children, setsid or double-forked ones: `kill(-1)` reaches every process of the sandbox user but
itself) and answers with the exit status. A command that runs past its timeout takes the whole
sandbox down, as a one-off sandbox would; the next command starts a new one.
"""

from __future__ import annotations

import contextlib
import json
import marshal
import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# The program the server runs inside the sandbox. Requests are one datagram, a marshalled dict
# {"id", "argv", "env", "limits"}, with the output pipe's write end attached; answers are JSON
# {"id", "code"}.
SERVER = r"""
import array, ctypes, marshal, os, resource, sys
import _signal, _socket  # not signal, socket, json: their imports (enum, re) doubled this server's start
# Not dumpable: the commands run as the same user, and must not reach this process's socket
# through /proc/<pid>/fd or pidfd_getfd, nor trace it.
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
CPU = resource.RLIMIT_CPU
SPAWN_MIN_AS = 1 << 30
def found(name, env):
    # execvp's search, by stat rather than by trying execve in each PATH directory (a failed execve
    # costs a tenth of a millisecond or more in here: a dozen of them doubled a command's start)
    if "/" in name:
        return name
    denied = False
    for where in env.get("PATH", os.defpath).split(":"):
        path = os.path.join(where or ".", name)
        if os.path.isfile(path):
            if os.access(path, os.X_OK):
                return path
            denied = True
    raise OSError(13 if denied else 2, os.strerror(13 if denied else 2))
def forked(req, out):
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            for sig in (_signal.SIGPIPE, _signal.SIGXFSZ):
                _signal.signal(sig, _signal.SIG_DFL)
            for res, soft, hard in req["limits"]:
                resource.setrlimit(res, (soft, hard))
            os.dup2(NULL, 0)
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.closerange(3, 65536)
            os.execve(found(req["argv"][0], req["env"]), req["argv"], req["env"])
        except OSError as exc:
            os.write(2, ("agentic-sandbox: cannot execute %s: %s\n" % (req["argv"][0], exc.strerror)).encode())
            os._exit(127 if exc.errno == 2 else 126)
        except BaseException:
            os._exit(126)
    return pid
held = None  # the limits other than CPU time this process holds itself, which a spawned command inherits
def spawned(req, out):
    # posix_spawn (a vfork: no copy of this process's page tables) when the command's limits other
    # than CPU time are the ones this process already holds (they are the same for every command of
    # a sandbox; a hard limit once lowered cannot be raised again). CPU time is the process's own,
    # so it is set on the command once it runs, as it starts. None: fork instead.
    global held
    rest = sorted(tuple(l) for l in req["limits"] if l[0] != CPU)
    if any(res == resource.RLIMIT_AS and soft < SPAWN_MIN_AS for res, soft, _hard in rest):
        return None  # too little address space for this process itself to hold
    if held is None:
        for res, soft, hard in rest:
            resource.setrlimit(res, (soft, hard))
        held = rest
    if rest != held:
        return None
    try:
        path = found(req["argv"][0], req["env"])
        pid = os.posix_spawn(path, req["argv"], req["env"], setsid=True, setsigdef=(_signal.SIGPIPE, _signal.SIGXFSZ),
                             file_actions=[(os.POSIX_SPAWN_DUP2, NULL, 0), (os.POSIX_SPAWN_DUP2, out, 1),
                                           (os.POSIX_SPAWN_DUP2, out, 2)])
    except OSError as exc:
        os.write(out, ("agentic-sandbox: cannot execute %s: %s\n" % (req["argv"][0], exc.strerror)).encode())
        return -(127 if exc.errno == 2 else 126)
    for res, soft, hard in req["limits"]:
        if res == CPU:
            try:
                resource.prlimit(pid, res, (soft, hard))
            except OSError:
                pass
    return pid
def recv_fds(sock, size, most):
    # socket.recv_fds, on the low-level socket
    fds = array.array("i")
    data, ancdata, _flags, _addr = sock.recvmsg(size, _socket.CMSG_LEN(most * fds.itemsize))
    for level, kind, payload in ancdata:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    return data, list(fds)
NULL = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
sock = _socket.socket(fileno=int(sys.argv[1]))
os.set_inheritable(sock.fileno(), False)
sock.send(b'{"ready": true}')
while True:
    try:
        data, fds = recv_fds(sock, 1 << 20, 4)
    except OSError:
        break
    if not data:
        break
    req = marshal.loads(data)  # from the harness, over a socket no command can reach
    out = fds[0]
    for extra in fds[1:]:
        os.close(extra)
    os.set_inheritable(out, False)
    pid = spawned(req, out)
    if pid is None:
        pid = forked(req, out)
    os.close(out)
    if pid < 0:
        code = -pid
    else:
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
    try:
        os.kill(-1, _signal.SIGKILL)
    except OSError:
        pass
    sock.send(('{"id": "%s", "code": %d}' % (req["id"], code if code >= 0 else 128 - code)).encode())
"""

NOT_FOUND_PREFIX = "agentic-sandbox: cannot execute "
START_TIMEOUT_S = 10.0
DRAIN_S = 5.0  # seconds to read the rest of a command's output once the server answered


class ServerFailed(OSError):
    """The sandbox's server could not start or died; the message says what bubblewrap printed."""


class ServerGone(ServerFailed):
    """The server was already gone when a command was sent: nothing of the command ran."""


@dataclass
class Outcome:
    code: int | None  # None: killed at the timeout
    timed_out: bool


class Server:
    """The harness's end of one sandbox server."""

    def __init__(self, cmd: list[str], cwd: Path, env: dict[str, str], pass_fds: list[int], sock: socket.socket) -> None:
        self.sock = sock
        self.proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True, pass_fds=tuple(pass_fds),
        )  # fmt: skip

    def wait_ready(self) -> None:
        self.sock.settimeout(START_TIMEOUT_S)
        try:
            data = self.sock.recv(4096)
        except OSError:
            data = b""
        finally:
            self.sock.settimeout(None)
        if data != b'{"ready": true}':
            self.kill()
            why = self.proc.stderr.read().decode("utf-8", "replace").strip() if self.proc.stderr else ""
            raise ServerFailed(f"the sandbox did not start: {why or 'no answer from its server'}")

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def run(self, request: dict[str, object], timeout_s: float, feed: Callable[[bytes], None]) -> Outcome:
        """Send one command, stream its output to feed(bytes), wait for its end or the timeout.

        One poll loop on the output pipe and the socket, no thread: starting two per command cost
        more than the rest of the round trip."""
        read_end, write_end = os.pipe()
        request = {**request, "id": secrets.token_hex(8)}
        try:
            socket.send_fds(self.sock, [marshal.dumps(request)], [write_end])
        except OSError as exc:
            os.close(read_end)
            raise ServerGone(f"the sandbox is gone: {exc}") from None
        finally:
            os.close(write_end)
        try:
            answer, expired = self._wait(read_end, time.monotonic() + timeout_s, feed)
        finally:
            os.close(read_end)
        if expired:
            return Outcome(None, True)
        if not answer:
            why = self.proc.stderr.read().decode("utf-8", "replace").strip() if self.proc.stderr else ""
            raise ServerFailed(f"the sandbox stopped during the command{': ' + why if why else ''}")
        reply = json.loads(answer)
        if reply.get("id") != request["id"]:
            self.kill()
            raise ServerFailed("the sandbox's server answered out of turn")
        return Outcome(int(reply["code"]), False)

    def _wait(self, out: int, deadline: float, feed: Callable[[bytes], None]) -> tuple[bytes, bool]:
        """(the server's answer, b"" when it died; whether the timeout expired). Output is fed as it
        comes, and after the answer until its pipe closes (DRAIN_S at most: the server has killed
        everything that could hold it open)."""
        poller = select.poll()
        poller.register(out, select.POLLIN)
        poller.register(self.sock.fileno(), select.POLLIN)
        answer: bytes | None = None
        expired = False
        open_pipe = True
        while open_pipe:
            if answer is None and time.monotonic() >= deadline:
                expired, answer = True, b""
                poller.unregister(self.sock.fileno())
                self.kill()  # timed out: everything in it goes
                deadline = time.monotonic() + DRAIN_S
            left = deadline - time.monotonic()
            if answer is not None and left <= 0:
                break
            for fd, _events in poller.poll(max(left, 0) * 1000):
                if fd == out:
                    chunk = os.read(out, 65536)
                    if chunk:
                        feed(chunk)
                    else:
                        poller.unregister(out)
                        open_pipe = False
                elif answer is None:
                    try:
                        answer = self.sock.recv(4096)
                    except OSError:
                        answer = b""
                    poller.unregister(self.sock.fileno())
                    if not answer:
                        self.kill()  # died: everything in it goes
                    deadline = time.monotonic() + DRAIN_S
        if answer is None:  # the pipe closed first: the answer follows (or the server died)
            self.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                answer = self.sock.recv(4096)
            except TimeoutError:
                expired, answer = True, b""
            except OSError:
                answer = b""
            finally:
                with contextlib.suppress(OSError):
                    self.sock.settimeout(None)
            if not answer:
                self.kill()
        return answer, expired

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.sock.close()
        self.proc.wait()

    def close(self) -> None:
        """End the server: it exits when its socket closes; bubblewrap and the namespaces go with it."""
        with contextlib.suppress(OSError):
            self.sock.close()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def server_argv() -> list[str]:
    """How the sandbox runs SERVER: this interpreter, isolated (-I) and without site (-S)."""
    return [sys.executable, "-I", "-S", "-c", SERVER]
