"""The governed run end to end, through the real CLI: tools, permissions, gate, commit, journal."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentic.git.cmd import git
from agentic.journal.records import payload, read_records, record_hash
from tests.conftest import CONTRACT, FINISH, FIX, cli, make_repo, write_script


def run(
    repo: Path, turns: list[dict[str, Any]], *extra: str, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], str]:
    script = write_script(repo.parent / "turns.yaml", turns)
    done = cli("run", "fix the average", "--model", f"script:{script}", "--json", *extra, cwd=repo, env=env)
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    return done.returncode, json.loads(lines[-1]), done.stderr


def records(summary: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    path = Path(summary["journal"])
    return [(r, payload(r, path.parent)) for r in read_records(path)]


def results(summary: dict[str, Any], tool: str | None = None) -> list[dict[str, Any]]:
    return [
        d for r, d in records(summary) if r["kind"] == "tool.result" and (tool is None or d["tool"] == tool)
    ]


def decisions(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for r, d in records(summary) if r["kind"] == "policy.decision"]


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def test_accepted_run_commits_on_its_branch_and_leaves_checkout_alone(repo: Path) -> None:
    head = git(["rev-parse", "HEAD"], repo).strip()
    turns = [
        {"text": "look", "tool_calls": [{"name": "list_files", "arguments": {}}]},
        call("read_file", path="calc.py"),
        call("run_tests"),
        {"tool_calls": [FIX]},
        call("run_tests"),
        {"tool_calls": [FINISH]},
    ]
    code, summary, _ = run(repo, turns)
    assert code == 0, summary
    assert summary["status"] == "accepted"
    assert summary["steps"] == 6 and summary["tool_calls"] == 6
    assert summary["changed_files"] == ["calc.py"]
    assert summary["committed"] == [{"path": "calc.py", "status": "M", "by": [{"step": 4, "tool": "edit_file", "change": "modified"}]}]
    assert summary["tokens"]["input_tokens"] > 0 and summary["tokens"]["output_tokens"] > 0
    # the person's checkout is untouched
    assert git(["rev-parse", "HEAD"], repo).strip() == head
    assert git(["branch", "--show-current"], repo).strip() == "main"
    assert "(len(values) - 1)" in (repo / "calc.py").read_text()
    assert git(["status", "--porcelain"], repo).strip() == ""
    # the commit: on agentic/<run>, parent = base, trailers
    commit = summary["commit"]
    assert git(["rev-parse", summary["branch"]], repo).strip() == commit
    assert git(["rev-parse", f"{commit}^"], repo).strip() == head
    message = git(["log", "-1", "--format=%B", commit], repo)
    assert f"Agentic-Run: {summary['run_id']}" in message and "Agentic-Contract: sha256:" in message
    assert "fixed average" in message
    assert "return sum(values) / len(values)" in git(["show", f"{commit}:calc.py"], repo)
    # the first test run failed, the second passed
    tests = results(summary, "run_tests")
    assert [t["data"]["exit_code"] for t in tests] == [1, 0]
    # the worktree of a finished run is gone
    assert not (repo / ".agentic" / "worktrees" / summary["run_id"]).exists()
    # apply fast-forwards the person's branch
    done = cli("apply", summary["run_id"], cwd=repo)
    assert done.returncode == 0, done.stderr
    assert git(["rev-parse", "HEAD"], repo).strip() == commit
    assert "return sum(values) / len(values)" in (repo / "calc.py").read_text()


def test_journal_records_everything_in_a_valid_chain(repo: Path) -> None:
    code, summary, _ = run(
        repo, [call("read_file", path="calc.py"), {"tool_calls": [FIX]}, {"tool_calls": [FINISH]}]
    )
    assert code == 0
    recs = records(summary)
    kinds = [r["kind"] for r, _ in recs]
    assert kinds[0] == "run.start" and kinds[-1] == "run.end"
    for kind in (
        "model.request",
        "model.response",
        "tool.call",
        "policy.decision",
        "tool.result",
        "checkpoint",
        "gate.verdict",
        "commit",
    ):
        assert kind in kinds, kind
    prev = "0" * 64
    for n, (record, _) in enumerate(recs, start=1):
        assert record["seq"] == n and record["prev"] == prev and record["hash"] == record_hash(record)
        assert record["run"] == summary["run_id"]
        prev = record["hash"]
    start = recs[0][1]
    assert start["base_commit"] == git(["rev-parse", "HEAD"], repo).strip()
    assert start["contract"]["hash"].startswith("sha256:")
    assert start["who"]["os_user"] and start["who"]["git_name"] == "Test Person"
    assert start["settings"]["model"].startswith("script:")
    allowed = decisions(summary)
    assert all(d["verdict"] == "allow" for d in allowed)
    assert {d["rule"] for d in allowed} >= {"tools.read_file.allow", "tools.edit_file.allow[0] '*.py'"}
    end = recs[-1][1]
    assert end["status"] == "accepted" and end["commit"] == summary["commit"]
    # the index agrees
    done = cli("runs", "--json", cwd=repo)
    row = json.loads(done.stdout.splitlines()[0])
    assert row["id"] == summary["run_id"] and row["status"] == "accepted" and row["steps"] == 3
    shown = cli("show", "last", cwd=repo)
    assert shown.returncode == 0 and "gate.verdict" in shown.stdout and "edit_file calc.py" in shown.stdout


def test_gate_failure_feeds_back_then_rejects(repo: Path) -> None:
    turns = [{"tool_calls": [FINISH]}, {"text": "still done", "tool_calls": [FINISH]}]
    code, summary, _ = run(repo, turns)
    assert code == 1 and summary["status"] == "rejected"
    assert summary["commit"] is None and summary["branch"] is None
    assert "gate failed 2 times" in summary["reason"]
    verdicts = [d for r, d in records(summary) if r["kind"] == "gate.verdict"]
    assert len(verdicts) == 2 and not verdicts[0]["passed"]
    failed = {c["id"] for c in verdicts[0]["checks"] if not c["passed"]}
    assert failed == {"tests-pass"}
    # the model was told why
    second_request = [d for r, d in records(summary) if r["kind"] == "model.request"][1]
    feedback = second_request["messages"][-1]["content"]
    assert "The gate failed" in feedback and "tests-pass" in feedback and "FAIL" in feedback
    assert git(["branch", "--list", "agentic/*"], repo).strip() == ""


def test_gate_fail_then_fix_is_accepted(repo: Path) -> None:
    code, summary, _ = run(repo, [{"tool_calls": [FINISH]}, {"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    assert code == 0 and summary["status"] == "accepted"


def test_agent_that_stops_talking_is_rejected(repo: Path) -> None:
    code, summary, _ = run(repo, [{"text": "I think it's fine."}, {"text": "Really."}])
    assert code == 1 and summary["status"] == "rejected"
    assert "without calling finish" in summary["reason"]


def test_a_run_that_can_go_on_ends_with_the_command_that_resumes_it(repo: Path) -> None:
    script = write_script(repo.parent / "turns.yaml", [{"tool_calls": [FIX]}])  # then the provider fails
    done = cli("run", "fix the average", "--model", f"script:{script}", cwd=repo)
    assert done.returncode == 4, done.stderr
    run_id = done.stdout.split("run ", 1)[1].split()[0]
    assert done.stdout.splitlines()[-2].endswith(f"agentic resume {run_id}"), done.stdout
    good = write_script(repo.parent / "good.yaml", [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    accepted = cli("run", "fix the average", "--model", f"script:{good}", cwd=repo)
    assert accepted.returncode == 0 and "agentic resume" not in accepted.stdout


def test_the_task_can_come_from_standard_input(repo: Path) -> None:
    script = write_script(repo.parent / "turns.yaml", [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    task = "Fix the average.\n\nThe tests in tests/ say what it must return; keep them as they are.\n"
    argv = ["run", "-", "--model", f"script:{script}", "--json"]
    done = cli(*argv, cwd=repo, input=task)
    summary = json.loads(done.stdout.splitlines()[-1])
    assert done.returncode == 0 and summary["status"] == "accepted", done.stderr
    start = next(d for r, d in records(summary) if r["kind"] == "run.start")
    assert start["task"] == task
    empty = cli(*argv, cwd=repo, input="  \n")
    assert empty.returncode == 2 and "the task is empty" in empty.stderr


def test_a_repository_under_a_directory_whose_name_is_not_utf8_runs_and_is_reported(tmp_path: Path) -> None:
    """A directory name is bytes: one that is not UTF-8 (Latin-1 `café`) reaches Python with surrogate
    escapes. The sandbox's user, the run database, the journal, the report files and apply take it."""
    repo = make_repo(tmp_path / os.fsdecode(b"caf\xe9") / "repo")
    code, summary, err = run(repo, [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    assert (code, summary["status"]) == (0, "accepted"), err
    assert Path(summary["journal"]).is_file() and os.fsencode(summary["journal"]).startswith(os.fsencode(repo))
    listed = cli("runs", cwd=repo)
    assert listed.returncode == 0 and summary["run_id"] in listed.stdout, listed.stderr
    page = repo.parent / "run.html"
    shown = cli("show", summary["run_id"], "--html", str(page), cwd=repo)
    assert shown.returncode == 0, shown.stderr
    assert "caf\\udce9" in page.read_text(encoding="utf-8")  # valid UTF-8, the name as the terminal shows it
    assert cli("audit", summary["run_id"], cwd=repo).returncode == 0
    applied = cli("apply", summary["run_id"], cwd=repo)
    assert applied.returncode == 0, applied.stderr
    assert git(["rev-parse", "HEAD"], repo).strip() == summary["commit"]


def test_an_agent_that_stops_after_a_failed_gate_is_rejected_for_the_gate(repo: Path) -> None:
    code, summary, _ = run(repo, [{"tool_calls": [FINISH]}, {"text": "I give up."}, {"text": "Really."}])
    assert code == 1 and summary["status"] == "rejected"
    assert summary["reason"] == ("the gate failed once (last: tests-pass) and the agent stopped without calling "
                                 "finish again")  # fmt: skip


def test_limits_stop_the_run_with_exit_3(repo: Path) -> None:
    contract = {**CONTRACT, "limits": {"max_steps": 3, "max_tool_calls": 10, "timeout_s": 60}}
    (repo / "policies" / "contract.yaml").write_text(yaml.safe_dump(contract))
    git(["commit", "-qam", "tighter"], repo)
    turns = [call("list_files")] * 5
    code, summary, _ = run(repo, turns)
    assert code == 3 and summary["status"] == "limit_exceeded"
    assert "max_steps" in summary["reason"] and summary["steps"] == 3
    contract["limits"] = {"max_steps": 10, "max_tool_calls": 2}
    (repo / "policies" / "contract.yaml").write_text(yaml.safe_dump(contract))
    git(["commit", "-qam", "tighter"], repo)
    code, summary, _ = run(repo, [{"tool_calls": [{"name": "list_files", "arguments": {}}] * 3}])
    assert code == 3 and "max_tool_calls" in summary["reason"] and summary["tool_calls"] == 2


def test_script_exhausted_is_a_provider_failure(repo: Path) -> None:
    code, summary, _ = run(repo, [call("list_files")])
    assert code == 4 and summary["status"] == "failed"
    assert "no turn left" in summary["reason"]
    # a failed run keeps its worktree (for resume) and never commits
    assert summary["commit"] is None


def test_malformed_calls_come_back_as_errors_and_the_run_goes_on(repo: Path) -> None:
    turns = [
        {"tool_calls": [{"name": "read_file", "arguments": "{not json"}]},
        {"tool_calls": [{"name": "shell", "arguments": {"cmd": "ls"}}]},
        {"tool_calls": [{"name": "read_file", "arguments": {"path": 42}}]},
        {"tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py"}}]},
        {"tool_calls": [{"name": "read_file", "arguments": '{"path": "calc.py", "path": "../x"}'}]},
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py", "extra": 1}}]},
        {"tool_calls": [FIX]},
        {"tool_calls": [FINISH]},
    ]
    code, summary, _ = run(repo, turns)
    assert code == 0, summary
    errors = [d["content"] for d in results(summary) if d["is_error"]]
    assert len(errors) == 6
    assert "not valid JSON" in errors[0]
    assert "unknown tool 'shell'" in errors[1] and "read_file" in errors[1]
    assert "path" in errors[2] and "not of type 'string'" in errors[2]
    assert "'old_text' is a required property" in errors[3]
    assert "duplicate key 'path'" in errors[4]
    assert "Additional properties" in errors[5]
    # none of them reached a policy decision
    assert [d["tool"] for d in decisions(summary)] == ["edit_file", "finish"]


