"""Running the contract's hooks (agentic.policy.hooks) and reading their answers.

Each hook runs in a one-off sandbox of the worktree (read-only unless the hook may write), with one
JSON object on standard input: `point`, `run`, `step`, and what the point concerns (`tool`,
`arguments`, `decision`, `result`; the summary at pre_finish; the status at run_end). Every run of
a hook is journaled (`hook.run`): what ran, its exit status, what it decided.

What an answer means, as in Claude Code's hooks where they fit (docs/hooks.md says where not):

- exit 0: pass; standard output may hold a JSON object: `{"decision": "ask" | "deny", "reason"}`
  (pre_tool; `hookSpecificOutput.permissionDecision` is read too), `{"note": "..."}` (post_tool;
  or `hookSpecificOutput.additionalContext`). An "allow" is journaled and ignored: a hook tightens.
- exit 2: refuse (pre_tool: the call; pre_finish: the finish); standard error is the reason.
- anything else, a timeout, or no sandbox to run in: the hook failed. A failed pre_tool or
  pre_finish hook refuses (it guards something, and cannot say it is satisfied); a failed
  post_tool or run_end hook is journaled and changes nothing.

Hook output is untrusted: reasons and notes reach the model and the journal redacted and capped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentic.errors import AgenticError
from agentic.journal.records import Journal
from agentic.policy.hooks import DENY_EXIT, Hook, Hooks
from agentic.sandbox import CommandResult, Sandbox

MAX_TEXT = 4_000  # of a reason or a note the model reads
MAX_OUTPUT_BYTES = 64_000  # of a hook's standard output and of its standard error


@dataclass(frozen=True)
class HookAnswer:
    hook: Hook
    outcome: str  # pass, deny, ask, note, failed
    reason: str = ""  # why it refused or asks, or how it failed
    note: str = ""  # post_tool: added to what the model reads

    @property
    def refuses(self) -> bool:
        """A pre_tool or pre_finish hook that refused, or failed (which refuses)."""
        return self.outcome == "deny" or (self.outcome == "failed" and self.hook.point in ("pre_tool", "pre_finish"))


@dataclass
class HookRunner:
    hooks: Hooks
    run_id: str
    journal: Journal
    sandbox_for: Callable[[bool], Sandbox | None]  # write allowed → a one-off sandbox of the worktree
    redact: Callable[[str], str]

    def run(self, point: str, step: int, facts: dict[str, Any], tool: str | None = None) -> list[HookAnswer]:
        """Run the point's hooks (those for `tool`) in order; a refusal stops the rest."""
        answers: list[HookAnswer] = []
        for hook in self.hooks.at(point, tool):
            answer = self._one(hook, step, {"point": point, "run": self.run_id, "step": step, **facts})
            answers.append(answer)
            if answer.refuses:
                break
        return answers

    def _one(self, hook: Hook, step: int, payload: dict[str, Any]) -> HookAnswer:
        started = time.monotonic()
        result: CommandResult | None = None
        try:
            sandbox = self.sandbox_for(hook.write)
            if sandbox is None:
                answer = HookAnswer(hook, "failed", "no sandbox to run the hook in")
            else:
                try:
                    data = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
                    result = sandbox.run(list(hook.command), timeout_s=hook.timeout_s,
                                         max_output_bytes=MAX_OUTPUT_BYTES, stdin=data, split_stderr=True)  # fmt: skip
                finally:
                    sandbox.close()
                answer = self._read(hook, result)
        except (AgenticError, OSError) as exc:  # the sandbox could not be made: the hook did not run
            answer = HookAnswer(hook, "failed", f"{hook.name} could not start: {exc}")
        self.journal.append("hook.run", {
            "point": hook.point, "hook": hook.name, "command": list(hook.command), "tool": payload.get("tool"),
            "exit_code": result.exit_code if result else None, "timed_out": bool(result and result.timed_out),
            "outcome": answer.outcome, "reason": answer.reason, "note": answer.note,
            "stdout": self.redact(result.output[:MAX_TEXT]) if result else "",
            "stderr": self.redact(result.stderr[:MAX_TEXT]) if result else "",
            "duration_s": round(time.monotonic() - started, 3),
        }, step=step)  # fmt: skip
        return answer

    def _read(self, hook: Hook, result: CommandResult) -> HookAnswer:
        said = self.redact(result.stderr.strip())[:MAX_TEXT]
        if result.timed_out:
            return HookAnswer(hook, "failed", f"{hook.name} did not finish within {hook.timeout_s:g}s")
        if result.exit_code == DENY_EXIT:
            return HookAnswer(hook, "deny", said or f"{hook.name} refused (exit 2) without saying why")
        if result.exit_code != 0:
            tail = f": {said.splitlines()[-1]}" if said else ""
            return HookAnswer(hook, "failed", f"{hook.name} failed with exit status {result.exit_code}{tail}")
        answer = _json_object(result.output)
        nested = answer.get("hookSpecificOutput")
        specific: dict[str, Any] = nested if isinstance(nested, dict) else {}
        decision = str(answer.get("decision") or specific.get("permissionDecision") or "").lower()
        reason = str(answer.get("reason") or specific.get("permissionDecisionReason") or "")
        note = str(answer.get("note") or specific.get("additionalContext") or "")
        if hook.point == "pre_tool" and decision in ("ask", "deny"):
            why = self.redact(reason)[:MAX_TEXT] or f"{hook.name} said {decision}"
            return HookAnswer(hook, decision, why)
        if hook.point == "post_tool" and note:
            return HookAnswer(hook, "note", note=self.redact(note)[:MAX_TEXT])
        return HookAnswer(hook, "pass", f"asked to {decision}: ignored, a hook only tightens" if decision == "allow" else "")


def _json_object(text: str) -> dict[str, Any]:
    """The JSON object a hook printed ({} for anything else: plain text passes)."""
    text = text.strip()
    if not text.startswith("{"):
        return {}
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}
