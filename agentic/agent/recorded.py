"""A session re-driven from a tape (agentic.journal.tape), the journal of an earlier session.

The loop stays the same; its model, tool calls and gate are wrapped:

- resume (the same run, going on after a crash or an interruption): the recorded turns answer
  without being journaled again, a finished call returns its recorded result without running
  again, a call cut short is reconciled by the dispatcher, a recorded verdict stands;
- re-execute (replay, fork): the recorded turns answer (journaled again, marked as recorded), but
  every tool call and every gate runs for real, and an observer is told each result next to the
  recorded one.

Past the end of the tape everything goes live.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agentic.agent.conversation import Conversation
from agentic.agent.dispatch import Dispatcher, Handler
from agentic.agent.gatekeeper import Gate, Judge
from agentic.agent.turns import Answerer, journal_response
from agentic.gate.checks import Verdict
from agentic.journal.records import Journal
from agentic.journal.tape import RecordedCall, RecordedGate, Tape
from agentic.models.base import ToolCall, Turn
from agentic.policy.budget import Budget
from agentic.tools.base import ToolContext, ToolResult
from agentic.workspace import Snapshot


class Observer(Protocol):
    """Told what a re-executed tool call or gate gave next to what the tape recorded."""

    def tool(self, step: int, recorded: RecordedCall | None, call: ToolCall, result: ToolResult) -> None: ...

    def gate(self, step: int, recorded: RecordedGate | None, verdict: Verdict) -> None: ...


def recorded_result(recorded: RecordedCall) -> ToolResult:
    done = recorded.result
    if done is None:
        return ToolResult("", False, {})
    return ToolResult(done.content or "", bool(done.is_error), dict(done.data or {}), finish=bool(done.finish))


@dataclass
class RecordedTurns:
    """A model answering from the tape while it has turns, then the live one. `journaled`: whether
    the recorded turns are journaled again (re-execute) or are on disk already (resume)."""

    tape: Tape
    live: Answerer
    journal: Journal
    budget: Budget
    journaled: bool

    @property
    def name(self) -> str:
        return self.live.name

    def answer(self, talk: Conversation, step: int) -> Turn:
        turn = self.tape.next_turn()
        if turn is None:
            return self.live.answer(talk, step)
        talk.send(self.journal if self.journaled else None, self.name, step, self.budget.output_cap)
        self.budget.charge(turn.usage, turn.cost_usd)
        if self.journaled:
            journal_response(self.journal, self.budget, turn, step, recorded=self.tape.run_id)
        return turn


@dataclass
class RecordedResults:
    """The dispatcher of a resumed run: a call the tape finished gives its recorded result and is not
    executed again; a call cut short by the crash is reconciled by the dispatcher."""

    tape: Tape
    dispatcher: Dispatcher

    def handle(self, call: ToolCall, ctx: ToolContext, step: int, parent: str) -> ToolResult:
        recorded = self.tape.next_call(ctx.idempotency_key)
        if recorded is None:
            return self.dispatcher.handle(call, ctx, step, parent)
        if recorded.result is None:
            return self.dispatcher.handle(call, ctx, step, parent, recorded=recorded)
        result = recorded_result(recorded)  # done before the crash: never again
        tool = self.dispatcher.tools.get(call.name)
        if tool is not None:
            self.dispatcher.note(tool, result)
        return result


@dataclass
class RecordedVerdicts:
    """The gate of a resumed run: a verdict the tape recorded on the same tree stands."""

    tape: Tape
    gate: Gate

    def judge(self, step: int) -> tuple[Snapshot, Verdict]:
        snap = self.gate.snapshot()
        recorded = self.tape.next_gate(snap.tree, check=True)
        if recorded is not None and recorded.verdict is not None:
            return snap, Verdict.from_dict({"checks": recorded.verdict.checks or []})
        return snap, self.gate.evaluate(snap, step)


@dataclass
class ObservedResults:
    """The dispatcher of a re-executed run: every call runs; the observer compares it with the tape's."""

    tape: Tape
    dispatcher: Dispatcher
    observer: Observer | None = None

    def handle(self, call: ToolCall, ctx: ToolContext, step: int, parent: str) -> ToolResult:
        recorded = self.tape.next_call(ctx.idempotency_key)  # the same call in the same order, or a mismatch
        result = self.dispatcher.handle(call, ctx, step, parent)
        if self.observer is not None:
            self.observer.tool(step, recorded, call, result)
        return result


@dataclass
class ObservedVerdicts:
    """The gate of a re-executed run: every gate runs; the observer compares it with the tape's."""

    tape: Tape
    gate: Gate
    observer: Observer | None = None

    def judge(self, step: int) -> tuple[Snapshot, Verdict]:
        snap = self.gate.snapshot()
        recorded = self.tape.next_gate(snap.tree, check=False)
        verdict = self.gate.evaluate(snap, step)
        if self.observer is not None:
            self.observer.gate(step, recorded, verdict)
        return snap, verdict


def redriven(
    tape: Tape | None, resuming: bool, observer: Observer | None, model: Answerer, dispatcher: Dispatcher, gate: Gate
) -> tuple[Answerer, Handler, Judge]:
    """The session's model, tool handler and gate: live without a tape, else wrapped to resume or re-execute."""
    if tape is None:
        return model, dispatcher, gate
    gate.base_counts.update(tape.baselines)
    turns = RecordedTurns(tape, model, gate.journal, gate.budget, journaled=not resuming)
    if resuming:
        return turns, RecordedResults(tape, dispatcher), RecordedVerdicts(tape, gate)
    return turns, ObservedResults(tape, dispatcher, observer), ObservedVerdicts(tape, gate, observer)
