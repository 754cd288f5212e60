"""The agent loop, and the session state it works on.

The loop asks the model, executes each tool call it makes under the contract, and runs the gate
when the model calls `finish`. It ends by returning the accepted verdict or by a RunStopped
exception (a limit, a rejection); provider failures and interrupts propagate to the runner.

A session may be re-driven from a tape (agentic.tape), the journal of an earlier session:
resuming reuses what the tape recorded (model turns, tool results, gate verdicts) without asking
or executing again; re-executing (replay, fork) feeds the recorded turns but runs every tool for
real and reports each result next to the recorded one to an observer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from agentic.agent import context, review
from agentic.agent.caller import Caller
from agentic.agent.dispatch import Dispatcher, for_model
from agentic.gate.checks import Baseline, Candidate, CheckResult, Verdict, count_tests, evaluate
from agentic.journal.records import Journal
from agentic.journal.tape import RecordedCall, RecordedGate, Tape
from agentic.models.base import Message, Model, ToolCall, ToolSpec, Turn
from agentic.policy import engine as policy
from agentic.policy.budget import Budget, Rejected, Stuck
from agentic.policy.contract import Contract
from agentic.tools.base import ToolContext, ToolResult
from agentic.workspace import Snapshot, Workspace

MAX_IDLE_TURNS = 2  # answers without a tool call in a row before the agent is taken to have given up
NUDGE = "Continue with a tool call. When the task is done, call finish with a summary; the gate decides."
CUT = ("Your answer was cut off at the output limit ({cap} tokens) before it made a tool call. Make one "
       "tool call at a time, with shorter arguments (edit_file for part of a file rather than write_file).")  # fmt: skip
REFUSED = ("You declined: {text}\nIf the task conflicts with the contract or cannot be done safely, call finish "
           "and say why in its summary; otherwise continue with a tool call.")  # fmt: skip
REPEATED = ("\n[agentic: {what} {n} times in a row. Change your approach: one more and the run ends "
            "as stuck.]")  # fmt: skip


class Observer(Protocol):
    """Told what a re-executed tool call or gate gave next to what the tape recorded."""

    def tool(self, step: int, recorded: RecordedCall | None, call: ToolCall, result: ToolResult) -> None: ...

    def gate(self, step: int, recorded: RecordedGate | None, verdict: Verdict) -> None: ...


def recorded_result(recorded: RecordedCall) -> ToolResult:
    data = recorded.result or {}
    return ToolResult(data.get("content", ""), bool(data.get("is_error")), dict(data.get("data") or {}),
                      finish=bool(data.get("finish")))  # fmt: skip


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
    base_runs: dict[tuple[str, ...], Baseline] = field(default_factory=dict)  # what the base's test runs read
    snapshot: Snapshot | None = None
    repeats: int = 0  # stuck detection: identical calls or errors in a row
    last_call: tuple[str, str] | None = None
    last_error: str | None = None
    tape: Tape | None = None  # an earlier session's journal to re-drive from
    resuming: bool = False  # reuse the tape's results (resume) rather than re-execute (replay, fork)
    observer: Observer | None = None
    caller: Caller | None = None  # how model calls are made: rate limit, retries (default: no rate limit)
    window: int | None = None  # the model's context window in tokens (None: unknown, nothing is elided)

    def __post_init__(self) -> None:
        if self.caller is None:
            self.caller = Caller(self.model, self.journal, self.budget, self.contract.limits.max_retries)

    def ask_model(self) -> Turn:
        step = self.budget.steps
        recorded = self.tape.next_turn() if self.tape is not None else None
        journaled = recorded is None or not self.resuming  # a resumed run's recorded turns are on disk
        trim = context.fit(self.messages, self.specs, self.window, self.budget.output_cap)
        if trim is not None and journaled:
            self.journal.append("context.trim", trim, step=step)
        if journaled:
            new = self.messages[self.sent :]
            self.journal.append("model.request", {"model": self.model.name, "from": self.sent, "messages": new},
                                step=step)  # fmt: skip
        self.sent = len(self.messages)
        turn = recorded
        if turn is None:
            prompt_tokens = context.estimate(self.messages, self.specs)
            self.budget.before_model_call(prompt_tokens)
            assert self.caller is not None
            turn = self.caller.complete(self.messages, self.specs, step, prompt_tokens)
            turn.cost_usd = self.budget.price.cost(turn.usage) if self.budget.price is not None else None
        self.budget.charge(turn.usage, turn.cost_usd)
        if journaled:
            extra = {"recorded": self.tape.run_id} if recorded is not None and self.tape is not None else {}
            self.journal.append("model.response", {**turn.to_dict(), **extra, "budget": self.budget.to_dict()},
                                step=step)  # fmt: skip
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
            seen_at=getattr(self.sandbox, "where", None),
        )
        recorded = self.tape.next_call(ctx.idempotency_key) if self.tape is not None else None
        if recorded is not None and self.resuming:
            if recorded.result is not None:  # done before the crash: never again
                result = recorded_result(recorded)
                tool = self.dispatcher.tools.get(call.name)
                if tool is not None:
                    self.dispatcher.note(tool, result)
                return result
            return self.dispatcher.handle(call, ctx, step, parent=f"step-{step}", recorded=recorded)
        result = self.dispatcher.handle(call, ctx, step, parent=f"step-{step}")
        if self.observer is not None:
            self.observer.tool(step, recorded, call, result)
        return result

    def reply(self, call: ToolCall, result: ToolResult, content: str | None = None) -> None:
        text = content if content is not None else for_model(result, 30_000)
        self.messages.append({"role": "tool", "tool_call_id": call.id, "name": call.name,
                              "content": f"<tool_output>\n{text}\n</tool_output>", "is_error": result.is_error})  # fmt: skip

    def gate(self) -> Verdict:
        """Evaluate the contract's invariants on a clean checkout of the worktree's current tree."""
        self.snapshot = snap = self.workspace.snapshot(leave_out=self.dispatcher.artifacts())
        recorded = self.tape.next_gate(snap.tree, check=self.resuming) if self.tape is not None else None
        if self.resuming and recorded is not None and recorded.verdict is not None:
            verdict = Verdict.from_dict(recorded.verdict)
        else:
            verdict = self._evaluate(snap)
            if self.observer is not None:
                self.observer.gate(self.budget.steps, recorded, verdict)
        if not verdict.passed:
            self.budget.gate_failures += 1
            if self.budget.gate_failures >= self.contract.limits.max_gate_attempts:
                failed = ", ".join(c.id for c in verdict.failed)
                raise Rejected(f"the gate failed {self.budget.gate_failures} times (last: {failed})")
        return verdict

    def _evaluate(self, snap: Snapshot) -> Verdict:
        left_out = {"left_out": artifacts} if (artifacts := self.dispatcher.artifacts()) else {}
        skipped = {"skipped": [[s.path, s.why] for s in snap.skipped]} if snap.skipped else {}
        self.journal.append("checkpoint", {"tree": snap.tree, "changes": snap.changes, **left_out, **skipped},
                            step=self.budget.steps)  # fmt: skip
        added = self.workspace.added_lines(snap.tree)
        with self.workspace.checkout(snap.tree) as root:
            sandbox = self.make_sandbox(root) if self.make_sandbox else None
            cand = Candidate(root, snap.changes, added, baseline=self.base_test_count, base=self.workspace.base,
                             base_facts=self.base_facts)  # fmt: skip
            verdict = evaluate(self.contract, cand, sandbox, timeout_s=self.budget.tool_timeout(600.0))
        if found := review.findings(self.contract, snap.changes):
            passed, detail = review.review(found, self.dispatcher.approver, self.dispatcher.approved)
            verdict.checks.append(CheckResult(review.CHECK_ID, "review", passed, detail))
        if snap.skipped:  # said, not judged: the tests ran without them and are the judge
            detail = "; ".join(f"{s.path}: {s.why}" for s in snap.skipped)
            verdict.checks.append(CheckResult("unstaged", "snapshot", True, f"not part of the change: {detail}"))
        self.journal.append("gate.verdict", verdict.to_dict(), step=self.budget.steps, sync=True)
        return verdict

    def base_test_count(self, argv: list[str]) -> int | None:
        """How many tests the base commit collects with this pytest or unittest argv (once per run)."""
        key = tuple(argv)
        if key not in self.base_counts:
            self.base_counts[key] = self.base_facts(argv).collected
        return self.base_counts[key]

    def base_facts(self, argv: list[str]) -> Baseline:
        """The base commit's run of this test argv: its test count and what it read for configuration."""
        key = tuple(argv)
        if key not in self.base_runs:
            with self.workspace.checkout(self.workspace.base) as root:
                sandbox = self.make_sandbox(root) if self.make_sandbox else None
                facts = count_tests(argv, sandbox, root, self.budget.tool_timeout(300.0)) if sandbox else Baseline(None)
            self.base_runs[key] = facts
            self.journal.append("gate.baseline", {"argv": argv, "collected": facts.collected, **facts.facts()},
                                step=self.budget.steps)  # fmt: skip
        return self.base_runs[key]

    def idle_turn(self, turn: Turn) -> None:
        self.idle += 1
        if self.idle >= MAX_IDLE_TURNS:
            raise Rejected("the agent stopped without calling finish")
        if turn.stop_reason == "max_tokens":
            nudge = CUT.format(cap=self.budget.output_cap)
        elif turn.stop_reason == "refusal":
            nudge = REFUSED.format(text=" ".join(turn.text.split())[:300] or "(no reason given)")
        else:
            nudge = NUDGE
        self.messages.append({"role": "user", "content": nudge})

    def watch(self, call: ToolCall, result: ToolResult) -> str:
        """Stuck detection: a warning (returned, for the model) at max_repeats identical calls or errors
        in a row; Stuck at one more."""
        try:
            args = json.dumps(json.loads(call.arguments), sort_keys=True)
        except (ValueError, RecursionError):
            args = call.arguments
        same_call = (call.name, args) == self.last_call
        same_error = result.is_error and result.content == self.last_error
        self.repeats = self.repeats + 1 if same_call or same_error else 1
        self.last_call, self.last_error = (call.name, args), result.content if result.is_error else None
        what = f"you called {call.name} with the same arguments" if same_call else "the same error came back"
        limit = self.contract.limits.max_repeats
        if self.repeats > limit:
            raise Stuck(f"the agent is stuck: {what.replace('you', 'it')} {self.repeats} times in a row")
        return REPEATED.format(n=self.repeats, what=what) if self.repeats == limit else ""


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
            s.reply(call, result, for_model(result, 30_000) + s.watch(call, result))
        if verdict is not None:
            return verdict

