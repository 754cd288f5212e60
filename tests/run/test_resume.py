"""Resume, replay and fork through the CLI: what is reused, what is refused, what is compared."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentic.git.cmd import git
from agentic.journal.records import payload, read_records, verify
from tests.conftest import CONTRACT, FINISH, FIX, cli, start_run, wait_for_journal, write_script
from tests.fakeprovider import FakeProvider

READ = {"name": "read_file", "arguments": {"path": "calc.py"}}
TESTS = {"name": "run_tests", "arguments": {}}


def set_contract(repo: Path, **changes: Any) -> None:
    (repo / "policies" / "contract.yaml").write_text(yaml.safe_dump({**CONTRACT, **changes}, sort_keys=False))


def records(journal: Path, kind: str | None = None) -> list[dict[str, Any]]:
    return [{**r, "payload": payload(r, journal.parent)} for r in read_records(journal) if kind in (None, r["kind"])]


def summary(done: Any) -> dict[str, Any]:
    assert done.stdout.strip(), done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_resume_after_ctrl_c_reuses_what_was_done_and_runs_the_cut_command_again(repo: Path) -> None:
    tools = {**CONTRACT["tools"], "run_command": {"allow": ["sleep *"], "timeout_s": 60}}
    set_contract(repo, tools=tools)
    git(["commit", "-qam", "contract"], repo)
    sleep = {"name": "run_command", "arguments": {"command": "sleep 1.5"}}
    script = write_script(repo.parent / "t.yaml", [{"tool_calls": [READ, FIX]}, {"tool_calls": [sleep]},
                                                   {"tool_calls": [FINISH]}])  # fmt: skip
    proc = start_run(repo, script)
    wait_for_journal(repo, '"tree":')  # the command's intent (its worktree tree) is on disk
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    first = json.loads(out.splitlines()[-1])
    assert proc.returncode == 4 and first["status"] == "interrupted", err
    listed = cli("runs", "--status", "interrupted", "--json", cwd=repo)
    assert first["run_id"] in listed.stdout

    done = cli("resume", "last", "--json", cwd=repo)
    assert done.returncode == 0, done.stderr
    end = summary(done)
    assert end["run_id"] == first["run_id"] and end["status"] == "accepted" and end["changed_files"] == ["calc.py"]
    journal = Path(end["journal"])
    assert verify(journal).ok
    kinds = [r["kind"] for r in read_records(journal)]
    assert kinds.count("run.start") == 1 and kinds.count("run.resume") == 1 and kinds.count("run.end") == 2
    results = records(journal, "tool.result")
    assert [r["payload"]["tool"] for r in results] == ["read_file", "edit_file", "run_command", "finish"]
    reconcile = records(journal, "tool.reconcile")
    assert len(reconcile) == 1 and reconcile[0]["payload"]["outcome"] == "run again"
    responses = records(journal, "model.response")
    assert len(responses) == 3  # the two recorded turns were reused, not asked again
    ends = records(journal, "run.end")
    used = ends[-1]["payload"]["budget"]
    assert used["usage"]["input_tokens"] == sum(r["payload"]["usage"]["input_tokens"] for r in responses)
    assert used["elapsed_s"] >= ends[0]["payload"]["budget"]["elapsed_s"]  # time spent before the crash counts
    resumed = records(journal, "run.resume")[0]["payload"]
    assert resumed["after_status"] == "interrupted" and resumed["who"]["argv"][-2:] == ["last", "--json"]


def test_resume_refuses_a_changed_contract_or_setting_and_fork_goes_on(repo: Path) -> None:
    script = write_script(repo.parent / "t.yaml", [{"tool_calls": [FIX]}])
    first = cli("run", "fix", "--model", f"script:{script}", "--json", cwd=repo)
    assert first.returncode == 4 and summary(first)["status"] == "failed"
    write_script(script, [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])

    set_contract(repo, limits={**CONTRACT["limits"], "max_steps": 11})
    refused = cli("resume", "last", cwd=repo)
    assert refused.returncode == 2 and "the contract changed" in refused.stderr and "--fork" in refused.stderr
    set_contract(repo)
    changed = cli("resume", "last", cwd=repo, env={"AGENTIC_MAX_OUTPUT_TOKENS": "5000"})
    assert changed.returncode == 2 and "setting max_output_tokens changed (4096 → 5000)" in changed.stderr

    set_contract(repo, limits={**CONTRACT["limits"], "max_steps": 11})
    forked = cli("resume", summary(first)["run_id"], "--fork", "--json", cwd=repo)
    assert forked.returncode == 0, forked.stderr
    new = summary(forked)
    assert new["run_id"] != summary(first)["run_id"] and new["status"] == "accepted"
    start = records(Path(new["journal"]), "run.start")[0]["payload"]
    assert start["forked_from"] == {"run": summary(first)["run_id"], "step": 1}


def test_an_ended_run_is_not_resumed(repo: Path) -> None:
    script = write_script(repo.parent / "t.yaml", [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    assert cli("run", "fix", "--model", f"script:{script}", cwd=repo).returncode == 0
    done = cli("resume", "last", cwd=repo)
    assert done.returncode == 2 and "has ended (accepted)" in done.stderr and "agentic fork" in done.stderr


def test_a_run_in_progress_is_not_resumed_twice(repo: Path) -> None:
    tools = {**CONTRACT["tools"], "run_command": {"allow": ["sleep *"], "timeout_s": 60}}
    set_contract(repo, tools=tools)
    git(["commit", "-qam", "contract"], repo)
    sleep = {"name": "run_command", "arguments": {"command": "sleep 20"}}
    proc = start_run(repo, write_script(repo.parent / "t.yaml", [{"tool_calls": [sleep]}]))
    try:
        wait_for_journal(repo, '"tree":')
        done = cli("resume", "last", cwd=repo)
        assert done.returncode == 2 and "in progress in another process" in done.stderr
    finally:
        proc.kill()
        proc.communicate()


def test_replay_is_identical_then_reports_the_first_divergence(repo: Path) -> None:
    script = write_script(repo.parent / "t.yaml", [{"tool_calls": [READ]}, {"tool_calls": [FIX, TESTS]},
                                                   {"tool_calls": [FINISH]}])  # fmt: skip
    assert cli("run", "fix", "--model", f"script:{script}", cwd=repo).returncode == 0
    script.unlink()  # replay needs no model: the answers come from the journal
    same = cli("replay", "last", cwd=repo, env={"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": ""})
    assert same.returncode == 0 and "replay identical" in same.stdout, same.stdout + same.stderr
    report = json.loads(cli("replay", "last", "--json", cwd=repo).stdout)
    assert report["identical"] and report["steps"] == 3 and report["compared"] == 5  # 4 tool results and the gate

    tools = {**CONTRACT["tools"], "read_file": {"allow": True, "deny": [".env*", "calc.py"]}}
    set_contract(repo, tools=tools)  # what would the new contract have done with this run?
    diverged = cli("replay", "last", "--json", cwd=repo)
    assert diverged.returncode == 1
    first = json.loads(diverged.stdout)["divergence"]
    assert first["step"] == 1 and first["tool"] == "read_file"
    assert "def average" in first["expected"] and "refused by the contract" in first["actual"]
    human = cli("replay", "last", cwd=repo)
    assert human.returncode == 1 and "diverged at step 1, read_file" in human.stdout


def test_fork_from_a_step_with_another_model(repo: Path) -> None:
    broken = {"name": "write_file", "arguments": {"path": "calc.py", "content": "def average(values):\n    return 1\n"}}
    script = write_script(repo.parent / "t.yaml", [{"tool_calls": [READ]}, {"tool_calls": [broken]},
                                                   {"tool_calls": [FINISH]}, {"tool_calls": [FINISH]}])  # fmt: skip
    first = cli("run", "fix", "--model", f"script:{script}", "--json", cwd=repo)
    assert first.returncode == 1 and summary(first)["status"] == "rejected"
    other = write_script(repo.parent / "other.yaml", [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    bad = cli("fork", "last", "--from-step", "9", cwd=repo)
    assert bad.returncode == 2 and "cannot fork from step 9" in bad.stderr
    forked = cli("fork", summary(first)["run_id"], "--from-step", "1", "--model", f"script:{other}", "--json", cwd=repo)
    assert forked.returncode == 0, forked.stderr
    new = summary(forked)
    assert new["status"] == "accepted" and new["steps"] == 3
    journal = Path(new["journal"])
    responses = records(journal, "model.response")
    assert responses[0]["payload"]["recorded"] == summary(first)["run_id"]  # step 1 shared with the run
    assert "recorded" not in responses[1]["payload"] and responses[1]["payload"]["tool_calls"][0]["name"] == "edit_file"
    assert records(journal, "run.start")[0]["payload"]["model"] == f"script:{other}"
    assert git(["show", f"{new['commit']}:calc.py"], repo).endswith("return sum(values) / len(values)\n")


@pytest.mark.parametrize("model", ["openai:gpt-test", "anthropic:claude-test"])
def test_resume_after_the_provider_failed_past_its_retries(repo: Path, model: str) -> None:
    vendor = "OPENAI" if model.startswith("openai") else "ANTHROPIC"
    with FakeProvider([{"tool_calls": [READ]}, {"tool_calls": [FIX]}]) as fp:
        url = fp.openai_base_url if vendor == "OPENAI" else fp.anthropic_base_url
        env = {f"{vendor}_API_KEY": "sk-test-0123456789abcdefghij", f"{vendor}_BASE_URL": url}
        first = cli("run", "fix", "--model", model, "--json", "--limit", "max_retries=1", cwd=repo, env=env)
        assert first.returncode == 4 and "provider error" in summary(first)["reason"]
        fp.fail_next(503)
        fp.fail_next(503)  # the request and its one retry
        served = len(fp.requests)
        again = cli("resume", "last", "--json", cwd=repo, env=env)
        assert again.returncode == 4 and "provider error" in summary(again)["reason"]
        assert len(fp.requests) == served + 2  # the recorded steps were not asked again
        fp.add_turns({"tool_calls": [FINISH]})
        # a longer request timeout is how the transport is reached, not what the run does: allowed
        done = cli("resume", "last", "--json", cwd=repo, env={**env, "AGENTIC_REQUEST_TIMEOUT_S": "300"})
        assert done.returncode == 0, done.stderr
        assert len(fp.requests) == served + 3  # only the new step was asked for
    end = summary(done)
    assert end["status"] == "accepted" and end["run_id"] == summary(first)["run_id"]
    results = [r["payload"]["tool"] for r in records(Path(end["journal"]), "tool.result")]
    assert results == ["read_file", "edit_file", "finish"]
