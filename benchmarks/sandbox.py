"""Per-command cost of the sandbox against a plain subprocess running the same command.

For `true` and `python -c pass` (this interpreter), runs the variants below interleaved in a
random order each round, and prints median and p95 wall time per variant, the time added over the
plain subprocess and the ratio. Every variant goes through `agentic.sandbox.run_process` (same
pipes, reader thread and timeout timer), so the differences are the sandbox's own.

    plain        run_process(argv)                               no isolation
    bwrap        bubblewrap with namespaces, /dev, /proc, /tmp    the minimum bubblewrap costs
    +binds       … and the host view: hidden dirs, re-bound dirs, masks, read-only targets
    +user        … and setpriv dropping to uid 65534 (when the harness is root)
    +seccomp     … and the seccomp filter
    one-off      BubblewrapSandbox.run: all of it plus rlimits (--info-fd/--block-fd, prlimit(2)),
                 the symlink checks and the ownership walk of the worktree (a gate checkout's sandbox)
    sandbox      the run's sandbox: BubblewrapSandbox(persistent=True).run, the same isolation
                 started once, each command forked inside it by its server with its rlimits, and
                 everything it left killed afterwards (agentic.sandbox_server)

Target: ≤ 5 ms added per command.

    python benchmarks/sandbox.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from agentic.sandbox import BubblewrapSandbox, command_env, run_process, seccomp


def variants(box: BubblewrapSandbox, kept: BubblewrapSandbox, argv: list[str]) -> dict[str, Callable[[], object]]:
    wt = Path(box._wt)
    env = command_env()
    setup = box._setup
    full = box.wrap(argv)
    cut = full.index("--")
    head, user = full[:cut], list(setup.user_prefix)

    def no_caps(cmd: list[str]) -> list[str]:
        """Without setpriv, bubblewrap need not keep CAP_SETUID/CAP_SETGID either."""
        return [f for i, f in enumerate(cmd) if f != "--cap-add" and not (i and cmd[i - 1] == "--cap-add")]

    flags = no_caps(list(setup.flags))
    minimal = [setup.path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
               "--bind", str(wt), str(wt), "--chdir", str(wt), *flags, "--die-with-parent", "--new-session"]  # fmt: skip

    def run(cmd: list[str], fds: tuple[int, ...] = ()) -> None:
        code, output, *_ = run_process(
            cmd, cwd=wt, env=env, timeout_s=60, max_output_bytes=65536, pass_fds=fds
        )
        assert code == 0, output  # a failing variant would be fast for the wrong reason

    def with_seccomp() -> None:
        program = seccomp.program()
        assert program is not None, "seccomp is off here"
        fd = seccomp.pipe_with(program)
        try:
            run([*head, "--seccomp", str(fd), "--", *user, *argv], (fd,))
        finally:
            os.close(fd)

    return {
        "plain": lambda: run(argv),
        "bwrap": lambda: run([*minimal, "--", *argv]),
        "+binds": lambda: run([*no_caps(head), "--", *argv]),
        "+user": lambda: run([*head, "--", *user, *argv]),
        "+seccomp": with_seccomp,
        "one-off": lambda: sandboxed(box, argv),
        "sandbox": lambda: sandboxed(kept, argv),
    }


def sandboxed(box: BubblewrapSandbox, argv: list[str]) -> None:
    result = box.run(argv, timeout_s=60)
    assert result.ok, result.output


def measure(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():  # warm caches (page cache, the seccomp program)
        fn()
    for _ in range(rounds):
        for name in random.sample(list(fns), len(fns)):
            start = time.perf_counter()
            fns[name]()
            times[name].append((time.perf_counter() - start) * 1000)
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def report(title: str, times: dict[str, list[float]]) -> float:
    base = statistics.median(times["plain"])
    print(f"\n{title}")
    print(f"  {'variant':<10} {'median ms':>10} {'p95 ms':>9} {'added ms':>9} {'ratio':>7}")
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"  {name:<10} {median:>10.2f} {p95(values):>9.2f} {median - base:>9.2f} {median / base:>7.1f}x"
        )
    return statistics.median(times["sandbox"]) - base


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    parent = Path(tempfile.mkdtemp(prefix="agentic-bench-"))
    try:
        worktree = parent / "wt"
        worktree.mkdir()
        (worktree / ".git").write_text("gitdir: /nowhere\n")
        for i in range(50):  # a small repository for the ownership walk
            (worktree / f"module_{i}.py").write_text("x = 1\n")
        box = BubblewrapSandbox(worktree)
        kept = BubblewrapSandbox(worktree, persistent=True)
        print(
            f"sandbox: {box.name}, run as {box.run_as or 'the harness user'}, {args.rounds} interleaved rounds"
        )
        added = []
        for argv in (["true"], [sys.executable, "-c", "pass"]):
            title = " ".join(argv if argv[0] == "true" else ["python", "-c", "pass"])
            added.append(report(title, measure(variants(box, kept, argv), args.rounds)))
        verdict = "met" if max(added) <= 5 else "NOT met"
        print(
            f"\ntarget ≤ 5 ms added per command: {verdict} (added: {', '.join(f'{a:.2f} ms' for a in added)})"
        )
        kept.close()
    finally:
        shutil.rmtree(parent, ignore_errors=True)


if __name__ == "__main__":
    main()
