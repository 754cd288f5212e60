"""Start `python -m agentic` (or a script) as a separate process without paying for the interpreter's
start-up and its heavy third-party imports each time.

A server, started once per test worker, imports those libraries (the model SDKs, jsonschema, rich,
typer, yaml) and every agentic module, and then forks a child per request: the child takes the
request's argv, working directory, environment and standard streams and runs it as `python -m
agentic` (or `python SCRIPT`) would, and ends as the interpreter's shutdown ends a process, less the
teardown of the objects the server imported (run_request). Importing agentic runs nothing (no module
has import-time side effects: no environment, directory or clock is read), and the server never
calls into it, so each child starts from the state a fresh interpreter would have. The server
reports each child's pid at once and its exit status (negative: killed by that signal) when it ends,
with the CPU time it used (its own and its descendants': CHILDREN_CPU, which tests/cpuprobe.py reads).

One server serves the whole test session: the first process that needs it starts it, the others find
its socket in the session's directory (AGENTIC_TEST_FORK_DIR, made by pytest's controller before it
starts the workers: shared_dir), and it ends when the session's process (AGENTIC_TEST_FORK_OWNER)
does. Its start-up (about 2 CPU-s of imports, 115 MB) is paid once, not once per worker.

The test side gets a `Child` with the parts of `subprocess.Popen` the tests use.
"""

from __future__ import annotations

import array
import atexit
import contextlib
import fcntl
import gc
import importlib
import json
import os
import pkgutil
import runpy
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

PRELOAD = ("openai", "anthropic", "jsonschema", "rich.console", "rich.markup", "rich._emoji_codes", "typer",
           "typer._adapters", "yaml", "sqlite3", "pyseccomp", "tenacity", "tree_sitter", "tree_sitter_bash")  # fmt: skip
# openai, anthropic: about 0.5 and 1.5 CPU-s to import, in every CLI process that runs, resumes or checks a
# provider's model (about 1.9 CPU-s once per worker instead); pyseccomp: its import runs ldconfig;
# typer._adapters: typer (0.29) coerces every parameter through a pydantic TypeAdapter, and imports
# pydantic (about 0.1 s) in each CLI process that parses one; tenacity (every model call's retry loop),
# tree_sitter (the bash parser of every command decision) and rich's emoji table: imported by every run


# -- the server ---------------------------------------------------------------------------------------


def serve(path: str, owner: int) -> dict[str, Any]:
    """Accept requests on the unix socket at `path` until the process `owner` ends. Returns only in a
    forked child, with its request."""
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            __import__(name)
    _import_agentic()
    gc.freeze()  # the children share these objects' pages instead of copying them as the collector touches them
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".new")
    listener.listen(64)
    os.rename(path + ".new", path)  # the path appears once connections are taken, not between bind and listen
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_r, selectors.EVENT_READ, "child")
    try:
        owner_fd: int | None = os.pidfd_open(owner)
        selector.register(owner_fd, selectors.EVENT_READ, "owner")  # readable once it ended
    except (AttributeError, OSError):  # a kernel before 5.3: asked every second instead
        owner_fd = None
    waiting: dict[int, socket.socket] = {}
    while True:
        ready = selector.select(None if owner_fd is not None else 1.0)
        if owner_fd is None and not _alive(owner):
            os._exit(0)
        for key, _ in ready:
            if key.data == "owner":
                os._exit(0)  # the test session is over
            if key.data == "child":
                os.read(wake_r, 4096)
                _reap(waiting)
            if key.data == "accept":
                conn, _ = listener.accept()
                request, fds = _receive(conn)
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    listener.close()
                    for fd in (wake_r, wake_w, owner_fd):
                        if fd is not None:
                            os.close(fd)
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    _become(request, fds, conn)
                    return request
                for fd in fds:
                    os.close(fd)
                conn.sendall(f"{pid}\n".encode())
                waiting[pid] = conn
        _reap(waiting)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    return True


