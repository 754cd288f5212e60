"""The agent loop, and the session it works on.

The loop asks the model, executes each tool call it makes under the contract, and runs the gate
when the model calls `finish`. It ends by returning the accepted verdict or by a RunStopped
exception (a limit, a rejection, stuck); provider failures and interrupts propagate to the runner.

The session does not know whether it is live or re-driven from an earlier journal: resume, replay
and fork wrap its model, tool handler and gate (agentic.agent.recorded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agentic.agent.conversation import TOOL_OUTPUT_CHARS, Conversation
from agentic.agent.dispatch import Handler, for_model
from agentic.agent.gatekeeper import Judge
from agentic.agent.turns import Answerer
from agentic.agent.watch import Repeats
from agentic.gate.checks import Verdict
from agentic.models.base import ToolCall, Turn
from agentic.policy import engine as policy
from agentic.policy.budget import Budget, Rejected
from agentic.policy.contract import Contract
from agentic.sandbox import Sandbox
from agentic.tools.base import ToolContext, ToolResult
from agentic.workspace import Snapshot

MAX_IDLE_TURNS = 2  # answers without a tool call in a row before the agent is taken to have given up
NUDGE = "Continue with a tool call. When the task is done, call finish with a summary; the gate decides."
CUT = ("Your answer was cut off at the output limit ({cap} tokens) before it made a tool call. Make one "
       "tool call at a time, with shorter arguments (edit_file for part of a file rather than write_file).")  # fmt: skip
REFUSED = ("You declined: {text}\nIf the task conflicts with the contract or cannot be done safely, call finish "
           "and say why in its summary; otherwise continue with a tool call.")  # fmt: skip
NOT_EXECUTED = "not executed: finish was called earlier in this turn"


@dataclass
class Session:
    run_id: str
    contract: Contract
    worktree: Path
    budget: Budget
    sandbox: Sandbox | None  # bound to the worktree (None: no command runs)
    talk: Conversation
    model: Answerer
    tools: Handler
    judge: Judge
    idle: int = 0  # answers without a tool call in a row
    summary: str = ""  # from the last finish call
    snapshot: Snapshot | None = None  # what the last gate judged
    failed: list[str] = field(default_factory=list)  # the checks the last gate failed
    repeats: Repeats = field(init=False)

    def __post_init__(self) -> None:
        self.repeats = Repeats(self.contract.limits.max_repeats)

    def ask_model(self) -> Turn:
        turn = self.model.answer(self.talk, self.budget.steps)
        self.talk.receive(turn)
        return turn

    def act(self, call: ToolCall, said: str = "") -> ToolResult:
        step = self.budget.steps
        rule = self.contract.tools.get(call.name)
        ctx = ToolContext(
            worktree=self.worktree,
            sandbox=self.sandbox,
            test_command=list(self.contract.test_command),
            timeout_s=self.budget.tool_timeout(rule.timeout_s if rule else None),
            idempotency_key=f"{self.run_id}:{step}:{call.id}",
            readable=policy.readable(self.contract, "read_file"),
            seen_at=getattr(self.sandbox, "where", None),
            said=said,
        )
        return self.tools.handle(call, ctx, step, parent=f"step-{step}")

    def gate(self) -> Verdict:
        """The gate's verdict on the worktree; Rejected once it failed max_gate_attempts times."""
        self.snapshot, verdict = self.judge.judge(self.budget.steps)
        self.failed = [c.id for c in verdict.failed]
        if not verdict.passed:
            self.budget.gate_failures += 1
            if self.budget.gate_failures >= self.contract.limits.max_gate_attempts:
                raise Rejected(f"the gate failed {self.budget.gate_failures} times (last: {', '.join(self.failed)})")
        return verdict

    def idle_turn(self, turn: Turn) -> None:
        self.idle += 1
        if self.idle >= MAX_IDLE_TURNS and self.failed:  # it called finish; the gate said no
            times = "once" if self.budget.gate_failures == 1 else f"{self.budget.gate_failures} times"
            raise Rejected(f"the gate failed {times} (last: {', '.join(self.failed)}) and the agent stopped "
                           "without calling finish again")  # fmt: skip
        if self.idle >= MAX_IDLE_TURNS:
            raise Rejected("the agent stopped without calling finish")
        if turn.stop_reason == "max_tokens":
            self.talk.say(CUT.format(cap=self.budget.output_cap))
        elif turn.stop_reason == "refusal":
            self.talk.say(REFUSED.format(text=" ".join(turn.text.split())[:300] or "(no reason given)"))
        else:
            self.talk.say(NUDGE)


def agent_loop(s: Session) -> Verdict:
    """Run until the gate accepts the change; raises RunStopped otherwise."""
    while True:
        s.budget.before_step()
        turn = s.ask_model()
        if not turn.tool_calls:
            s.idle_turn(turn)
            continue
        s.idle = 0
        verdict: Verdict | None = None
        for call in turn.tool_calls:
            if verdict is not None:  # calls after a finish in the same turn are not executed
                s.talk.reply(call, ToolResult(NOT_EXECUTED, is_error=True))
                continue
            s.budget.before_tool_call()
            result = s.act(call, turn.text)
            if result.finish:
                s.summary = str(result.data.get("summary", ""))
                verdict = s.gate()
                s.talk.reply(call, result, "The gate passed." if verdict.passed else verdict.feedback())
                if not verdict.passed:
                    verdict = None
                continue
            s.talk.reply(call, result, for_model(result, TOOL_OUTPUT_CHARS) + s.repeats.see(call, result))
        if verdict is not None:
            return verdict
