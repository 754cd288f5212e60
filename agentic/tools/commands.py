"""Command tools: the contract's test command, and allow-listed commands. Both run in the sandbox."""

from __future__ import annotations

from typing import Any

from agentic.policy import CommandRefused, parse_command
from agentic.sandbox import CommandResult
from agentic.tools.base import ToolContext, ToolFailure, ToolKind, ToolResult


def command_result(result: CommandResult, ctx: ToolContext) -> ToolResult:
    status = result.summary()
    body = result.output if result.output.strip() else "(no output)\n"
    text = f"$ {' '.join(result.argv)}\n{body}"
    if not text.endswith("\n"):
        text += "\n"
    text += f"[{status}]"
    data = {
        "argv": result.argv,
        "exit_code": result.exit_code,
        "timed_out": result.timed_out,
        "truncated": result.truncated,
        "duration_s": round(result.duration_s, 3),
        "sandbox": result.sandbox,
    }
    return ToolResult(text, is_error=not result.ok, data=data)


class RunTests:
    name = "run_tests"
    kind: ToolKind = "tests"
    description = (
        "Run the repository's test suite (the test command fixed by the contract) in the sandbox and "
        "return its output and exit status. Optionally narrow it to one target, such as a test file "
        "or a node id like tests/test_x.py::test_y. Use it after every change."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "target": {
                "type": "string",
                "maxLength": 1000,
                "description": "A test file, directory or node id to run instead of the whole suite.",
            }
        },
    }

    def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        argv = list(ctx.test_command)
        target = args.get("target")
        if target:
            if target.startswith("-") or "\x00" in target:
                raise ToolFailure("target must be a test path or node id, not an option")
            argv.append(target)
        return command_result(ctx.sandbox.run(argv, timeout_s=ctx.timeout_s), ctx)


class RunCommand:
    name = "run_command"
    kind: ToolKind = "command"
    description = (
        "Run one command in the repository's sandbox (no network, read-only outside the repository). "
        "The command is split into arguments like a shell would, but never run through a shell: pipes, "
        "redirections, ';', '&&' and substitutions are refused. Only commands the contract allows run."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["command"],
        "properties": {
            "command": {"type": "string", "minLength": 1, "maxLength": 4000, "description": "e.g. ruff check src"}
        },
    }

    def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        try:
            argv = parse_command(args["command"])
        except CommandRefused as exc:
            raise ToolFailure(str(exc)) from None
        return command_result(ctx.sandbox.run(argv, timeout_s=ctx.timeout_s), ctx)


class Finish:
    name = "finish"
    kind: ToolKind = "control"
    description = (
        "Propose that the task is done. The harness then runs the contract's checks (the gate): if they "
        "pass, the change is accepted; if not, you get the failures and may continue. Summarise what you "
        "changed and why."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["summary"],
        "properties": {"summary": {"type": "string", "maxLength": 4000}},
    }

    def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        return ToolResult("Running the gate…", data={"summary": args["summary"]}, finish=True)