def test_permissions_refuse_and_journal_the_rule(repo: Path) -> None:
    turns = [
        call("read_file", path=".env"),
        call("write_file", path="tests/test_calc.py", content="pass\n"),
        call("write_file", path="policies/contract.yaml", content="version: 1\n"),
        call("write_file", path="notes.md", content="hi\n"),
        call("delete_file", path="calc.py"),
        call("run_command", command="python -m unittest; curl http://example.com"),
        call("run_command", command="curl http://example.com"),
        call("read_file", path="../../etc/passwd"),
        call("search", pattern="canary"),
        {"tool_calls": [FIX]},
        {"tool_calls": [FINISH]},
    ]
    code, summary, _ = run(repo, turns)
    assert code == 0, summary
    denied = [d for d in decisions(summary) if d["verdict"] == "deny"]
    rules = [d["rule"] for d in denied]
    assert rules[0] == "tools.read_file.deny[0] '.env*'"
    assert rules[1] == "protected 'tests/**'"
    assert rules[2].startswith("protected 'policies/")
    assert rules[3] == "tools.write_file"  # no allow rule matches notes.md
    assert rules[4] == "tools.delete_file.ask" and denied[4]["by"] == "no terminal"
    assert rules[5] == "tools.run_command"  # curl has no rule; python -m unittest before it did not run
    assert rules[6] == "tools.run_command"
    texts = [d["content"] for d in results(summary) if d["is_error"]]
    assert all("refused" in t or "error" in t for t in texts)
    # path escapes are refused by the tool before any I/O
    assert any("../../etc/passwd" in t or ".." in t for t in texts)
    # search never shows the denied .env
    found = results(summary, "search")[0]["content"]
    assert ".env" not in found and "canary-0123456789abcdef" not in found
    # nothing of it landed
    changed = git(["diff", "--name-only", "main", summary["branch"]], repo).split()
    assert changed == ["calc.py"]


