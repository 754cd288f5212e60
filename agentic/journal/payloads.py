"""The objects nested in journal payloads (usage, budget, checks, who, a tool result's facts …), as
TypedDicts: typed for readers, unchanged on disk. Every key is optional: older journals wrote fewer,
a damaged one may hold anything, so readers use `.get` and check what they index."""

from __future__ import annotations

from typing import Any, TypedDict


class Usage(TypedDict, total=False):
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int


class Budget(TypedDict, total=False):
    steps: int
    tool_calls: int
    usage: Usage
    cost_usd: float | None
    elapsed_s: float
    gate_failures: int


class CallRef(TypedDict, total=False):
    id: str
    name: str
    arguments: str


class Check(TypedDict, total=False):
    id: str
    kind: str
    passed: bool
    detail: str
    duration_s: float


class ContractRef(TypedDict, total=False):
    source: str
    hash: str


class Harness(TypedDict, total=False):
    version: str
    python: str


class Who(TypedDict, total=False):
    os_user: str
    host: str
    git_name: str | None
    git_email: str | None
    argv: list[str]


class Fork(TypedDict, total=False):
    run: str
    step: int


class Continued(TypedDict, total=False):
    run: str  # the run this one continues
    status: str  # how that run ended
    tree: str  # its final tree: where this run's worktree started


class ToolSpec(TypedDict, total=False):
    name: str
    description: str
    parameters: dict[str, Any]


class Facts(TypedDict, total=False):
    """Structured facts of a tool result (`tool.result` data.data): which keys depend on the tool."""

    path: str
    bytes: int
    argv: list[str]
    command: str
    exit_code: int
    timed_out: bool
    refused: str
    failed: str
    changed: list[dict[str, str]]
    created: bool  # write_file: the path did not exist
    line: int  # edit_file: where the edit starts


class PlannedResult(TypedDict, total=False):
    content: str
    is_error: bool
    data: Facts
