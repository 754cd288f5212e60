"""Keeping the conversation inside the model's context window by a fixed, deterministic rule."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from agentic.agent.context import estimate, fit, window_of
from agentic.git.cmd import git
from agentic.journal.records import payload, read_records
from agentic.models.base import Message
from tests.conftest import FINISH, FIX, cli, summary_of
from tests.fakeprovider import FakeProvider

SYSTEM = {"role": "system", "content": "You are careful. " * 50}
TASK = {"role": "user", "content": "Fix the bug. " * 20}


def rounds(n: int, size: int = 2000) -> list[Message]:
    out: list[Message] = [dict(SYSTEM), dict(TASK)]
    for i in range(n):
        args = {"path": f"f{i}.py", "content": "x" * size} if i == 0 else {"path": f"f{i}.py"}
        name = "write_file" if i == 0 else "read_file"
        out.append({"role": "assistant", "content": "", "tool_calls": [{"id": f"c{i}", "name": name,
                                                                        "arguments": json.dumps(args)}]})  # fmt: skip
        out.append({"role": "tool", "tool_call_id": f"c{i}", "name": name, "content": f"{i}" * size, "is_error": False})
    return out


def test_windows_come_from_the_table_or_the_setting() -> None:
    assert window_of("anthropic:claude-sonnet-4-5-20250929") == 200_000
    assert window_of("openai-responses:gpt-4.1-mini") == 1_047_576
    assert window_of("openai:llama3.1:8b") is None and window_of("openai:llama3.1:8b", 8192) == 8192


def test_nothing_changes_below_the_threshold() -> None:
    messages = rounds(8)
    before = copy.deepcopy(messages)
    assert fit(messages, [], window=estimate(messages, []) * 2, output_cap=100) is None
    assert fit(messages, [], window=None, output_cap=100) is None
    assert messages == before


def test_older_outputs_are_elided_oldest_first_keeping_task_and_recent_steps() -> None:
    messages = rounds(8)
    before = copy.deepcopy(messages)
    window = int(estimate(messages, []) / 0.85) + 100  # over 80% of the room
    done = fit(messages, [], window=window, output_cap=100)
    assert done is not None and done["after_tokens"] <= 0.5 * (window - 100) < done["before_tokens"]
    assert messages[:2] == before[:2]  # the system prompt and the task
    assert messages[-6:] == before[-6:]  # the last three turns and their results
    assert done["elided"] == sorted(done["elided"]) and done["elided"][0] == 2  # oldest first
    assert messages[3]["content"].startswith("[agentic: the output of write_file (2,000 characters) was dropped")
    args = json.loads(messages[2]["tool_calls"][0]["arguments"])  # still valid JSON, path kept
    assert args["path"] == "f0.py" and args["content"].startswith("[agentic: 2,000 characters dropped")
    assert [m["role"] for m in messages] == [m["role"] for m in before]  # structure and call ids stay
    assert [m.get("tool_call_id") for m in messages] == [m.get("tool_call_id") for m in before]
    again = copy.deepcopy(before)
    assert fit(again, [], window=window, output_cap=100) == done and again == messages  # deterministic
    assert fit(messages, [], window=window, output_cap=100) is None  # settled: the prefix stays stable


BIG = "".join(f"line_{n} = {n}  # some padding to make the file long enough for the test\n" for n in range(90))


def test_a_long_run_elides_old_reads_and_keeps_its_prefix_stable(repo: Path) -> None:
    for n in range(6):
        (repo / f"big{n}.py").write_text(BIG)
    git(["add", "."], repo)
    git(["commit", "-qm", "big files"], repo)
    (repo / ".agentic.yaml").write_text(yaml.safe_dump({"context_window": 12000, "max_output_tokens": 256}))
    reads = [{"tool_calls": [{"name": "read_file", "arguments": {"path": f"big{n}.py"}}]} for n in range(6)]
    with FakeProvider([*reads, {"tool_calls": [FIX]}, {"tool_calls": [FINISH]}]) as fp:
        env = {"OPENAI_API_KEY": "sk-test-0123456789abcdefghij", "OPENAI_BASE_URL": fp.openai_base_url}
        done = cli("run", "fix", "--model", "openai:local-model", "--json", cwd=repo, env=env)
        sent = [r.json["messages"] for r in fp.requests]
    assert done.returncode == 0, done.stderr
    summary: dict[str, Any] = summary_of(done)
    path = Path(summary["journal"])
    trims = [payload(r, path.parent) for r in read_records(path) if r["kind"] == "context.trim"]
    assert trims and trims[0]["window"] == 12000 and trims[0]["after_tokens"] < trims[0]["before_tokens"]
    first = next(i for i, m in enumerate(sent) if "was dropped to keep the conversation" in json.dumps(m))
    assert sent[first][0] == sent[0][0] and sent[first][1] == sent[0][1]  # system prompt and task kept
    assert "line_89" in sent[first][-1]["content"]  # the newest output is whole
    for later in sent[first + 1 :]:  # once elided, the prefix does not change again
        assert later[: len(sent[first])] == sent[first]
