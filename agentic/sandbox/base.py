"""What every sandbox is: the Sandbox Protocol, the CommandResult it returns, and its refusals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agentic.sandbox.server import NOT_FOUND_PREFIX

REFUSED_EXIT = 126  # exit code of a CommandResult for a command the sandbox refused to start
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
    stderr: str = ""  # standard error, when asked for apart (split_stderr); else it is in `output`

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def summary(self) -> str:
        if self.timed_out:
            return f"killed after the {self.duration_s:.0f}s timeout"
        return f"exit status {self.exit_code}"


class Sandbox(Protocol):
    name: str

    def run(self, argv: list[str], *, timeout_s: float, max_output_bytes: int = 60_000, stdin: bytes | None = None,
            split_stderr: bool = False, attached: bool = False) -> CommandResult:
        """Run argv confined. `stdin`: its standard input (else none); `split_stderr`: standard error
        in `CommandResult.stderr` rather than in the output; `attached`: its standard streams are the
        caller's own, nothing captured (a long-lived server over stdio, agentic.sandbox.shim)."""
        ...

    def close(self) -> None: ...


def refused(argv: list[str], why: str, sandbox: str) -> CommandResult:
    return CommandResult(list(argv), REFUSED_EXIT, f"refused to start: {why}\n", 0.0, sandbox=sandbox)


def not_found(argv: list[str], code: int | None, output: str) -> str:
    if code not in (None, 0) and output.startswith(NOT_FOUND) and argv and argv[0] in output.splitlines()[0]:
        return f"{argv[0]}: command not found inside the sandbox\n{output}"
    return output
