"""`agentic replay`: re-execute a recorded run in a fresh worktree and find where it stops matching.

The recorded model turns are fed back in order (no provider, no key, no network); every tool call
runs for real under the current contract and sandbox, and its result is compared with the
recorded one. Results are compared after normalising what legitimately differs between two
executions: the worktree's path and durations ("in 0.02s").
"""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentic.agent.caller import Caller
from agentic.agent.conversation import Conversation
from agentic.agent.dispatch import Dispatcher
from agentic.agent.gatekeeper import Gate
from agentic.agent.loop import Session, agent_loop
from agentic.agent.prompts import task_message
from agentic.agent.recorded import recorded_result, redriven
from agentic.agent.turns import LiveModel
from agentic.errors import ProviderError
from agentic.gate.checks import Verdict
from agentic.journal.records import Journal
from agentic.journal.tape import RecordedCall, RecordedGate, Tape
from agentic.models.base import Message, ToolCall, ToolSpec, Turn
from agentic.policy.approval import NOBODY, Answer, Question
from agentic.policy.budget import Budget, RunStopped
from agentic.policy.contract import Contract
from agentic.sandbox import Sandbox
from agentic.tools import builtin_tools, spec
from agentic.tools.base import Tool, ToolContext, ToolKind, ToolResult
from agentic.util.redact import Redactor
from agentic.workspace import RepoInfo, Workspace

DURATION = re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|s|sec|secs|seconds)\b")
SHOWN = 300  # characters of each side shown around a divergence


class TapeEnded(ProviderError):
    """The replay reached the end of the recorded turns."""


class Diverged(RunStopped):
    status = "diverged"


@dataclass
class Divergence:
    step: int
    tool: str
    expected: str
    actual: str

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "tool": self.tool, "expected": self.expected, "actual": self.actual}


class _EndOfTape:
    """The model of a replay: every answer comes from the tape, so asking it means the tape ended."""

    def __init__(self, name: str) -> None:
        self.name = name

    def complete(self, messages: list[Message], tools: list[ToolSpec], *, timeout_s: float | None = None) -> Turn:
        raise TapeEnded("the recorded turns are all replayed")


def normalise(text: str, worktrees: list[str]) -> str:
    for path in worktrees:
        if path:
            text = text.replace(path, "<worktree>")
    return DURATION.sub("<duration>", text)


def _around(a: str, b: str) -> tuple[str, str]:
    """Both texts trimmed to a window around their first difference."""
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    start = max(0, at - SHOWN // 3)

    def cut(text: str) -> str:
        piece = text[start : start + SHOWN]
        return ("…" if start else "") + piece + ("…" if start + SHOWN < len(text) else "")

    return cut(a), cut(b)


class Comparer:
    """Compares each re-executed result with the recording; stops the loop at the first difference."""

    def __init__(self, worktrees: list[str]) -> None:
        self.worktrees = worktrees
        self.compared = 0
        self.divergence: Divergence | None = None

    def _diverge(self, step: int, tool: str, expected: str, actual: str) -> None:
        self.divergence = Divergence(step, tool, *_around(expected, actual))
        raise Diverged(f"step {step}: {tool} gave a different result")

    def tool(self, step: int, recorded: RecordedCall | None, call: ToolCall, result: ToolResult) -> None:
        if recorded is None or recorded.result is None:
            return  # the recording ends inside this call (a crash): nothing to compare with
        self.compared += 1
        want = recorded.result
        expected = normalise(want.content or "", self.worktrees)
        actual = normalise(result.content, self.worktrees)
        if expected != actual or bool(want.is_error) != result.is_error:
            self._diverge(step, call.name, expected, actual)

    def gate(self, step: int, recorded: RecordedGate | None, verdict: Verdict) -> None:
        if recorded is None or recorded.verdict is None:
            return
        self.compared += 1
        if bool(recorded.verdict.passed) != verdict.passed:
            word = {True: "passed", False: "failed"}
            self._diverge(step, "gate", word[bool(recorded.verdict.passed)], word[verdict.passed])


@dataclass
class ReplayReport:
    run_id: str
    steps: int
    compared: int
    divergence: Divergence | None
    ended: str  # why the replay stopped

    @property
    def identical(self) -> bool:
        return self.divergence is None

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "identical": self.identical, "steps": self.steps, "compared": self.compared,
                "divergence": self.divergence.to_dict() if self.divergence else None, "ended": self.ended}  # fmt: skip


