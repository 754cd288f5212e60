"""One tool call, from the model's raw request to a result: validate → decide → execute → record.

Nothing runs before its arguments are valid JSON of the right shape and the contract allowed it.
Every outcome, refusals included, comes back as a ToolResult the model can act on, and is journaled.
"""

from __future__ import annotations

import contextlib
import json
import typing
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from agentic.agent.arguments import parse_arguments, schema_error
from agentic.agent.hooks import HookRunner
from agentic.agent.preview import preview
from agentic.errors import JournalMismatch
from agentic.journal.events import ToolEffect
from agentic.journal.records import Journal
from agentic.journal.tape import RecordedCall
from agentic.models.base import ToolCall
from agentic.policy import engine as policy
from agentic.policy.budget import LimitExceeded
from agentic.policy.contract import Contract
from agentic.policy.decision import Verdict
from agentic.policy.hooks import tightened
from agentic.sandbox.diskguard import DiskGuard
from agentic.tools.base import Tool, ToolContext, ToolFailure, ToolResult, WritePlan
from agentic.util import paths

MAX_ARGUMENT_CHARS = 2_000_000
MAX_HOOK_RESULT = 60_000  # characters of a tool's result a post_tool hook is given
MAX_ARGUMENT_DEPTH = 64  # nested arrays and objects: no tool takes more than a few
SIDE_EFFECTS = ("write", "command", "tests")


def describe(tool: Tool, args: dict[str, Any]) -> str:
    """The exact action, for a person asked to approve it and for timelines."""
    if tool.kind == "command":
        return f"run: {args.get('command', '')}"
    if tool.kind == "tests":
        return f"run tests{': ' + args['target'] if args.get('target') else ''}"
    if tool.kind in ("read", "write"):
        return f"{tool.name} {args.get('path') or '.'}"
    if tool.kind == "mcp":
        return f"{tool.name} {json.dumps(args, ensure_ascii=False, sort_keys=True)[:500]}"
    return tool.name


class Handler(Protocol):
    """Handles one tool call of the model: decided, executed, journaled (the Dispatcher, or a wrapper)."""

    def handle(self, call: ToolCall, ctx: ToolContext, step: int, parent: str) -> ToolResult: ...


