"""Typed journal events: one frozen class per record kind, tagged by `kind`, shared by writers and readers.

A journal record is an envelope (run, seq, ts, step, span, parent, idem: `Envelope`) around a payload
(`data`, or a blob). `parse(kind, data)` turns a payload into its event:

- a known kind gives its class, every field `None` when the record does not carry it (older versions
  wrote fewer fields; a damaged journal may miss any), and what the class does not declare or a value
  of the wrong type kept in `extra`, never dropped;
- a kind this version does not know (a newer harness wrote it) gives an `UnknownEvent` holding the
  raw payload, so readers show it instead of dropping it.

`check(kind, data)` (agentic.journal.validate) is the writers' side: `Journal.append` refuses a payload of a known kind with a
field its class does not declare or a value of the wrong type (`EventError`), so a writer cannot
drift from the definition readers use. Fields marked `Required` are what this version always writes;
they are the `required` of the payload in agentic/schemas/journal-record.schema.json (a test keeps
the schema and these classes equal). Nested objects are TypedDicts: typed for readers, unchanged on
disk (the bytes a writer appends are its payload's, whatever these classes say).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NamedTuple, Union

from agentic.journal.fields import Nullable as Nullable
from agentic.journal.fields import Required as Required
from agentic.journal.fields import Spec as Spec
from agentic.journal.fields import fits as fits
from agentic.journal.fields import specs as specs
from agentic.journal.payloads import Budget as Budget
from agentic.journal.payloads import CallRef as CallRef
from agentic.journal.payloads import Check as Check
from agentic.journal.payloads import Continued as Continued
from agentic.journal.payloads import ContractRef as ContractRef
from agentic.journal.payloads import Facts as Facts
from agentic.journal.payloads import Fork as Fork
from agentic.journal.payloads import Harness as Harness
from agentic.journal.payloads import PlannedResult as PlannedResult
from agentic.journal.payloads import ToolSpec as ToolSpec
from agentic.journal.payloads import Usage as Usage
from agentic.journal.payloads import Who as Who


class EventError(ValueError):
    """A writer's payload does not fit its kind's event class (a harness bug, never a person's error)."""


# -- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Event:
    """What every event has: its kind, and what its record carried that this version does not read."""

    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, kw_only=True)
class RunStart(Event):
    """A run begins: what it was asked, with what, by whom, under which contract and sandbox."""

    kind: Literal["run.start"] = "run.start"
    task: Annotated[str | None, Required] = None
    model: Annotated[str | None, Required] = None
    settings: Annotated[dict[str, Any] | None, Required] = None
    settings_origins: Annotated[dict[str, Any] | None, Required] = None
    contract: Annotated[ContractRef | None, Required] = None
    base_commit: Annotated[str | None, Required] = None
    branch: Annotated[str | None, Required] = None
    worktree: Annotated[str | None, Required] = None
    who: Who | None = None
    harness: Harness | None = None
    sandbox: Annotated[str | None, Nullable] = None
    unsafe_no_sandbox: bool | None = None
    system_prompt: str | None = None
    tools: list[ToolSpec] | None = None
    contract_text: str | None = None
    forked_from: Annotated[Fork | None, Nullable] = None
    continued_from: Annotated[Continued | None, Nullable] = None  # agentic run --continue
    limits: dict[str, Any] | None = None
    limit_flags: dict[str, Any] | None = None
    warnings: list[str] | None = None
    disk_start_bytes: int | None = None
    generated: list[list[str]] | None = None  # [path, sha256] of each ignored file copied in (contract `generated:`)


@dataclass(frozen=True, kw_only=True)
class RunResume(Event):
    """A later session of the same run begins."""

    kind: Literal["run.resume"] = "run.resume"
    who: Who | None = None
    model: str | None = None
    harness: Harness | None = None
    sandbox: Annotated[str | None, Nullable] = None
    unsafe_no_sandbox: bool | None = None
    after_status: Annotated[str | None, Required] = None
    records: Annotated[int | None, Required] = None
    steps: Annotated[int | None, Required] = None
    elapsed_s: Annotated[float | None, Required] = None


@dataclass(frozen=True, kw_only=True)
class ModelRequest(Event):
    """The messages added to the conversation since the previous request (`from`: the first's index)."""

    kind: Literal["model.request"] = "model.request"
    model: Annotated[str | None, Required] = None
    from_: Annotated[int | None, Required] = field(default=None, metadata={"key": "from"})
    messages: Annotated[list[dict[str, Any]] | None, Required] = None


@dataclass(frozen=True, kw_only=True)
class ModelResponse(Event):
    """The model's answer, its usage and cost, and the budget so far."""

    kind: Literal["model.response"] = "model.response"
    text: Annotated[str | None, Required] = None
    tool_calls: Annotated[list[CallRef] | None, Required] = None
    usage: Annotated[Usage | None, Required] = None
    stop_reason: Annotated[str | None, Required] = None
    model: Annotated[str | None, Required] = None
    cost_usd: Annotated[float | None, Nullable] = None
    budget: Budget | None = None
    recorded: str | None = None  # the run whose journal fed this answer (fork, replay)


