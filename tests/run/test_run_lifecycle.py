"""Run lifecycle: wall-clock limit, Ctrl-C, approvals at a terminal, apply onto a moved branch, the demo."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import sys
import time
from pathlib import Path

import yaml

from agentic.git.cmd import git
from tests.conftest import CONTRACT, FINISH, FIX, cli, make_repo, start_run, wait_for_journal, write_script


def set_contract(repo: Path, **changes: object) -> None:
    (repo / "policies" / "contract.yaml").write_text(yaml.safe_dump({**CONTRACT, **changes}))
    git(["commit", "-qam", "contract"], repo)


def sleep_contract(repo: Path, timeout_s: float) -> None:
    tools = {**CONTRACT["tools"], "run_command": {"allow": ["sleep *"], "timeout_s": 60}}
    set_contract(repo, tools=tools, limits={"max_steps": 10, "timeout_s": timeout_s})


def test_wall_clock_limit_kills_the_command_and_stops_with_exit_3(repo: Path) -> None:
    sleep_contract(repo, timeout_s=2)
    script = write_script(repo.parent / "t.yaml", [{"tool_calls": [{"name": "run_command", "arguments": {"command": "sleep 30"}}]},
                                                   {"tool_calls": [FINISH]}])  # fmt: skip
    start = time.monotonic()
    done = cli("run", "x", "--model", f"script:{script}", "--json", cwd=repo)
    assert time.monotonic() - start < 15
    assert done.returncode == 3, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["status"] == "limit_exceeded" and "timeout_s" in summary["reason"]


def test_ctrl_c_marks_the_run_interrupted(repo: Path) -> None:
    sleep_contract(repo, timeout_s=120)
    script = write_script(repo.parent / "t.yaml", [{"tool_calls": [{"name": "run_command", "arguments": {"command": "sleep 30"}}]}])
    proc = start_run(repo, script)
    wait_for_journal(repo, '"kind":"policy.decision"')
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 4, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["status"] == "interrupted"
    # the worktree is kept so the run can be resumed, and nothing was committed
    assert (repo / ".agentic" / "worktrees" / summary["run_id"]).is_dir()
    assert summary["commit"] is None


def run_in_terminal(repo: Path, script: Path, answer: bytes) -> tuple[int, str]:
    pid, fd = pty.fork()
    if pid == 0:  # child: the CLI with a terminal on stdin/stdout/stderr
        os.chdir(repo)
        os.environ.update(NO_COLOR="1", COLUMNS="200")
        os.execv(sys.executable, [sys.executable, "-m", "agentic", "run", "x", "--model", f"script:{script}"])
    output = b""
    answered = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
            if not answered and b"Allow this action?" in output:
                os.write(fd, answer)
                answered = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_ask_rule_prompts_the_person_at_a_terminal(tmp_path: Path) -> None:
    for answer, expect_deleted in ((b"y\n", True), (b"n\n", False)):
        repo = make_repo(tmp_path / answer.decode().strip())
        (repo / "old.py").write_text("x = 1\n")
        git(["add", "old.py"], repo)
        git(["commit", "-qm", "old"], repo)
        script = write_script(tmp_path / "t.yaml", [
            {"tool_calls": [{"name": "delete_file", "arguments": {"path": "old.py"}}]},
            {"tool_calls": [FIX]}, {"tool_calls": [FINISH]},
        ])  # fmt: skip
        code, output = run_in_terminal(repo, script, answer)
        assert code == 0, output
        assert "delete_file → delete_file old.py" in output
        records = [json.loads(line) for line in next((repo / ".agentic" / "runs").glob("*/journal.jsonl")).read_text().splitlines()]
        decision = next(r["data"] for r in records if r["kind"] == "policy.decision")
        assert decision["by"] == "person" and decision["rule"] == "tools.delete_file.ask"
        assert decision["verdict"] == ("allow" if expect_deleted else "deny")
        branch = git(["branch", "--list", "agentic/*", "--format=%(refname:short)"], repo).strip()
        files = git(["ls-tree", "--name-only", branch], repo).split()
        assert ("old.py" not in files) == expect_deleted


def test_apply_cherry_picks_onto_a_branch_that_moved(repo: Path) -> None:
    script = write_script(repo.parent / "t.yaml", [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    done = cli("run", "fix", "--model", f"script:{script}", "--json", cwd=repo)
    summary = json.loads(done.stdout.splitlines()[-1])
    (repo / "README.md").write_text("moved on\n")
    git(["add", "README.md"], repo)
    git(["commit", "-qm", "meanwhile"], repo)
    (repo / "README.md").write_text("dirty\n")
    refused = cli("apply", summary["run_id"][:12], cwd=repo)
    assert refused.returncode == 1 and "uncommitted changes" in refused.stderr
    git(["checkout", "--", "README.md"], repo)
    applied = cli("apply", summary["run_id"][:12], cwd=repo)
    assert applied.returncode == 0, applied.stderr
    assert git(["log", "-3", "--format=%s"], repo).splitlines()[1] == "meanwhile"
    assert "len(values)\n" in (repo / "calc.py").read_text()
    again = cli("run", "fix", "--model", f"script:{script}", "--json", cwd=repo)
    second = json.loads(again.stdout.splitlines()[-1])  # the fix is in: the edit fails, the gate passes, no change
    assert (second["status"], second["commit"], second["changed_files"]) == ("accepted", None, [])
    assert "nothing to commit" in second["reason"]


def test_demo_runs_offline_end_to_end(tmp_path: Path) -> None:
    target = tmp_path / "demo [bold]"  # a path that reads as markup, printed as it is
    done = cli("demo", "--dir", str(target), cwd=tmp_path, env={"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": ""})
    assert done.returncode == 0, done.stderr
    assert f"A throw-away repository with a bug: {target.resolve()}" in done.stdout
    assert "✗ read_file .env · refused by the contract" in done.stdout
    assert "accepted: the gate passed" in done.stdout
    assert "+    return total(values) / len(values)" in done.stdout
    assert "journal:" in done.stdout
    runs = cli("runs", "--json", cwd=target)
    assert json.loads(runs.stdout.splitlines()[0])["status"] == "accepted"
    again = cli("demo", "--dir", str(target), cwd=tmp_path)
    assert again.returncode == 2 and "not empty" in again.stderr