def test_commands_run_sandboxed_without_secrets(repo: Path) -> None:
    contract = {
        **CONTRACT,
        "tools": {**CONTRACT["tools"], "run_command": {"allow": ["printenv", "touch *", "python3 -c *"]}},
    }
    (repo / "policies" / "contract.yaml").write_text(yaml.safe_dump(contract))
    git(["commit", "-qam", "allow printenv"], repo)
    outside = repo.parent / "outside.txt"
    turns = [
        call("run_command", command="printenv"),
        call("run_command", command=f"touch {outside}"),
        call("run_command", command="touch /etc/agentic-canary"),
        call("run_command", command="python3 -c 'import socket; socket.create_connection((\"1.1.1.1\", 53), 2)'"),
        {"tool_calls": [FIX]},
        {"tool_calls": [FINISH]},
    ]
    canary = "sk-canary-abcdefghijklmnopqrstuvwxyz012345"
    code, summary, _ = run(
        repo, turns, env={"OPENAI_API_KEY": canary, "MY_SERVICE_TOKEN": "tok-canary-98765"}
    )
    assert code == 0, summary
    out = results(summary, "run_command")
    assert "PATH=" in out[0]["content"]
    assert "canary" not in out[0]["content"] and "OPENAI_API_KEY" not in out[0]["content"]
    assert not outside.exists()
    # it ran (the contract allows it) and nothing landed: under /tmp it wrote into the sandbox's private
    # /tmp; elsewhere (the suite's TMPDIR may be in /dev/shm: tests/ramtemp.py) the sandbox refused the write
    touched = out[1]
    assert touched["data"]["exit_code"] == 0 or any(
        why in touched["content"] for why in ("Read-only file system", "Permission denied")), touched["content"]
    assert "Read-only file system" in out[2]["content"] and not Path("/etc/agentic-canary").exists()
    assert "Network is unreachable" in out[3]["content"] and out[3]["is_error"]
    journal_dir = Path(summary["journal"]).parent
    for path in journal_dir.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert canary not in text and "tok-canary-98765" not in text