@dataclass(frozen=True, kw_only=True)
class ModelRetry(Event):
    """A failed model request about to be tried again."""

    kind: Literal["model.retry"] = "model.retry"
    retry: Annotated[int | None, Required] = None
    of: Annotated[int | None, Required] = None
    wait_s: Annotated[float | None, Required] = None
    error: Annotated[str | None, Required] = None
    status: Annotated[int | None, Required, Nullable] = None
    retry_after: Annotated[float | None, Required, Nullable] = None


@dataclass(frozen=True, kw_only=True)
class ModelWait(Event):
    """The call waited for room under the provider's shared rate limit."""

    kind: Literal["model.wait"] = "model.wait"
    wait_s: Annotated[float | None, Required] = None
    rate: Annotated[str | None, Required] = None


@dataclass(frozen=True, kw_only=True)
class ContextTrim(Event):
    """Older tool outputs elided to fit the context window."""

    kind: Literal["context.trim"] = "context.trim"
    window: Annotated[int | None, Required] = None
    before_tokens: Annotated[int | None, Required] = None
    after_tokens: Annotated[int | None, Required] = None
    elided: Annotated[list[int] | None, Required] = None


@dataclass(frozen=True, kw_only=True)
class ToolCall(Event):
    """A tool call as the model made it."""

    kind: Literal["tool.call"] = "tool.call"
    id: Annotated[str | None, Required] = None
    tool: Annotated[str | None, Required] = None
    arguments: Annotated[str | None, Required] = None


@dataclass(frozen=True, kw_only=True)
class PolicyDecision(Event):
    """The contract's (or a person's, or the kill switch's) verdict on a call."""

    kind: Literal["policy.decision"] = "policy.decision"
    tool: Annotated[str | None, Required] = None
    action: Annotated[str | None, Required] = None
    verdict: Annotated[str | None, Required] = None
    rule: Annotated[str | None, Required] = None
    reason: Annotated[str | None, Required] = None
    by: str | None = None
    commands: list[dict[str, Any]] | None = None  # a script's parts, each decided
    annotations: dict[str, bool] | None = None  # an MCP tool's hints (readOnlyHint, destructiveHint, …)
    answer: str | None = None  # a person's answer to an ask: yes, always, no, no with a message, nobody
    message: str | None = None  # what the person told the model with a no
    always: list[str] | None = None  # the rules the person allowed for the rest of the run


@dataclass(frozen=True, kw_only=True)
class ToolEffect(Event):
    """The intent of a side effect: a write's path and fingerprints, a command's tree before it, or an
    MCP call about to be made (its server and tool, whether it may be made twice)."""

    kind: Literal["tool.effect"] = "tool.effect"
    path: str | None = None
    before: Annotated[str | None, Nullable] = None
    after: Annotated[str | None, Nullable] = None
    result: PlannedResult | None = None
    tree: str | None = None
    mcp: dict[str, str] | None = None  # {"server", "tool"}
    idempotent: bool | None = None  # the tool said idempotentHint or readOnlyHint


@dataclass(frozen=True, kw_only=True)
class ToolReconcile(Event):
    """On resume, what became of a call whose intent was recorded but not its result."""

    kind: Literal["tool.reconcile"] = "tool.reconcile"
    outcome: Annotated[str | None, Required] = None
    path: str | None = None
    tree: str | None = None
    found: Annotated[str | None, Nullable] = None


@dataclass(frozen=True, kw_only=True)
class ToolResult(Event):
    """What the model was shown of a call, and its structured facts."""

    kind: Literal["tool.result"] = "tool.result"
    id: Annotated[str | None, Required] = None
    tool: Annotated[str | None, Required] = None
    is_error: Annotated[bool | None, Required] = None
    content: Annotated[str | None, Required] = None
    data: Annotated[Facts | None, Required] = None
    finish: bool | None = None


@dataclass(frozen=True, kw_only=True)
class Checkpoint(Event):
    """The tree the gate judges, its changed paths, and what was left out of it."""

    kind: Literal["checkpoint"] = "checkpoint"
    tree: Annotated[str | None, Required] = None
    changes: Annotated[list[list[str]] | None, Required] = None  # [status, path]
    left_out: list[str] | None = None
    skipped: list[list[str]] | None = None  # [path, why]


@dataclass(frozen=True, kw_only=True)
class GateBaseline(Event):
    """How many tests the base commit collects with a test command."""

    kind: Literal["gate.baseline"] = "gate.baseline"
    argv: Annotated[list[str] | None, Required] = None
    collected: Annotated[int | None, Required, Nullable] = None
    configfile: str | None = None
    rootdir: str | None = None
    remembered: bool | None = None  # true: from an earlier base run of the same commit in this process


