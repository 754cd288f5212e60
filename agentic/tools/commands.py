"""Command tools: the contract's test command, and bash scripts. Both run in the sandbox."""

from __future__ import annotations

from typing import Any

from agentic.sandbox import CommandResult, Sandbox
from agentic.tools.base import ToolContext, ToolFailure, ToolKind, ToolResult

BASH = ("bash", "--noprofile", "--norc", "-c")


def script_argv(script: str) -> list[str]:
    """The argv that runs a model's bash script in the sandbox."""
    return [*BASH, script]


def sandbox_of(ctx: ToolContext) -> Sandbox:
    """The sandbox the tool's command runs in; a failure the model is told when there is none."""
    if ctx.sandbox is None:
        raise ToolFailure("commands cannot run: no sandbox is available")
    return ctx.sandbox


def command_result(result: CommandResult, ctx: ToolContext, shown: str | None = None) -> ToolResult:
    status = result.summary()
    body = result.output if result.output.strip() else "(no output)\n"
    text = f"$ {shown if shown is not None else ' '.join(result.argv)}\n{body}"
    if not text.endswith("\n"):
        text += "\n"
    text += f"[{status}]"
    data = {
        "command": shown if shown is not None else " ".join(result.argv),
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
        return command_result(sandbox_of(ctx).run(argv, timeout_s=ctx.timeout_s), ctx)


class RunCommand:
    name = "run_command"
    kind: ToolKind = "command"
    description = (
        "Run a bash script in the repository's sandbox: pipes, &&, ;, subshells, redirections, heredocs "
        "and VAR=value all work. It starts in the repository's root every time (a cd lasts for the one "
        "call), has no network, and can write only the repository and /tmp; its input is empty, so "
        "nothing interactive works. Every command in the script is checked against the contract before "
        "anything runs, and so is every file a redirection writes. Prefer read_file, search and "
        "edit_file for reading and editing files."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["command"],
        "properties": {
            "command": {
                "type": "string",
                "minLength": 1,
                "maxLength": 100_000,
                "description": "A bash script, e.g. `cd src && python -m mypkg --help | head -20`",
            }
        },
    }

    def execute(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        script = args["command"]
        result = sandbox_of(ctx).run(script_argv(script), timeout_s=ctx.timeout_s)
        return command_result(result, ctx, shown=script)


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
