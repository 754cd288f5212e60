"""The gate as the loop calls it: the worktree's current tree judged against the contract's invariants
on a clean checkout, with the base commit's test runs as the baseline."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from agentic.agent import review
from agentic.agent.dispatch import Dispatcher
from agentic.gate.checks import (
    Baseline,
    Candidate,
    CheckResult,
    Verdict,
    count_tests,
    evaluate,
    runs_commands,
)
from agentic.gate.counting import REMEMBERED, src_packages
from agentic.journal.records import Journal
from agentic.policy.budget import Budget
from agentic.policy.contract import Contract
from agentic.sandbox import Sandbox
from agentic.workspace import Snapshot, Workspace


class Judge(Protocol):
    """Judges the worktree as it is now: its snapshot and the gate's verdict on it."""

    def judge(self, step: int) -> tuple[Snapshot, Verdict]: ...


@dataclass
class Gate:
    contract: Contract
    workspace: Workspace
    journal: Journal
    budget: Budget
    dispatcher: Dispatcher  # what the run's tool calls changed, approved and left behind
    make_sandbox: Callable[[Path], Sandbox] | None = None  # a sandbox for a checkout (None: no commands)
    sandbox_identity: str | None = None  # what those sandboxes show (sandbox_identity); None: nothing remembered
    base_counts: dict[tuple[str, ...], int | None] = field(default_factory=dict)
    base_runs: dict[tuple[str, ...], Baseline] = field(default_factory=dict)  # what the base's test runs read

    def snapshot(self) -> Snapshot:
        """The worktree's change, test artifacts left out."""
        return self.workspace.snapshot(leave_out=self.dispatcher.artifacts())

    def judge(self, step: int) -> tuple[Snapshot, Verdict]:
        snap = self.snapshot()
        return snap, self.evaluate(snap, step)

    def evaluate(self, snap: Snapshot, step: int) -> Verdict:
        """Evaluate the contract's invariants on a clean checkout of the snapshot's tree."""
        left_out = {"left_out": artifacts} if (artifacts := self.dispatcher.artifacts()) else {}
        skipped = {"skipped": [[s.path, s.why] for s in snap.skipped]} if snap.skipped else {}
        self.journal.append("checkpoint", {"tree": snap.tree, "changes": snap.changes, **left_out, **skipped},
                            step=step)  # fmt: skip
        added = self.workspace.added_lines(snap.tree)
        commands = runs_commands(self.contract)  # else no checkout: nothing would run in it
        with self.workspace.checkout(snap.tree, "tree") if commands else nullcontext(self.workspace.path) as root:
            sandbox = self.make_sandbox(root) if self.make_sandbox and commands else None
            cand = Candidate(root, snap.changes, added, baseline=self.base_test_count, base=self.workspace.base,
                             base_facts=self.base_facts)  # fmt: skip
            verdict = evaluate(self.contract, cand, sandbox, timeout_s=self.budget.tool_timeout(600.0))
        if found := review.findings(self.contract, snap.changes):
            passed, detail = review.review(found, self.dispatcher.approver, self.dispatcher.approved, step)
            verdict.checks.append(CheckResult(review.CHECK_ID, "review", passed, detail))
        if snap.skipped:  # said, not judged: the tests ran without them and are the judge
            detail = "; ".join(f"{s.path}: {s.why}" for s in snap.skipped)
            verdict.checks.append(CheckResult("unstaged", "snapshot", True, f"not part of the change: {detail}"))
        self.journal.append("gate.verdict", verdict.to_dict(), step=step, sync=True)
        return verdict

    def base_test_count(self, argv: list[str]) -> int | None:
        """How many tests the base commit collects with this pytest or unittest argv (once per run)."""
        key = tuple(argv)
        if key not in self.base_counts:
            self.base_counts[key] = self.base_facts(argv).collected
        return self.base_counts[key]

    def base_facts(self, argv: list[str]) -> Baseline:
        """The base commit's run of this test argv: its test count and what it read for configuration
        (taken once per process for one base tree, argv and sandbox identity: counting.REMEMBERED)."""
        key = tuple(argv)
        if key not in self.base_runs:
            memo = (self.workspace.base_tree, key, self.sandbox_identity) if self.sandbox_identity else None
            facts = REMEMBERED.get(memo) if memo else None
            remembered = {"remembered": True} if facts is not None else {}
            if facts is None:
                with self.workspace.checkout(self.workspace.base, "commit") as root:
                    sandbox = self.make_sandbox(root) if self.make_sandbox else None
                    timeout = self.budget.tool_timeout(300.0)
                    facts = count_tests(argv, sandbox, root, timeout, src_packages(root)) if sandbox else Baseline(None)
                if memo:  # a count that was not read is not kept (Remembered.put)
                    REMEMBERED.put(memo, facts)
            self.base_runs[key] = facts
            self.journal.append("gate.baseline", {"argv": argv, "collected": facts.collected, **facts.facts(),
                                                  **remembered}, step=self.budget.steps)  # fmt: skip
        return self.base_runs[key]