def _import_agentic() -> None:
    """Every module of the agentic package (the SDKs and other heavy libraries they import lazily stay out)."""
    import agentic

    for info in pkgutil.walk_packages(agentic.__path__, "agentic."):
        if not info.name.endswith(".__main__"):  # the one module that does run something: the CLI
            importlib.import_module(info.name)


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    size = socket.CMSG_LEN(3 * array.array("i").itemsize)
    data, ancdata, _, _ = conn.recvmsg(1 << 20, size)
    fds = array.array("i")
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    return json.loads(data.decode()), list(fds)


def _reap(waiting: dict[int, socket.socket]) -> None:
    while waiting:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = waiting.pop(pid, None)
        if conn is not None:
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            cpu = usage.ru_utime + usage.ru_stime  # the child's and its waited-for descendants' (git, sandboxes)
            with contextlib.suppress(OSError):
                conn.sendall(f"{code} {cpu:.4f}\n".encode())
            conn.close()


def _become(request: dict[str, Any], fds: list[int], conn: socket.socket) -> None:
    """In the child: take the request's streams, directory, environment and argv."""
    conn.close()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    if request.get("cgroup"):  # tests/cpuprobe.py: charged to the test that asked
        with contextlib.suppress(OSError), open(request["cgroup"], "w") as procs:
            procs.write(str(os.getpid()))
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = list(request["argv"])
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own streams, reopened on the new fds
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    sys.path[0] = request["cwd"] if request["module"] else str(Path(request["argv"][0]).resolve().parent)


def run_request(request: dict[str, Any]) -> NoReturn:
    """In the child, after serve() returned: run the program as the interpreter would, and end as it
    ends (see _end)."""
    code, interrupted = 0, False
    try:
        if request["module"]:
            runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(request["argv"][0], run_name="__main__")
    except SystemExit as exc:
        code = _exit_status(exc)
    except BaseException as exc:  # uncaught: its traceback, as the interpreter prints it
        sys.excepthook(type(exc), exc, exc.__traceback__)
        code, interrupted = 1, isinstance(exc, KeyboardInterrupt)
    _end(code, interrupted)


def _exit_status(exc: SystemExit) -> int:
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or 0
    print(exc.code, file=sys.stderr)  # sys.exit("message"): printed, status 1
    return 1


def _end(code: int, interrupted: bool) -> NoReturn:
    """End as the interpreter's shutdown does (non-daemon threads joined, atexit handlers run, the
    standard streams flushed: status 120 if that fails; an uncaught Ctrl-C ends by SIGINT), but
    without tearing down the objects the server imported: freeing them writes to every page the
    child shares with the server, and the kernel copies each one (about 80 ms of CPU per child,
    against 9 ms for the rest of a child's life)."""
    threading._shutdown()  # type: ignore[attr-defined]  # what the interpreter calls first at exit
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = 120
    if interrupted:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code & 0xFF)


# -- the test side --------------------------------------------------------------------------------------


class Server:
    """A server's socket; `started`: the server, when this process started it (and so stops it)."""

    def __init__(self, path: str, started: subprocess.Popen[bytes] | None = None) -> None:
        self.path, self.started = path, started

    @classmethod
    def start_new(cls, directory: Path, owner: int) -> Server:
        """Start a server on `directory`/fork.sock that ends with the process `owner`; returns once it
        takes requests."""
        path = str(directory / "fork.sock")
        if os.path.exists(path):
            os.unlink(path)
        proc = subprocess.Popen([sys.executable, __file__, path, str(owner)], stdin=subprocess.DEVNULL,
                                start_new_session=True,  # not in one worker's process group: it serves them all
                                env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})  # fmt: skip
        deadline = time.monotonic() + 60
        while not os.path.exists(path):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the fork server did not start")
            time.sleep(0.01)
        (directory / "pid").write_text(str(proc.pid))
        return cls(path, proc)

    def close(self) -> None:
        if self.started is not None:
            self.started.kill()
            self.started.wait(timeout=10)
            os.unlink(self.path)

    def start(self, argv: list[str], cwd: Path, env: dict[str, str], module: str | None,
              stdin: int, stdout: int, stderr: int) -> Child:  # fmt: skip
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(self.path)
        request = {"argv": argv, "cwd": str(cwd), "env": env, "module": module,
                   "cgroup": os.environ.get("AGENTIC_CPU_PROBE_CGROUP")}  # fmt: skip
        conn.sendmsg([json.dumps(request).encode()],
                     [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [stdin, stdout, stderr]))])
        return Child(conn)