@dataclass
class RecordedMcpTool:
    """An MCP server's tool in a replay: its recorded results, in order, with no server (a server's
    answers are not the harness's to reproduce, only what the run did with them)."""

    name: str
    description: str
    parameters: dict[str, Any]
    results: list[ToolResult]
    kind: ToolKind = "mcp"

    def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        if not self.results:
            return ToolResult(f"error: the recorded run has no more results of {self.name}", is_error=True)
        return self.results.pop(0)


def recorded_mcp_tools(tape: Tape) -> dict[str, Tool]:
    """The MCP tools the recorded run had (its run.start's list), answering from its recorded results."""
    results: dict[str, list[ToolResult]] = {}
    for call in tape.calls:
        if call.call.tool and call.call.tool.startswith("mcp__") and call.result is not None:
            results.setdefault(call.call.tool, []).append(recorded_result(call))
    found: dict[str, Tool] = {}
    for spec_ in tape.start.tools or []:
        name = str(spec_.get("name") or "")
        if name.startswith("mcp__"):
            found[name] = RecordedMcpTool(name, str(spec_.get("description") or ""), dict(spec_.get("parameters") or {}),
                                          results.get(name, []))  # fmt: skip
    return found


class _RecordedAnswers:
    """Approvals a person gave during the recorded run are given again; nobody is asked."""

    def __init__(self, tape: Tape) -> None:
        asked = [c.decision for c in tape.calls if c.decision and c.decision.by in ("person", "no terminal")
                 and not (c.decision.answer == "always" and not c.decision.always)]  # not an earlier `always`
        self.answers = [Answer(d.verdict == "allow", message=d.message or "", always=bool(d.always),
                               by=d.by or "person") for d in asked]  # fmt: skip

    def __call__(self, question: Question) -> Answer:
        return self.answers.pop(0) if self.answers else NOBODY


def replay(repo: RepoInfo, tape: Tape, contract: Contract,
           make_sandbox: Callable[[Path], Sandbox] | None) -> ReplayReport:  # fmt: skip
    """Re-execute the tape in a throw-away worktree from its base commit; `make_sandbox(root)` isolates commands."""
    run_id = f"replay-{uuid.uuid4().hex[:8]}"
    workspace = Workspace(repo.root, run_id, tape.base_commit, contract.generated)
    workspace.create()
    try:
        started = tape.start.continued_from  # a continued run started from its parent's final tree
        if isinstance(started, dict) and started.get("tree"):
            workspace.restore(str(started["tree"]))
        with tempfile.TemporaryDirectory(prefix="agentic-replay-") as tmp:
            journal = Journal(Path(tmp), run_id, Redactor.for_repository(repo.root))
            comparer = Comparer([tape.start.worktree or "", str(workspace.path)])
            session = _session(run_id, tape, contract, workspace, journal, make_sandbox, comparer)
            try:
                agent_loop(session)
                ended = "the gate accepted the change, as recorded"
            except TapeEnded:
                ended = "all recorded steps replayed"
            except Diverged:
                ended = "diverged"
            except RunStopped as stop:
                ended = f"stopped: {stop.reason}"
            finally:
                journal.close()
            return ReplayReport(tape.run_id, tape.turns_used, comparer.compared, comparer.divergence, ended)
    finally:
        workspace.remove(keep_branch=False)


def _session(run_id: str, tape: Tape, contract: Contract, workspace: Workspace, journal: Journal,
             make_sandbox: Callable[[Path], Sandbox] | None, comparer: Comparer) -> Session:  # fmt: skip
    """A session re-executing the tape: its turns answer, its tools run for real, the comparer watches."""
    tools: dict[str, Tool] = {**builtin_tools(), **recorded_mcp_tools(tape)}
    budget = Budget(contract.limits)
    dispatcher = Dispatcher(tools, contract, journal, _RecordedAnswers(tape), Redactor.for_repository(workspace.repo_root))
    sandbox = make_sandbox(workspace.path) if make_sandbox else None
    caller = Caller(_EndOfTape(str(tape.start.model)), journal, budget, contract.limits.max_retries)
    gate = Gate(contract.binding("agent"), workspace, journal, budget, dispatcher, make_sandbox)
    model, handler, judge = redriven(tape, False, comparer, LiveModel(caller), dispatcher, gate)
    talk = Conversation.opening(tape.start.system_prompt or "", task_message(tape.start.task or ""),
                                [spec(t) for t in tools.values()])  # fmt: skip
    return Session(run_id, contract, workspace.path, budget, sandbox, talk, model, handler, judge)
