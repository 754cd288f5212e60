"""What the sandboxes share: the worktree, its read-only and hidden paths, and the resource limits
every command gets (address space, CPU seconds, file size, process count)."""

from __future__ import annotations

import math
import resource
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agentic.sandbox import seccomp
from agentic.sandbox.users import default_run_as

GiB = 1024**3
MiB = 1024**2
CPU_MARGIN_S = 5  # RLIMIT_CPU default: the timeout plus this


@dataclass
class Limited:
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
    read_only_worktree: bool = False  # the worktree itself read-only (hooks); not enforced without a sandbox
    network: bool = False  # the host's network reachable (an MCP server the contract lets out); else none
    beside_run: bool = False  # beside the run's own sandbox of the same worktree: reuse its git view

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
        return seccomp.program(pin_session, self.network) if self.seccomp else None

    def close(self) -> None:
        """Release what the sandbox holds between commands (nothing, unless it is persistent)."""