@dataclass(frozen=True, kw_only=True)
class GateVerdict(Event):
    """Every invariant's result."""

    kind: Literal["gate.verdict"] = "gate.verdict"
    passed: Annotated[bool | None, Required] = None
    checks: Annotated[list[Check] | None, Required] = None


@dataclass(frozen=True, kw_only=True)
class Commit(Event):
    """The accepted commit."""

    kind: Literal["commit"] = "commit"
    commit: Annotated[str | None, Required] = None
    tree: Annotated[str | None, Required] = None
    checks: Annotated[int | None, Required] = None


@dataclass(frozen=True, kw_only=True)
class RunEnd(Event):
    """A session ends: final status, reason, commit and the budget."""

    kind: Literal["run.end"] = "run.end"
    status: Annotated[str | None, Required] = None
    reason: Annotated[str | None, Required] = None
    commit: Annotated[str | None, Required, Nullable] = None
    budget: Annotated[Budget | None, Required] = None


@dataclass(frozen=True, kw_only=True)
class Notify(Event):
    """One notification channel's delivery after run.end."""

    kind: Literal["notify"] = "notify"
    channel: Annotated[str | None, Required] = None
    target: Annotated[str | None, Required] = None
    outcome: Annotated[str | None, Required] = None
    attempts: Annotated[int | None, Required] = None
    status_code: Annotated[int | None, Nullable] = None
    error: str | None = None
    signed: bool | None = None
    duration_s: float | None = None
    idempotency_key: str | None = None
    event: str | None = None
    waits_s: list[float] | None = None


@dataclass(frozen=True, kw_only=True)
class HookRun(Event):
    """A hook of the contract ran: which, its exit status, what it decided (agentic.agent.hooks)."""

    kind: Literal["hook.run"] = "hook.run"
    point: Annotated[str | None, Required] = None  # pre_tool, post_tool, pre_finish, run_end
    hook: Annotated[str | None, Required] = None  # hooks.POINT[i] and its command
    command: list[str] | None = None
    tool: Annotated[str | None, Nullable] = None
    exit_code: Annotated[int | None, Nullable] = None  # null: it did not finish, or did not start
    timed_out: bool | None = None
    outcome: Annotated[str | None, Required] = None  # pass, deny, ask, note, failed
    reason: str | None = None
    note: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    duration_s: float | None = None


@dataclass(frozen=True, kw_only=True)
class UnknownEvent(Event):
    """A kind this version does not know (a newer harness wrote it): kept whole, shown, not interpreted."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


KnownEvent = Union[  # noqa: UP007 - a union of classes read as one type
    RunStart, RunResume, ModelRequest, ModelResponse, ModelRetry, ModelWait, ContextTrim, ToolCall,
    PolicyDecision, ToolEffect, ToolReconcile, ToolResult, Checkpoint, GateBaseline, GateVerdict, Commit,
    RunEnd, Notify, HookRun,
]  # fmt: skip
JournalEvent = Union[KnownEvent, UnknownEvent]  # noqa: UP007

CLASSES: tuple[type[Event], ...] = typing.get_args(KnownEvent)
KINDS: dict[str, type[Event]] = {
    str(f.default): cls for cls in CLASSES for f in dataclasses.fields(cls) if f.name == "kind"
}


# -- reading and writing --------------------------------------------------------------------------


def parse(kind: str, data: Mapping[str, Any]) -> JournalEvent:
    """The event of a record's kind and payload. Never raises: see the module's docstring."""
    cls = KINDS.get(kind)
    if cls is None:
        return UnknownEvent(kind=kind, data=dict(data))
    fields_ = specs(cls)
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        spec = fields_.get(key)
        if spec is not None and fits(value, spec.type):
            values[spec.attr] = value
        else:
            extra[key] = value
    return typing.cast(KnownEvent, cls(extra=extra, **values))


@dataclass(frozen=True)
class Envelope:
    """The record around an event. Read leniently: a value of the wrong type is None (step: 0)."""

    run: str | None = None
    seq: int | None = None
    ts: float | None = None
    step: int = 0
    span: str | None = None
    parent: str | None = None
    idem: str | None = None
    kind: str = ""

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> Envelope:
        def get(key: str, hint: Any) -> Any:
            value = record.get(key)
            return value if value is not None and fits(value, hint) else None

        step = get("step", int)
        ts = get("ts", float)
        return cls(get("run", str), get("seq", int), None if ts is None else float(ts), step or 0,
                   get("span", str), get("parent", str), get("idem", str), str(record.get("kind") or ""))  # fmt: skip


class Entry(NamedTuple):
    """A journal record read back: its envelope and its event."""

    head: Envelope
    event: JournalEvent


def entry(record: Mapping[str, Any], data: Mapping[str, Any] | None) -> Entry:
    """(record, data) as a journal listener receives them, typed."""
    head = Envelope.of(record)
    return Entry(head, parse(head.kind, data if isinstance(data, Mapping) else {}))
