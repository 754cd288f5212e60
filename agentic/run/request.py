"""What a run is asked to do (RunRequest), how it ended (Ending) and what the caller gets back (RunOutcome)."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentic.agent.recorded import Observer
from agentic.config.settings import Settings
from agentic.journal.tape import Tape
from agentic.models.base import Model, Usage
from agentic.models.ratelimit import Book
from agentic.policy import engine as policy
from agentic.policy.contract import Contract
from agentic.run.continuing import Continuation
from agentic.workspace import RepoInfo

EXIT_CODES = {"accepted": 0, "rejected": 1, "limit_exceeded": 3, "stuck": 3, "failed": 4, "interrupted": 4}


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


@dataclass
class RunRequest:
    task: str
    repo: RepoInfo
    settings: Settings
    contract: Contract
    model: Model
    approver: policy.Approver = policy.deny_all
    argv: list[str] = field(default_factory=lambda: list(sys.argv))
    on_record: Callable[[dict[str, Any], dict[str, Any]], None] | None = None
    unsafe_no_sandbox: bool = False  # the person's explicit choice; journaled
    # re-driving from an earlier journal: resume (same run, reuse what it recorded) or fork (a new
    # run that re-executes the tape's steps in a fresh worktree from the same base, then goes on live)
    tape: Tape | None = None
    resuming: bool = False
    forked_from: dict[str, Any] | None = None  # {"run": id, "step": N}
    continued: Continuation | None = None  # `run --continue`: a new run going on from where another ended
    observer: Observer | None = None  # told each re-executed result next to the tape's (with a tape, not resuming)
    limit_flags: dict[str, Any] = field(default_factory=dict)  # --limit NAME=VALUE, already applied to contract
    # where runs book their model calls against the provider's rate limits (settings `rate_limits`);
    # default: the repository's own file. `agentic eval` points its runs' temporary repositories at its own.
    rate_db: Path | None = None
    rate_book: Book | None = None  # an eval fleet's shared bookings (agentic.eval.fleet); instead of rate_db

    @property
    def base_commit(self) -> str:
        if self.continued is not None:
            return self.continued.base_commit
        return self.tape.base_commit if self.tape is not None else self.repo.head

    @property
    def start_tree(self) -> str | None:
        """The tree a new worktree starts as, when not the base commit's (a continued run, and its forks)."""
        if self.continued is not None:
            return self.continued.tree
        started = self.tape.start.continued_from if self.tape is not None else None
        return str(started["tree"]) if isinstance(started, dict) and started.get("tree") else None


@dataclass
class Ending:
    """How the run ended: its final status, why, and the commit of an accepted change."""

    status: str = "failed"
    reason: str = ""
    commit: str | None = None

    @property
    def ended(self) -> bool:
        """Accepted or rejected: the run is over (its worktree goes); otherwise it may be resumed."""
        return self.status in ("accepted", "rejected")


@dataclass
class RunOutcome:
    run_id: str
    status: str
    reason: str
    branch: str
    base_commit: str
    commit: str | None
    steps: int
    tool_calls: int
    usage: Usage
    journal: Path
    duration_s: float
    changes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.status, 4)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "reason": self.reason,
            "branch": self.branch if self.commit else None,
            "base_commit": self.base_commit,
            "commit": self.commit,
            "steps": self.steps,
            "tool_calls": self.tool_calls,
            "tokens": {**self.usage.to_dict(), "total_tokens": self.usage.total_tokens},
            "changed_files": [p for _, p in self.changes],
            "duration_s": round(self.duration_s, 3),
            "journal": str(self.journal),
        }