@dataclass
class Dispatcher:
    """Handles tool calls for one run. Write-ahead: before a side effect happens its intent is on
    disk (`tool.effect`, fsynced): for a write, the path's fingerprint before and after; for a
    command, the worktree's tree. A call whose intent a crashed session recorded (`recorded`) is
    reconciled instead of blindly repeated: a write that took place is not made again; a command
    is rolled back to its tree and run again."""

    tools: dict[str, Tool]
    contract: Contract
    journal: Journal
    approver: policy.Approver
    redact: Callable[[str], str]
    switch: Callable[[str], dict[str, Any] | None] | None = None  # the kill switch of a tool, read at every call
    changed: set[str] = field(default_factory=set)  # files the agent changed so far (write tools, its commands)
    test_changed: set[str] = field(default_factory=set)  # files running the test command changed
    approved: set[str] = field(default_factory=set)  # paths a person approved a write to (not asked again at the gate)
    always: set[str] = field(default_factory=set)  # rules a person allowed for the rest of the run
    tree: Callable[[], str] | None = None  # the worktree's current tree id (staged), for commands
    restore: Callable[[str], None] | None = None  # make the worktree that tree again
    between: Callable[[str, str], list[tuple[str, str]]] | None = None  # (A/M/D, path) from one tree to another
    # the worktree's tree after the last command, while nothing has written since (the sandbox kills
    # what a command leaves running, so only the write tools and a restore change the worktree between)
    known_tree: str | None = None
    disk: DiskGuard | None = None  # limits.max_disk_mb across the run's commands
    kill: Callable[[], object] = lambda: None  # kills the command in flight (the disk guard's way to stop it)
    hooks: HookRunner | None = None  # the contract's pre_tool, post_tool and pre_finish hooks

    def handle(
        self, call: ToolCall, ctx: ToolContext, step: int, parent: str, recorded: RecordedCall | None = None
    ) -> ToolResult:
        tool = self.tools.get(call.name)
        if recorded is None:
            span = uuid.uuid4().hex[:16]
            intent: dict[str, Any] = {"id": call.id, "tool": call.name, "arguments": call.arguments}
            self.journal.append("tool.call", intent, step=step, span=span, parent=parent, idem=ctx.idempotency_key)
        else:
            span = recorded.span  # a crashed session announced this call: carry on under its span
        result = self._handle(tool, call, ctx, step, span, recorded)
        result = replace(result, content=self.redact(result.content))
        self.journal.append(
            "tool.result",
            {"id": call.id, "tool": call.name, "is_error": result.is_error, "content": result.content,
             "data": result.data, **({"finish": True} if result.finish else {})},
            step=step, span=span, parent=parent, idem=ctx.idempotency_key,
        )  # fmt: skip
        if self.disk is not None and tool is not None and tool.kind in ("command", "tests"):
            self.disk.check()  # after the result is journaled: resume does not run the command again
        return result

    def _handle(
        self, tool: Tool | None, call: ToolCall, ctx: ToolContext, step: int, span: str, recorded: RecordedCall | None
    ) -> ToolResult:
        if tool is None:
            names = ", ".join(sorted(self.tools))
            return ToolResult(f"error: unknown tool {call.name!r}; the tools are: {names}", is_error=True,
                              data={"refused": "unknown-tool"})  # fmt: skip
        try:
            args = parse_arguments(call.arguments)
        except ValueError as exc:
            return ToolResult(f"error: {exc}", is_error=True, data={"refused": "invalid-arguments"})
        if (problem := schema_error(tool, args)) is not None:
            return ToolResult(f"error: {problem}", is_error=True, data={"refused": "invalid-arguments"})
        action = describe(tool, args)
        decision = self._decide(tool, args, action, recorded, ctx, step)
        self._check_files_limit(tool, args, decision)
        known = recorded.decision if recorded is not None else None
        if known is None or {"verdict": known.verdict, "rule": known.rule, "reason": known.reason,
                             "by": known.by} != decision.to_dict():
            parts: dict[str, Any] = {"commands": [p.to_dict() for p in decision.parts]} if decision.parts else {}
            if hints := getattr(tool, "annotations", None):
                parts["annotations"] = dict(hints)  # an MCP tool's hints, shown with its decision
            self.journal.append("policy.decision", {"tool": tool.name, "action": action, **decision.to_dict(), **parts,
                                                    **decision.answered()},
                                step=step, span=span, parent=span)  # fmt: skip
        if decision.verdict != "allow":
            return ToolResult(refusal(action, decision), is_error=True, data={"refused": decision.rule})
        try:
            result = self._execute(tool, args, ctx, step, span, recorded)
        except ToolFailure as exc:
            result = ToolResult(f"error: {exc}", is_error=True, data={"failed": str(exc)})
        except (OSError, UnicodeError) as exc:
            result = ToolResult(f"error: {tool.name} failed: {exc}", is_error=True, data={"failed": str(exc)})
        else:
            self.note(tool, result, args.get("path"))
        return self._post_tool(tool, args, result, step) if self.hooks is not None else result

    def _post_tool(self, tool: Tool, args: dict[str, Any], result: ToolResult, step: int) -> ToolResult:
        """The result after the hooks: a finish refused by a pre_finish hook, or notes of post_tool hooks."""
        assert self.hooks is not None
        if result.finish:
            summary = {"tool": tool.name, "summary": str(result.data.get("summary", ""))}
            for answer in self.hooks.run("pre_finish", step, summary):
                if answer.refuses:
                    return ToolResult(f"finish refused by {answer.hook.name}: {answer.reason}\nThe gate did not run. "
                                      "Address this, then call finish again.", is_error=True,
                                      data={"refused": f"hook {answer.hook.name}"})  # fmt: skip
            return result
        facts = {"tool": tool.name, "arguments": args,
                 "result": {"content": result.content[:MAX_HOOK_RESULT], "is_error": result.is_error, "data": result.data}}  # fmt: skip
        notes = [f"[{a.hook.name}: {a.note}]" for a in self.hooks.run("post_tool", step, facts, tool=tool.name) if a.note]
        return replace(result, content="\n".join([result.content, *notes])) if notes else result

    def note(self, tool: Tool, result: ToolResult, path: Any = None) -> None:
        """What a finished call changed in the worktree: the agent's changes (write tools, its own
        commands), or files the test command wrote (test artifacts, unless the agent changed them too)."""
        if tool.kind == "write" and not result.is_error:
            self.changed.add(str(result.data.get("path", path)))
        changed = [str(c["path"]) for c in result.data.get("changed") or []]
        (self.test_changed if tool.kind == "tests" else self.changed).update(changed)

    def artifacts(self) -> list[str]:
        """Files only running the test command changed: never part of the accepted change."""
        return sorted(self.test_changed - self.changed)

    def _decide(
        self, tool: Tool, args: dict[str, Any], action: str, recorded: RecordedCall | None, ctx: ToolContext,
        step: int,
    ) -> policy.Decision:
        switched = self.switch(tool.name) if self.switch is not None else None
        if switched is not None:  # the kill switch wins, also over a decision recorded before it was thrown
            reason = f"disabled by {switched['disabled_by']}" + (f": {switched['reason']}" if switched["reason"] else "")
            return policy.Decision("deny", f"kill-switch {tool.name}", reason, decided_by="kill switch")
        if recorded is not None and recorded.decision is not None:  # a person's answer is not asked again
            d = recorded.decision
            if d.verdict is None or d.rule is None:
                raise JournalMismatch(f"the journal's policy.decision for {tool.name} lacks its verdict or rule")
            if d.verdict == "allow" and d.by == "person" and tool.kind == "write":
                self.approved.add(str(args.get("path")))
            self.always.update(d.always or ())
            verdict = typing.cast(Verdict, d.verdict)
            return policy.Decision(verdict, d.rule, d.reason if d.reason is not None else "", d.by or "contract",
                                   answer=d.answer or "", message=d.message or "", always=tuple(d.always or ()))
        decided = policy.decide(self.contract, tool.name, tool.kind, args, root=ctx.seen_at or str(ctx.worktree))
        decision = self._pre_tool(tool, args, self._approval_needed(tool, args, decided), step)
        return self._ask(tool, args, action, decision, ctx, step) if decision.verdict == "ask" else decision

    def _pre_tool(self, tool: Tool, args: dict[str, Any], decision: policy.Decision, step: int) -> policy.Decision:
        """The decision after the pre_tool hooks: stricter or the same (a refused call is not shown to them)."""
        if self.hooks is None or decision.verdict == "deny":
            return decision
        facts = {"tool": tool.name, "arguments": args, "decision": decision.to_dict()}
        for answer in self.hooks.run("pre_tool", step, facts, tool=tool.name):
            verdict = "deny" if answer.refuses else answer.outcome
            decision = tightened(decision, verdict, f"hook {answer.hook.name}", answer.reason)
        return decision

    def _ask(
        self, tool: Tool, args: dict[str, Any], action: str, decision: policy.Decision, ctx: ToolContext, step: int
    ) -> policy.Decision:
        """A person's answer to an `ask` (or an earlier `always` for every rule that asked), as the decision."""
        hints = ", ".join(f"{k}: {v}" for k, v in (getattr(tool, "annotations", None) or {}).items())
        question = policy.Question(tool.name, action, decision.rule, decision.reason + (f" (the server says {hints})"
                                   if hints else ""), step=step, said=ctx.said, parts=decision.parts)  # fmt: skip
        if all(rule in self.always for rule in question.asking_rules):
            return replace(decision, verdict="allow", decided_by="person", answer="always",
                           reason=f"allowed for the rest of the run by the person ({', '.join(question.asking_rules)})")
        answer = self.approver(replace(question, detail=preview(tool, args, ctx)))
        always = question.asking_rules if answer.allow and answer.always else ()
        self.always.update(always)
        if answer.allow and tool.kind == "write":
            self.approved.add(str(args.get("path")))
        return replace(decision, verdict="allow" if answer.allow else "deny", decided_by=answer.by,
                       reason=_answer(answer, decision.reason), answer=answer.word, message=answer.message,
                       always=always)  # fmt: skip

    def _execute(
        self, tool: Tool, args: dict[str, Any], ctx: ToolContext, step: int, span: str, recorded: RecordedCall | None
    ) -> ToolResult:
        effect = recorded.effect if recorded is not None else None
        idem = ctx.idempotency_key
        if tool.kind == "write" and hasattr(tool, "plan"):
            self.known_tree = None
            if effect is not None and (done := self._write_done(effect, ctx, step, span, idem)) is not None:
                return done
            plan: WritePlan = tool.plan(args, ctx)
            self.journal.append(
                "tool.effect",
                {"path": plan.path, "before": plan.before, "after": plan.after,
                 "result": {"content": plan.result.content, "is_error": plan.result.is_error, "data": plan.result.data}},
                step=step, span=span, parent=span, idem=idem, sync=True,
            )  # fmt: skip
            plan.apply()
            return plan.result
        if tool.kind == "mcp":
            return self._mcp(tool, args, ctx, step, span, effect)
        if tool.kind in ("command", "tests") and self.tree is not None:
            if effect is not None and effect.tree and self.restore is not None:
                self.known_tree = None
                now = self.tree()
                rolled = now != effect.tree
                if rolled:
                    self.restore(effect.tree)
                self.journal.append("tool.reconcile",
                                    {"outcome": "rolled back, run again" if rolled else "run again",
                                     "tree": effect.tree, "found": now},
                                    step=step, span=span, parent=span, idem=idem, sync=True)  # fmt: skip
            before, self.known_tree = self.known_tree or self.tree(), None
            self.journal.append("tool.effect", {"tree": before}, step=step, span=span, parent=span, idem=idem,
                                sync=True)  # fmt: skip
            with self.disk.watching(self.kill) if self.disk is not None else contextlib.nullcontext():
                result = tool.execute(args, ctx)
            if self.disk is not None and self.disk.tripped:
                limit = f"{self.disk.limit // (1024 * 1024)} MiB"
                result = replace(result, is_error=True, content=f"{result.content}\n[killed: the worktree grew past "
                                 f"limits.max_disk_mb ({limit}) while the command ran]")  # fmt: skip
            self.known_tree = after = self.tree()
            return self._with_changes(result, before, after)
        return tool.execute(args, ctx)

    def _mcp(
        self, tool: Tool, args: dict[str, Any], ctx: ToolContext, step: int, span: str, effect: ToolEffect | None
    ) -> ToolResult:
        """An MCP call, its intent on disk first. One the harness was making when it stopped (intent,
        no result) is made again only if the tool says it may be; otherwise its outcome is unknown."""
        idem, idempotent = ctx.idempotency_key, bool(getattr(tool, "idempotent", False))
        if effect is not None:
            outcome = "made again (the tool is idempotent)" if idempotent else "outcome unknown"
            self.journal.append("tool.reconcile", {"outcome": outcome}, step=step, span=span, parent=span, idem=idem,
                                sync=True)  # fmt: skip
            if not idempotent:
                return ToolResult(f"outcome unknown: this call to {tool.name} was in flight when the harness stopped; "
                                  "it may or may not have taken effect. Check with a read-only call before making it "
                                  "again.", is_error=True, data={"mcp": dict(effect.mcp or {}), "unknown": True})  # fmt: skip
        server, _, name = tool.name.removeprefix("mcp__").partition("__")
        self.journal.append("tool.effect", {"mcp": {"server": server, "tool": name}, "idempotent": idempotent},
                            step=step, span=span, parent=span, idem=idem, sync=True)  # fmt: skip
        return tool.execute(args, ctx)

    def _with_changes(self, result: ToolResult, before: str, after: str) -> ToolResult:
        """A command's result with the files it changed in the worktree (from the snapshot), so that
        edits made through the shell are journaled and counted like the write tools'."""
        if after == before or self.between is None:
            return result
        changes = self.between(before, after)
        return replace(result, data={**result.data, "changed": [{"status": st, "path": p} for st, p in changes]})

    def _write_done(
        self, effect: ToolEffect, ctx: ToolContext, step: int, span: str, idem: str
    ) -> ToolResult | None:
        """A write announced before a crash: its result if it took place, None if it did not."""
        if effect.path is None or effect.result is None:
            raise JournalMismatch("the journal's tool.effect of an interrupted write lacks its path or result")
        now = paths.fingerprint(ctx.worktree, effect.path)
        if now == effect.after:
            outcome = "applied before the crash"
        elif now == effect.before:
            outcome = "not applied; applying"
        else:
            raise JournalMismatch(
                f"{effect.path} in the worktree is neither what it was before the interrupted write nor what "
                "the write would make it: something else changed it",
                hint="fork the run from an earlier step instead: agentic fork RUN --from-step N",
            )
        self.journal.append("tool.reconcile", {"outcome": outcome, "path": effect.path, "found": now},
                            step=step, span=span, parent=span, idem=idem, sync=True)  # fmt: skip
        if now == effect.before:
            return None
        result = effect.result
        return ToolResult(result.get("content", ""), bool(result.get("is_error")), dict(result.get("data") or {}))

    def _check_files_limit(self, tool: Tool, args: dict[str, Any], decision: policy.Decision) -> None:
        """limits.max_files_changed: stop the run before a write to one file more than it allows."""
        cap = self.contract.limits.max_files_changed
        path = str(args.get("path"))
        if cap is not None and decision.verdict == "allow" and tool.kind == "write" and path not in self.changed \
                and len(self.changed) >= cap:  # fmt: skip
            raise LimitExceeded("max_files_changed", cap, len(self.changed), f"{tool.name} {path} would change one more")

    def _approval_needed(self, tool: Tool, args: dict[str, Any], decision: policy.Decision) -> policy.Decision:
        """Escalate an allowed write to `ask` when it would change more files than the contract lets pass."""
        cap = self.contract.ask_files_changed_above
        path = str(args.get("path"))
        if decision.verdict != "allow" or tool.kind != "write" or cap is None or path in self.changed:
            return decision
        if len(self.changed) + 1 <= cap:
            return decision
        return policy.Decision("ask", f"approvals.files_changed_above {cap}",
                               f"this would be file {len(self.changed) + 1} changed (more than {cap})")  # fmt: skip