CHILDREN_CPU = [0.0]  # CPU-seconds of the children this process had forked that have ended (tests/cpuprobe.py)
_CPU_LOCK = threading.Lock()


class Child:
    """A process the server forked: its pid, and its exit status once it ended (Popen's returncode)."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.reader = conn.makefile("r")
        self.pid = int(self.reader.readline())
        self.returncode: int | None = None
        self._lock = threading.Lock()

    def wait(self, timeout: float | None = None) -> int:
        with self._lock:
            if self.returncode is None:
                self.conn.settimeout(timeout)
                try:
                    self._read_status()
                except TimeoutError as exc:
                    raise subprocess.TimeoutExpired(str(self.pid), timeout or 0) from exc
            assert self.returncode is not None
            return self.returncode

    def poll(self) -> int | None:
        """The exit status if the child ended (None while it runs, or while another thread waits for it)."""
        if self.returncode is None and self._lock.acquire(blocking=False):
            try:
                with selectors.DefaultSelector() as ready:
                    ready.register(self.conn, selectors.EVENT_READ)
                    if ready.select(0):
                        self._read_status()
            finally:
                self._lock.release()
        return self.returncode

    def _read_status(self) -> None:
        code, cpu = self.reader.readline().split()
        self.returncode = int(code)
        with _CPU_LOCK:
            CHILDREN_CPU[0] += float(cpu)
        self.reader.close()
        self.conn.close()

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


_SHARED: list[Server] = []
DIR_ENV, OWNER_ENV = "AGENTIC_TEST_FORK_DIR", "AGENTIC_TEST_FORK_OWNER"


def shared_dir() -> None:
    """In the session's first process (pytest's controller): the directory the session's one server is
    found in, named to every process it starts (the xdist workers among them)."""
    if DIR_ENV not in os.environ:
        os.environ[DIR_ENV] = tempfile.mkdtemp(prefix="agentic-fork-")
        os.environ[OWNER_ENV] = str(os.getpid())


def end_shared_dir() -> None:
    """In that process at the session's end: the server stopped (it would also end on noticing its owner
    gone) and the directory removed."""
    if os.environ.get(OWNER_ENV) != str(os.getpid()):
        return
    directory = Path(os.environ.pop(DIR_ENV))
    os.environ.pop(OWNER_ENV)
    with contextlib.suppress(OSError, ValueError):
        os.kill(int((directory / "pid").read_text()), signal.SIGKILL)
    for name in ("fork.sock", "pid", "lock"):
        (directory / name).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        directory.rmdir()


def shared() -> Server:
    """The session's server, started by the first process that asks for it (without a session directory:
    a server of this process's own, which ends with it)."""
    if _SHARED:
        return _SHARED[0]
    if DIR_ENV not in os.environ:
        server = Server.start_new(Path(tempfile.mkdtemp(prefix="agentic-fork-")), os.getpid())
        atexit.register(_stop_own, server)
    else:
        directory = Path(os.environ[DIR_ENV])
        with open(directory / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one process starts it; the others wait here for its socket
            path = directory / "fork.sock"
            server = Server(str(path)) if path.exists() else Server.start_new(directory, int(os.environ[OWNER_ENV]))
    _SHARED.append(server)
    return server


def _stop_own(server: Server) -> None:
    server.close()
    shutil.rmtree(os.path.dirname(server.path), ignore_errors=True)  # the socket and the server's pid file


class Running:
    """A process the server forked whose standard output and error come back to this one: the parts of
    subprocess.Popen(stdin=DEVNULL, stdout=PIPE, stderr=PIPE (or STDOUT), text=True) the tests use."""

    def __init__(self, server: Server, argv: list[str], cwd: Path, env: dict[str, str], module: str | None,
                 merge_stderr: bool = False, stdin: int | None = None, stdout: int | None = None) -> None:  # fmt: skip
        """`stdin`: a descriptor the child reads as its standard input instead of /dev/null; `stdout`: one
        it writes its output to instead of a pipe read here (the caller keeps and closes both)."""
        self.args, self.merged = argv, merge_stderr
        self._out, out_w = os.pipe()
        self._err, err_w = (self._out, out_w) if merge_stderr else os.pipe()
        given_in = os.open(os.devnull, os.O_RDONLY) if stdin is None else os.dup(stdin)
        given_out = out_w if stdout is None else os.dup(stdout)
        try:
            self.child = server.start(argv, cwd, env, module, given_in, given_out, err_w)
        except BaseException:
            for fd in {self._out, self._err}:
                os.close(fd)
            raise
        finally:
            for fd in {out_w, err_w, given_in, given_out}:
                os.close(fd)
        self.pid = self.child.pid
        self._chunks: dict[int, list[bytes]] = {self._out: [], self._err: []}  # one when merged
        self._open = set(self._chunks)

    @property
    def returncode(self) -> int | None:
        return self.child.returncode

    def poll(self) -> int | None:
        return self.child.poll()

    def send_signal(self, sig: int) -> None:
        self.child.send_signal(sig)

    def kill(self) -> None:
        self.child.kill()

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """Its output until both streams close, then its exit status. Past `timeout`, TimeoutExpired
        with the process left running and what it wrote kept for the next call, as Popen's."""
        selector = selectors.DefaultSelector()
        for fd in self._open:
            selector.register(fd, selectors.EVENT_READ)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while selector.get_map():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise subprocess.TimeoutExpired(self.args, timeout or 0)
                for key, _ in selector.select(left):
                    data = os.read(key.fd, 65536)
                    if data:
                        self._chunks[key.fd].append(data)
                    else:
                        selector.unregister(key.fd)
                        self._open.discard(key.fd)
                        os.close(key.fd)
        finally:
            selector.close()
        self.child.wait(None if deadline is None else max(1.0, deadline - time.monotonic()))
        out, err = (_text(b"".join(self._chunks[fd])) for fd in (self._out, self._err))
        return out, "" if self.merged else err

    def close(self) -> None:
        """Stop reading its output (the streams not yet closed)."""
        for fd in self._open:
            os.close(fd)
        self._open.clear()


def run(server: Server, argv: list[str], cwd: Path, env: dict[str, str], timeout: float | None,
        module: str | None = "agentic", merge_stderr: bool = False,
        on_start: Callable[[Child], None] | None = None, input: str | None = None,
        stdout: int | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """subprocess.run(argv, capture_output=True, text=True, stdin=DEVNULL, timeout=timeout) through the
    server (with merge_stderr: stderr=STDOUT); on_start is given the child as soon as it runs. With
    `input`, the child reads that text as its standard input (as run(input=...)); with `stdout`, it
    writes its standard output to that descriptor (and the result's stdout is empty)."""
    stdin = None
    if input is not None:
        stdin, write_end = os.pipe()
        threading.Thread(target=_feed, args=(write_end, input.encode()), daemon=True).start()
    try:
        proc = Running(server, argv, cwd, env, module, merge_stderr, stdin, stdout)
    finally:
        if stdin is not None:  # the child has its own; the feeder's writes fail once no one holds it
            os.close(stdin)
    if on_start is not None:
        on_start(proc.child)
    try:
        out, err = proc.communicate(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.child.wait()
        proc.close()
        raise
    assert proc.returncode is not None
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def _feed(fd: int, data: bytes) -> None:
    """Write `data` to the pipe `fd` and close it (a thread: the child may read it after the pipe's buffer filled)."""
    try:
        with open(fd, "wb") as pipe:
            pipe.write(data)
    except BrokenPipeError:  # the child ended without reading it all, as subprocess.run lets it
        pass


def _text(data: bytes) -> str:
    """As subprocess's text mode reads it (universal newlines)."""
    return data.decode().replace("\r\n", "\n").replace("\r", "\n")


if __name__ == "__main__":
    run_request(serve(sys.argv[1], int(sys.argv[2])))  # serve() returns only in a forked child; the child ends as Python does
