"""The kill switch: a disabled tool is refused from the next call on, also inside a run in progress."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from agentic.git.cmd import git
from tests.conftest import CONTRACT, FINISH, FIX, cli, start_run, wait_for_journal, write_script


def test_disable_binds_a_run_in_progress_in_another_process(repo: Path) -> None:
    tools = {**CONTRACT["tools"], "run_command": {"allow": ["sleep *"]}}
    (repo / "policies" / "contract.yaml").write_text(yaml.safe_dump({**CONTRACT, "tools": tools}))
    git(["commit", "-qam", "allow sleep"], repo)
    script = write_script(repo.parent / "t.yaml", [
        {"tool_calls": [{"name": "run_command", "arguments": {"command": "sleep 2"}}]},
        {"tool_calls": [{"name": "run_tests", "arguments": {}}]},
        {"tool_calls": [FIX]},
        {"tool_calls": [FINISH]},
    ])  # fmt: skip
    proc = start_run(repo, script)
    wait_for_journal(repo, 'sleep 2')
    done = cli("tools", "disable", "run_tests", "--reason", "under investigation", cwd=repo)
    assert done.returncode == 0, done.stderr
    out, err = proc.communicate(timeout=60)
    summary = json.loads(out.splitlines()[-1])
    assert proc.returncode == 0, err  # the gate still runs the tests: it is the harness, not a tool
    records = [json.loads(line) for line in Path(summary["journal"]).read_text().splitlines()]
    decision = next(r["data"] for r in records if r["kind"] == "policy.decision" and r["data"]["tool"] == "run_tests")
    assert decision["verdict"] == "deny" and decision["rule"] == "kill-switch run_tests"
    assert decision["by"] == "kill switch" and "under investigation" in decision["reason"]
    listed = [json.loads(line) for line in cli("tools", "list", "--json", cwd=repo).stdout.splitlines()]
    assert {r["tool"]: r["enabled"] for r in listed}["run_tests"] is False
    assert cli("tools", "enable", "run_tests", cwd=repo).returncode == 0
    listed = [json.loads(line) for line in cli("tools", "list", "--json", cwd=repo).stdout.splitlines()]
    assert all(r["enabled"] for r in listed)


def test_unknown_tool_is_a_usage_error(repo: Path) -> None:
    done = cli("tools", "disable", "rm_rf", cwd=repo)
    assert done.returncode == 2 and "unknown tool 'rm_rf'" in done.stderr


def test_approvals_ask_before_one_file_too_many_and_negated_globs(repo: Path) -> None:
    tools = {**CONTRACT["tools"], "write_file": {"allow": ["*.py"], "ask": ["!*.py"]}}
    contract = {**CONTRACT, "tools": tools, "approvals": {"files_changed_above": 2}}
    (repo / "policies" / "contract.yaml").write_text(yaml.safe_dump(contract))
    git(["commit", "-qam", "approvals"], repo)
    write = [{"name": "write_file", "arguments": {"path": p, "content": "x = 1\n"}} for p in ("a.py", "b.py", "c.py")]
    script = write_script(repo.parent / "t.yaml", [
        {"tool_calls": write}, {"tool_calls": [{"name": "write_file", "arguments": {"path": "a.py", "content": "y = 2\n"}}]},
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "notes.md", "content": "n\n"}}]},
        {"tool_calls": [FINISH]},
    ])  # fmt: skip
    done = cli("run", "x", "--model", f"script:{script}", "--json", cwd=repo)
    summary = json.loads(done.stdout.splitlines()[-1])
    records = [json.loads(line) for line in Path(summary["journal"]).read_text().splitlines()]
    decisions = [(r["data"]["action"], r["data"]["verdict"], r["data"]["rule"]) for r in records
                 if r["kind"] == "policy.decision" and r["data"]["tool"] == "write_file"]  # fmt: skip
    assert decisions == [
        ("write_file a.py", "allow", "tools.write_file.allow[0] '*.py'"),
        ("write_file b.py", "allow", "tools.write_file.allow[0] '*.py'"),
        ("write_file c.py", "deny", "approvals.files_changed_above 2"),  # asked; no terminal: denied
        ("write_file a.py", "allow", "tools.write_file.allow[0] '*.py'"),  # a file already changed
        ("write_file notes.md", "deny", "tools.write_file.ask[0] '!*.py'"),
    ]