def _answer(answer: policy.Answer, why: str) -> str:
    """The reason of an asked decision once answered."""
    if answer.allow:
        return "approved by the person" + (" for the rest of the run" if answer.always else "")
    asked = "not approved by the person" if answer.by == "person" else "no person to ask (no terminal)"
    return f"{asked}; asked because {why}" if why else asked


def refusal(action: str, decision: policy.Decision) -> str:
    """What the model is told of a refused call: the rule and reason, and for a script which parts."""
    why = f" ({decision.reason})" if decision.reason else ""
    by = {"person": "the person", "hook": "a hook"}.get(decision.decided_by, "the contract")
    text = f"refused by {by}: {action} — rule {decision.rule}{why}"
    if decision.message:
        text += f"\nThe person said: {decision.message}"
    refused = [p for p in decision.parts if p.verdict != "allow"]
    if len(decision.parts) > 1 and refused:
        lines = [f"\n- {p.kind} {p.text!r}: {p.verdict} by {p.rule}" + (f" ({p.reason})" if p.reason else "")
                 for p in refused[:10]]  # fmt: skip
        text += "\nThe parts of the script that were not allowed:" + "".join(lines)
        text += "\nNothing in the script ran."
    return text


def for_model(result: ToolResult, max_chars: int) -> str:
    """Tool output as the model sees it: trimmed (head and tail kept, the cut marked)."""
    text = result.content
    if len(text) > max_chars:
        half = max_chars // 2
        text = f"{text[:half]}\n[… {len(text) - 2 * half} characters cut …]\n{text[-half:]}"
    return text
