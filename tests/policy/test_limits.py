"""Limits that stop a run before they are broken: cost (with the price table), files changed, the
output cap per step; and what a model without a price does to them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentic.journal.records import payload, read_records
from agentic.models.base import Usage
from agentic.models.pricing import FREE, price_of
from tests import inproc
from tests.conftest import CONTRACT, FINISH, FIX, cli, make_repo, summary_of, write_script
from tests.fakeprovider import SDK_WORKER, FakeProvider

READ = {"name": "read_file", "arguments": {"path": "calc.py"}}


def repo_with(tmp_path: Path, limits: dict[str, Any], settings: dict[str, Any] | None = None) -> Path:
    repo = make_repo(tmp_path / "repo", {**CONTRACT, "limits": {**CONTRACT["limits"], **limits}})
    if settings:
        (repo / ".agentic.yaml").write_text(yaml.safe_dump(settings))
    return repo


def journal_records(summary: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    path = Path(summary["journal"])
    return [payload(r, path.parent) for r in read_records(path) if r["kind"] == kind]


def test_prices_match_model_families_and_settings_override_them() -> None:
    sonnet = price_of("anthropic:claude-sonnet-4-5-20250929")
    assert sonnet is not None and sonnet.cost(Usage(0, 1_000_000, 0)) == 15.0
    assert sonnet.cost(Usage(1_000_000, 0, 1_000_000)) == 0.30  # every prompt token from the cache
    mini = price_of("openai-responses:gpt-4o-mini-2024-07-18")
    assert mini is not None and mini.input == 0.15  # the longest key the id starts with, not gpt-4o
    assert price_of("openai:llama3.1:8b") is None and price_of("script:/x.yaml") == FREE
    local = price_of("openai:llama3.1:8b", {"openai:llama3": {"input": 0.1, "output": 0.2}})
    assert local is not None and local.cached_input == 0.1


def test_max_cost_usd_stops_before_a_call_that_could_break_it(tmp_path: Path) -> None:
    # $1 per million prompt tokens, $1,000 per million output tokens: 1,000 + 100 tokens cost $0.101,
    # and a call's worst case is about $0.1 (its prompt, then 100 output tokens at the cap)
    repo = repo_with(tmp_path, {"max_cost_usd": 0.25},
                     {"prices": {"script:": {"input": 1, "output": 1000}}, "max_output_tokens": 100})  # fmt: skip
    usage = {"input_tokens": 1000, "output_tokens": 100}
    turns = [{"tool_calls": [READ], "usage": usage} for _ in range(3)] + [{"tool_calls": [FINISH], "usage": usage}]
    outcome = inproc.run(repo, turns, task="fix")
    assert outcome.exit_code == 3, outcome.reason
    summary = inproc.summary(outcome)
    assert summary["status"] == "limit_exceeded" and summary["steps"] == 3
    assert "max_cost_usd" in summary["reason"] and "could cost up to $" in summary["reason"]
    responses = journal_records(summary, "model.response")
    assert [r["cost_usd"] for r in responses] == [0.101, 0.101]  # the third call was never made
    assert responses[-1]["budget"]["cost_usd"] == 0.202
    end = journal_records(summary, "run.end")[0]
    assert end["budget"]["cost_usd"] == 0.202 <= 0.25


def test_max_files_changed_stops_before_one_more_file(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, {"max_files_changed": 1})
    extra = {"name": "write_file", "arguments": {"path": "extra.py", "content": "X = 1\n"}}
    turns = [{"tool_calls": [FIX]}, {"tool_calls": [FIX | {"arguments": {**FIX["arguments"]}}]},
             {"tool_calls": [extra]}, {"tool_calls": [FINISH]}]  # fmt: skip
    outcome = inproc.run(repo, turns, task="fix")
    assert outcome.exit_code == 3, outcome.reason
    summary = inproc.summary(outcome)
    assert "limit max_files_changed reached: limit 1, used 1" in summary["reason"]
    assert "write_file extra.py would change one more" in summary["reason"]
    worktree = repo / ".agentic" / "worktrees" / summary["run_id"]
    assert not (worktree / "extra.py").exists()


@SDK_WORKER  # openai imported in process
def test_max_tokens_per_step_is_the_output_cap_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = repo_with(tmp_path, {"max_tokens_per_step": 321})
    with FakeProvider([{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}] * 2) as fp:
        env = {"OPENAI_API_KEY": "sk-test-0123456789abcdefghij", "OPENAI_BASE_URL": fp.openai_base_url}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        outcome = inproc.run(repo, None, task="fix", model="openai:local-model")
        sent = [r.json.get("max_tokens") for r in fp.requests]
        shown = cli("run", "fix", "--model", "openai:local-model", cwd=repo, env=env)
    assert outcome.exit_code == 0, outcome.reason
    assert sent == [321, 321]
    # an unknown model: said once at the start, its cost not counted, the run goes on
    summary = inproc.summary(outcome)
    start = journal_records(summary, "run.start")[0]
    assert start["warnings"] == ["no price is known for openai:local-model: its cost is not counted; token limits "
                                 "still bind (add the model under `prices:` in settings)"]  # fmt: skip
    assert journal_records(summary, "run.end")[0]["budget"]["cost_usd"] is None
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert shown.stdout.count("warning: no price is known") == 1


def test_cost_totals_survive_a_resume(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, {}, {"prices": {"script:": {"input": 1, "output": 1000}}})
    usage = {"input_tokens": 1000, "output_tokens": 100}
    script = write_script(tmp_path / "t.yaml", [{"tool_calls": [FIX], "usage": usage}])
    first = cli("run", "fix", "--model", f"script:{script}", "--json", cwd=repo)
    assert first.returncode == 4  # the script ran out: failed, resumable
    write_script(script, [{"tool_calls": [FIX], "usage": usage}, {"tool_calls": [FINISH], "usage": usage}])
    done = cli("resume", "last", "--json", cwd=repo)
    assert done.returncode == 0, done.stderr
    ends = journal_records(summary_of(done), "run.end")
    assert ends[0]["budget"]["cost_usd"] == 0.101 and ends[-1]["budget"]["cost_usd"] == 0.202


def test_a_repeating_agent_is_warned_then_stopped_as_stuck(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, {"max_repeats": 3})
    env_read = {"name": "read_file", "arguments": {"path": ".env"}}
    turns = [{"tool_calls": [READ]}, {"tool_calls": [READ]}, {"tool_calls": [READ]}, {"tool_calls": [FIX]},
             {"tool_calls": [env_read]}, {"tool_calls": [env_read]}, {"tool_calls": [env_read]},
             {"tool_calls": [env_read]}, {"tool_calls": [FINISH]}]  # fmt: skip
    outcome = inproc.run(repo, turns, task="fix")
    assert outcome.exit_code == 3, outcome.reason
    summary = inproc.summary(outcome)
    assert summary["status"] == "stuck" and "4 times in a row" in summary["reason"]
    requests = journal_records(summary, "model.request")
    told = [m["content"] for r in requests for m in r["messages"] if m.get("role") == "tool"]
    assert "you called read_file with the same arguments 3 times in a row" in told[2]
    assert "one more and the run ends as stuck" in told[6] and summary["tool_calls"] == 8


@SDK_WORKER  # openai imported in process
def test_an_answer_cut_at_the_output_cap_is_explained_to_the_model(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    repo = repo_with(tmp_path, {})
    turns = [{"text": "Let me write the whole file out", "stop_reason": "max_tokens"}, {"tool_calls": [FIX]},
             {"tool_calls": [FINISH]}]  # fmt: skip
    with FakeProvider(turns) as fp:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdefghij")
        monkeypatch.setenv("OPENAI_BASE_URL", fp.openai_base_url)
        outcome = inproc.run(repo, None, task="fix", model="openai:local-model")
        second = json.dumps(fp.requests[1].json)
    assert outcome.exit_code == 0, outcome.reason
    assert "cut off at the output limit (4096 tokens)" in second


def test_limit_flags_only_tighten_and_a_resume_keeps_them(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, {})
    script = write_script(tmp_path / "t.yaml", [{"tool_calls": [READ]}, {"tool_calls": [READ]},
                                                {"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])  # fmt: skip
    done = cli("run", "fix", "--model", f"script:{script}", "--limit", "max_steps=2", "--json", cwd=repo)
    assert done.returncode == 3 and "limit max_steps reached: limit 2" in summary_of(done)["reason"]
    start = journal_records(summary_of(done), "run.start")[0]
    assert start["limits"]["max_steps"] == 2 and start["limit_flags"] == {"max_steps": 2}
    looser = cli("run", "fix", "--model", f"script:{script}", "--limit", "max_steps=100", cwd=repo)
    assert looser.returncode == 2 and "would loosen the contract's max_steps (12)" in looser.stderr
    for bad, words in (("nope=1", "nope"), ("max_steps=many", "max_steps"), ("max_steps", "NAME=VALUE")):
        refused = cli("run", "fix", "--model", f"script:{script}", "--limit", bad, cwd=repo)
        assert refused.returncode == 2 and words in refused.stderr and "Traceback" not in refused.stderr
    # a failed run resumed later still runs under its flags
    short = write_script(tmp_path / "short.yaml", [{"tool_calls": [READ]}])
    failed = cli("run", "fix", "--model", f"script:{short}", "--limit", "max_steps=2", "--json", cwd=repo)
    assert failed.returncode == 4
    write_script(short, [{"tool_calls": [READ]}, {"tool_calls": [READ]}, {"tool_calls": [FINISH]}])
    resumed = cli("resume", summary_of(failed)["run_id"], "--json", cwd=repo)
    assert resumed.returncode == 3 and "limit max_steps reached: limit 2" in summary_of(resumed)["reason"]


LIST = {"name": "list_files", "arguments": {}}
USAGE = {"input_tokens": 900, "output_tokens": 100}


def each(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**t, "usage": USAGE} for t in turns]


# limit, its value, the script, the usage that shows it held (read from the run.end budget)
LIMITS = [
    ("max_steps", 3, [{"tool_calls": [READ]}, {"tool_calls": [LIST]}] * 3, lambda b: b["steps"]),
    ("max_tool_calls", 4, [{"tool_calls": [READ, LIST, READ]}] * 3, lambda b: b["tool_calls"]),
    # output cap 100 (max_tokens_per_step): a step costs 1,000 tokens and could cost up to ~1,400
    ("max_total_tokens", 3000, [{"tool_calls": [READ]}, {"tool_calls": [LIST]}] * 3,
     lambda b: b["usage"]["input_tokens"] + b["usage"]["output_tokens"]),
]  # fmt: skip


@pytest.mark.parametrize(("limit", "value", "turns", "used"), LIMITS, ids=[x[0] for x in LIMITS])
def test_each_limit_stops_the_run_before_it_is_exceeded(tmp_path: Path, limit: str, value: int,
                                                        turns: list[dict[str, Any]], used: Any) -> None:  # fmt: skip
    repo = repo_with(tmp_path, {limit: value, "max_tokens_per_step": 100})
    outcome = inproc.run(repo, [*each(turns), {"tool_calls": [FINISH]}], task="fix")
    assert outcome.exit_code == 3, outcome.reason
    summary = inproc.summary(outcome)
    assert summary["status"] == "limit_exceeded"
    assert f"limit {limit} reached: limit {value}, used " in summary["reason"]
    end = journal_records(summary, "run.end")[0]
    assert end["status"] == "limit_exceeded" and end["reason"] == summary["reason"]
    assert 0 < used(end["budget"]) <= value  # stopped before, not after
    # the budget was journaled at every step along the way
    budgets = [r["budget"] for r in journal_records(summary, "model.response")]
    assert [b["steps"] for b in budgets] == list(range(1, len(budgets) + 1))


def test_a_tool_timeout_ends_the_command_not_the_run(tmp_path: Path) -> None:
    tools = {**CONTRACT["tools"], "run_command": {"allow": ["sleep *"], "timeout_s": 1}}
    repo = make_repo(tmp_path / "repo", {**CONTRACT, "tools": tools})
    sleep = {"name": "run_command", "arguments": {"command": "sleep 30"}}
    outcome = inproc.run(repo, [{"tool_calls": [sleep]}, {"tool_calls": [FIX]}, {"tool_calls": [FINISH]}], task="fix")
    assert outcome.exit_code == 0, outcome.reason
    result = journal_records(inproc.summary(outcome), "tool.result")[0]
    assert result["is_error"] and result["data"]["timed_out"] and result["data"]["duration_s"] < 10


def test_failed_gate_attempts_are_bounded(tmp_path: Path) -> None:
    repo = repo_with(tmp_path, {"max_gate_attempts": 2})
    outcome = inproc.run(repo, [{"tool_calls": [FINISH]}] * 3, task="fix")
    assert outcome.exit_code == 1, outcome.reason
    summary = inproc.summary(outcome)
    assert summary["status"] == "rejected" and "the gate failed 2 times" in summary["reason"]
    assert len(journal_records(summary, "gate.verdict")) == 2
