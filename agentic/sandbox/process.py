"""Running a process with capped output and a timeout that kills its whole process group, and the
file descriptors handed to one spawn."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


class Capped:
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
    stdin: bytes | None = None,
    stderr_into: Capped | None = None,
    attached: bool = False,
) -> tuple[int | None, str, bool, bool, float]:
    """Run cmd in its own session; on timeout kill its process group. → (code, output, timed_out, cut, secs).

    `user` (uid, gid) switches the child to that user with no supplementary groups; with it or a
    preexec_fn, Python forks instead of using vfork. `on_start(pid)` runs once the child exists,
    under the timeout; when it raises OSError the group is killed and the error re-raised.
    `stdin`: what the command reads on its standard input (else /dev/null); `stderr_into`: where its
    standard error goes, apart from the output (else into the output). `attached`: the command's
    standard streams are this process's own, nothing is captured (a long-lived server over stdio).
    """
    start = time.monotonic()
    ids = {"user": user[0], "group": user[1], "extra_groups": []} if user else {}
    proc = subprocess.Popen(  # type: ignore[call-overload]
        cmd,
        cwd=cwd,
        env=env,
        stdin=None if attached else subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=None if attached else subprocess.PIPE,
        stderr=None if attached else subprocess.STDOUT if stderr_into is None else subprocess.PIPE,
        start_new_session=True,
        pass_fds=tuple(pass_fds),
        preexec_fn=preexec_fn,
        **ids,
    )
    buffer = Capped(max_output_bytes)

    def pump(stream: Any, into: Capped) -> None:
        while chunk := stream.read1(65536):
            into.feed(chunk)

    def feed_stdin() -> None:
        assert proc.stdin is not None and stdin is not None
        with contextlib.suppress(OSError):  # the command may exit without reading it all
            proc.stdin.write(stdin)
        with contextlib.suppress(OSError):
            proc.stdin.close()

    threads = [] if attached else [threading.Thread(target=pump, args=(proc.stdout, buffer), daemon=True)]
    if stderr_into is not None:
        threads.append(threading.Thread(target=pump, args=(proc.stderr, stderr_into), daemon=True))
    if stdin is not None:
        threads.append(threading.Thread(target=feed_stdin, daemon=True))
    for thread in threads:
        thread.start()
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
    for thread in threads:
        thread.join(timeout=5)
    for stream in (proc.stdout, proc.stderr, proc.stdin):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    if failure is not None:
        raise failure
    output, cut = buffer.text()
    return (None if timed_out else proc.returncode), output, timed_out, cut, time.monotonic() - start


class Fds:
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


def read_child_pid(fd: int) -> int | None:
    """The sandbox init's pid from bubblewrap's --info-fd JSON; None when bwrap ended before it."""
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
        with contextlib.suppress(ValueError, KeyError, TypeError):
            return int(json.loads(data)["child-pid"])
    return None
