"""A run's journal read back as a tape: what the model answered, what each tool call did, what the
gate said, in order. Resume, replay and fork re-drive the agent loop from it.

The loop is deterministic given the model's turns, so re-driving it makes the same tool calls in
the same order; the tape hands back recorded items in that order and checks each against the call
the loop makes now (same idempotency key), so a journal that does not fit the run is noticed at
the first mismatch instead of silently skipping work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from agentic.errors import JournalMismatch
from agentic.journal.events import (
    Checkpoint,
    Commit,
    GateBaseline,
    GateVerdict,
    KnownEvent,
    ModelResponse,
    PolicyDecision,
    RunEnd,
    RunResume,
    RunStart,
    ToolCall,
    ToolEffect,
    ToolResult,
    parse,
)
from agentic.journal.records import payload, read_records
from agentic.models.base import Turn

T = TypeVar("T")


@dataclass
class RecordedCall:
    """One tool call as recorded: the call, the decision on it, the last side effect it announced and
    its result (None where the journal stops before them)."""

    span: str
    idem: str | None
    step: int
    call: ToolCall
    decision: PolicyDecision | None = None
    effect: ToolEffect | None = None  # the last `tool.effect` announced for it
    result: ToolResult | None = None


@dataclass
class RecordedGate:
    step: int
    tree: str
    verdict: GateVerdict | None = None


@dataclass
class Tape:
    """A run's journal read back: its run.start, the model's turns, the tool calls and gates with their
    typed events (agentic.journal.events), its commit and the run.end of each session."""

    run_id: str
    start: RunStart
    turns: list[tuple[int, Turn]] = field(default_factory=list)  # (step, turn)
    calls: list[RecordedCall] = field(default_factory=list)
    gates: list[RecordedGate] = field(default_factory=list)
    baselines: dict[tuple[str, ...], int | None] = field(default_factory=dict)
    commit: Commit | None = None
    ends: list[RunEnd] = field(default_factory=list)  # oldest first
    elapsed_s: float = 0.0  # time the run was active, summed over its sessions
    ended: bool = False  # the last session ended with run.end (no crash since)
    records: int = 0
    _turn: int = 0
    _call: int = 0
    _gate: int = 0

    @classmethod
    def read(cls, journal: Path) -> Tape:
        directory = journal.parent
        tape: Tape | None = None
        spans: dict[str, RecordedCall] = {}
        segment: tuple[float, float] | None = None  # (first ts, last ts) of the current session
        for record in read_records(journal):
            step, span = int(record["step"]), str(record["span"])
            data = payload(record, directory)
            event = parse(str(record["kind"]), data)
            if tape is None:
                if not isinstance(event, RunStart):
                    raise JournalMismatch(f"{journal} does not begin with run.start")
                tape = cls(record["run"], event)
            tape.records += 1
            ts = float(record["ts"])
            if isinstance(event, RunStart | RunResume):
                tape.ended = False
                if segment is not None:
                    tape.elapsed_s += segment[1] - segment[0]
                segment = (ts, ts)
            elif segment is not None:
                segment = (segment[0], ts)
            match event:
                case ModelResponse():
                    tape.turns.append((step, Turn.from_dict(data)))
                case ToolCall():
                    spans[span] = rec = RecordedCall(span, record.get("idem"), step, event)
                    tape.calls.append(rec)
                case PolicyDecision() if span in spans:
                    spans[span].decision = event
                case ToolEffect() if span in spans:
                    spans[span].effect = event
                case ToolResult() if span in spans:
                    spans[span].result = event
                case Checkpoint():
                    tape.gates.append(RecordedGate(step, _present(event.tree, event)))
                case GateVerdict() if tape.gates and tape.gates[-1].verdict is None:
                    tape.gates[-1].verdict = event
                case GateBaseline():
                    tape.baselines[tuple(_present(event.argv, event))] = event.collected
                case Commit():
                    tape.commit = event
                case RunEnd():
                    tape.ends.append(event)
                    tape.ended = True
        if tape is None:
            raise JournalMismatch(f"{journal} has no records")
        if segment is not None:
            tape.elapsed_s += segment[1] - segment[0]
        return tape

    @property
    def status(self) -> str:
        """The run's status as the journal tells it: the last run.end's, or "running" (it crashed)."""
        return str(self.ends[-1].status) if self.ended else "running"

    def until_step(self, step: int) -> Tape:
        """The tape of the first `step` steps only (for a fork): nothing recorded after them."""
        return Tape(
            self.run_id, self.start,
            turns=[(s, t) for s, t in self.turns if s <= step],
            calls=[c for c in self.calls if c.step <= step],
            gates=[g for g in self.gates if g.step <= step],
            baselines=dict(self.baselines),
        )  # fmt: skip

    @property
    def base_commit(self) -> str:
        """The commit the run started from (JournalMismatch if its run.start lacks it)."""
        return _present(self.start.base_commit, self.start)

    @property
    def steps(self) -> int:
        return self.turns[-1][0] if self.turns else 0

    # -- consumed in order while the loop is re-driven ------------------------------------------

    def next_turn(self) -> Turn | None:
        if self._turn >= len(self.turns):
            return None
        self._turn += 1
        return self.turns[self._turn - 1][1]

    def next_call(self, idem: str) -> RecordedCall | None:
        if self._call >= len(self.calls):
            return None
        rec = self.calls[self._call]
        if _step_call(rec.idem) != _step_call(idem):  # replay and fork re-drive under another run id
            raise JournalMismatch(
                f"the journal's tool call {self._call + 1} is {rec.idem} ({rec.call.tool}), "
                f"but the run now makes {idem}"
            )
        self._call += 1
        return rec

    def next_gate(self, tree: str, check: bool = True) -> RecordedGate | None:
        if self._gate >= len(self.gates):
            return None
        rec = self.gates[self._gate]
        if check and rec.tree != tree:
            raise JournalMismatch(
                f"the journal's gate {self._gate + 1} checked tree {rec.tree[:12]}, "
                f"but the worktree now gives {tree[:12]}"
            )
        self._gate += 1
        return rec

    @property
    def turns_used(self) -> int:
        return self._turn


def _present(value: T | None, event: KnownEvent) -> T:
    """A field the tape cannot do without: a record that lacks it does not fit the run."""
    if value is None:
        raise JournalMismatch(f"the journal's {event.kind} record lacks a field resume needs")
    return value


def _step_call(idem: str | None) -> str:
    """`step:call` of an idempotency key `run:step:call`."""
    return (idem or "").partition(":")[2]