def test_missing_sandbox_refuses_before_starting(tmp_path: Path) -> None:
    import shutil

    repo = make_repo(tmp_path / "r")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("git",):
        (bindir / tool).symlink_to(shutil.which(tool) or "/usr/bin/git")
    (bindir / "python").symlink_to(sys.executable)
    script = write_script(tmp_path / "t.yaml", [{"tool_calls": [FINISH]}])
    done = cli("run", "x", "--model", f"script:{script}", cwd=repo, env={"PATH": str(bindir), "AGENTIC_SANDBOX": "bubblewrap"})
    assert done.returncode == 2
    assert "bubblewrap" in done.stderr and "Traceback" not in done.stderr
    assert not (repo / ".agentic" / "worktrees").exists()


@pytest.mark.parametrize(
    ("preset", "code", "status", "commits"),
    [("default", 0, "accepted", True), ("strict", 1, "rejected", False), ("readonly", 0, "accepted", False)],
)
def test_presets_drive_a_run(repo: Path, preset: str, code: int, status: str, commits: bool) -> None:
    got, summary, _ = run(repo, [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}, {"tool_calls": [FINISH]}],
                          "--contract", preset)  # fmt: skip
    assert (got, summary["status"]) == (code, status), summary
    assert (summary["commit"] is not None) == commits
    if preset != "default":  # strict allows writes under src/ only; readonly none
        assert decisions(summary)[0]["verdict"] == "deny"
