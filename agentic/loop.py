"""The agent loop, and the session state it works on.

The loop asks the model, executes each tool call it makes under the contract, and runs the gate
when the model calls `finish`. It ends by returning the accepted verdict or by a RunStopped
exception (a limit, a rejection); provider failures and interrupts propagate to the runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentic import policy
from agentic.actions import Dispatcher, for_model
from agentic.budget import Budget, Rejected
from agentic.contract import Contract
from agentic.gate import Candidate, Verdict, count_collected, evaluate
from agentic.journal import Journal
from agentic.models.base import Message, Model, ToolCall, ToolSpec, Turn
from agentic.tools.base import ToolContext, ToolResult
from agentic.workspace import Snapshot, Workspace

MAX_IDLE_TURNS = 2  # answers without a tool call in a row before the agent is taken to have given up
NUDGE = "Continue with a tool call. When the task is done, call finish with a summary; the gate decides."


@dataclass
class Session:
    run_id: str
    model: Model
    specs: list[ToolSpec]
    dispatcher: Dispatcher
    contract: Contract
    workspace: Workspace
    journal: Journal
    budget: Budget
    sandbox: Any  # Sandbox | None, bound to the worktree
    make_sandbox: Any = None  # Callable[[Path], Sandbox] | None: a sandbox for another directory
    messages: list[Message] = field(default_factory=list)
    sent: int = 0  # messages already journaled with a model.request
    idle: int = 0
    summary: str = ""  # from the last finish call
    base_counts: dict[tuple[str, ...], int | None] = field(default_factory=dict)
    snapshot: Snapshot | None = None

    def ask_model(self) -> Turn:
        step = self.budget.steps
        new = self.messages[self.sent :]
        self.journal.append("model.request", {"model": self.model.name, "from": self.sent, "messages": new}, step=step)
        self.sent = len(self.messages)
        turn = self.model.complete(self.messages, self.specs)
        self.budget.charge(turn.usage)
        self.journal.append("model.response", turn.to_dict(), step=step)
        self.messages.append(turn.to_message())
        return turn

    def act(self, call: ToolCall) -> ToolResult:
        step = self.budget.steps
        rule = self.contract.tools.get(call.name)
        ctx = ToolContext(
            worktree=self.workspace.path,
            sandbox=self.sandbox,
            test_command=list(self.contract.test_command),
            timeout_s=self.budget.tool_timeout(rule.timeout_s if rule else None),
            idempotency_key=f"{self.run_id}:{step}:{call.id}",
            readable=policy.readable(self.contract, "read_file"),
        )
        return self.dispatcher.handle(call, ctx, step, parent=f"step-{step}")

    def reply(self, call: ToolCall, result: ToolResult, content: str | None = None) -> None:
        text = content if content is not None else for_model(result, 30_000)
        self.messages.append({"role": "tool", "tool_call_id": call.id, "name": call.name,
                              "content": f"<tool_output>\n{text}\n</tool_output>", "is_error": result.is_error})  # fmt: skip

    def gate(self) -> Verdict:
        """Evaluate the contract's invariants on a clean checkout of the worktree's current tree."""
        self.snapshot = snap = self.workspace.snapshot()
        self.journal.append("checkpoint", {"tree": snap.tree, "changes": snap.changes}, step=self.budget.steps)
        added = self.workspace.added_lines(snap.tree)
        with self.workspace.checkout(snap.tree) as root:
            sandbox = self.make_sandbox(root) if self.make_sandbox else None
            cand = Candidate(root, snap.changes, added, baseline=self.base_test_count)
            verdict = evaluate(self.contract, cand, sandbox, timeout_s=self.budget.tool_timeout(600.0))
        self.journal.append("gate.verdict", verdict.to_dict(), step=self.budget.steps, sync=True)
        if not verdict.passed:
            self.budget.gate_failures += 1
            if self.budget.gate_failures >= self.contract.limits.max_gate_attempts:
                failed = ", ".join(c.id for c in verdict.failed)
                raise Rejected(f"the gate failed {self.budget.gate_failures} times (last: {failed})")
        return verdict

    def base_test_count(self, argv: list[str]) -> int | None:
        """How many tests the base commit collects with this pytest argv (once per run)."""
        key = tuple(argv)
        if key not in self.base_counts:
            with self.workspace.checkout(self.workspace.base) as root:
                sandbox = self.make_sandbox(root) if self.make_sandbox else None
                result = sandbox.run([*argv, "--collect-only"], timeout_s=self.budget.tool_timeout(300.0)) \
                    if sandbox else None  # fmt: skip
            self.base_counts[key] = count_collected(result.output) if result is not None else None
            self.journal.append("gate.baseline", {"argv": argv, "collected": self.base_counts[key]},
                                step=self.budget.steps)  # fmt: skip
        return self.base_counts[key]

    def idle_turn(self) -> None:
        self.idle += 1
        if self.idle >= MAX_IDLE_TURNS:
            raise Rejected("the agent stopped without calling finish")
        self.messages.append({"role": "user", "content": NUDGE})


def agent_loop(s: Session) -> Verdict:
    """Run until the gate accepts the change; raises RunStopped otherwise."""
    while True:
        s.budget.before_step()
        turn = s.ask_model()
        if not turn.tool_calls:
            s.idle_turn()
            continue
        s.idle = 0
        verdict: Verdict | None = None
        for call in turn.tool_calls:
            if verdict is not None:  # calls after a finish in the same turn are not executed
                s.reply(call, ToolResult("not executed: finish was called earlier in this turn", is_error=True))
                continue
            s.budget.before_tool_call()
            result = s.act(call)
            if result.finish:
                s.summary = str(result.data.get("summary", ""))
                verdict = s.gate()
                s.reply(call, result, "The gate passed." if verdict.passed else verdict.feedback())
                if not verdict.passed:
                    verdict = None
                continue
            s.reply(call, result)
        if verdict is not None:
            return verdict

