"""Runs whose model works like an engineer with a shell: pipelines, heredocs, reproduction scripts,
sed -i. The script runs only inside the sandbox, every part of it is decided first, and what it
leaves behind is judged at the gate. Driven in process (tests/inproc.py)."""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from agentic.git.cmd import git
from agentic.policy import engine as policy
from agentic.policy.contract import Rule, load_contract
from agentic.reports.audit import audit_run, provenance
from agentic.tools.base import ToolContext, ToolFailure
from agentic.tools.commands import RunCommand, RunTests
from tests.conftest import CONTRACT, FIX, cli, make_repo
from tests.inproc import records, run, tool_results


def sh(script: str) -> dict[str, Any]:
    return {"name": "run_command", "arguments": {"command": script}}


def turn(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"tool_calls": list(calls)}


# the default preset, with the fixture's unittest suite as its test command (pytest starts slower)
DEFAULT = dataclasses.replace(load_contract("default", None), test_command=tuple(CONTRACT["test_command"]))
FINISH = turn({"name": "finish", "arguments": {"summary": "average divides by the number of values"}})


def repo_with(tmp_path: Path, files: dict[str, str] | None = None) -> Path:
    root = make_repo(tmp_path / "repo")
    for rel, text in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    if files:
        git(["add", "--all"], root)
        git(["commit", "--quiet", "-m", "more files"], root)
    return root


def test_a_real_model_style_run_is_accepted_under_the_default_preset(tmp_path: Path) -> None:
    repo = repo_with(tmp_path)
    outcome = run(repo, [
        turn(sh('ls -la && find . -name "*.py" -not -path "./.git/*" | sort | head -20')),
        turn(sh('grep -rn "def average" --include=*.py . | head -5; wc -l calc.py')),
        turn(sh("cat <<'EOF' > reproduce.py\nfrom calc import average\nprint('mean:', average([2, 4, 6]))\nEOF\n"
                "python reproduce.py")),
        turn(sh("sed -i 's/(len(values) - 1)/len(values)/' calc.py && python reproduce.py && rm reproduce.py")),
        turn(sh("git status --short && git diff --stat")),
        turn({"name": "run_tests", "arguments": {}}),
        FINISH,
    ], contract="default")  # fmt: skip
    assert outcome.status == "accepted", outcome.reason
    assert outcome.changes == [("M", "calc.py")]
    results = [r for r in tool_results(outcome) if r["tool"] == "run_command"]
    assert all(not r["is_error"] for r in results), [r["content"] for r in results]
    assert "./calc.py" in results[0]["content"]
    assert "calc.py:1:def average" in results[1]["content"]
    assert "mean: 6.0" in results[2]["content"] and "mean: 4.0" in results[3]["content"]
    # edits made through the shell are journaled with the files they changed, from the snapshot
    assert results[2]["data"]["changed"] == [{"status": "A", "path": "reproduce.py"}]
    assert results[3]["data"]["changed"] == [{"status": "M", "path": "calc.py"}, {"status": "D", "path": "reproduce.py"}]
    assert " M calc.py" in results[4]["content"] and "calc.py | 2 +-" in results[4]["content"]  # git sees the change
    decisions = [d for d in records(outcome, "policy.decision") if d["tool"] == "run_command"]
    assert [p["text"] for p in decisions[3]["commands"]] == [
        "sed -i 's/(len(values) - 1)/len(values)/' calc.py", "python reproduce.py", "rm reproduce.py"]
    assert git(["show", "--stat", "--format=", str(outcome.commit)], repo).split()[0] == "calc.py"
    # the audit lists every path in the commit and how it got there
    assert audit_run(outcome.journal)["committed"] == [
        {"path": "calc.py", "status": "M", "by": [{"step": 4, "tool": "run_command", "change": "modified"}]}]


def test_a_redirection_into_a_protected_path_is_refused_and_nothing_in_the_script_runs(tmp_path: Path) -> None:
    repo = repo_with(tmp_path)
    before = (repo / "tests" / "test_calc.py").read_text()
    outcome = run(repo, [
        turn(sh("touch ran.txt; echo 'def test_x(): pass' > tests/test_calc.py")),
        turn(sh("cd tests && cat > test_calc.py <<'EOF'\nimport unittest\nEOF")),
        turn(FIX), FINISH,
    ], contract=DEFAULT)  # fmt: skip
    assert outcome.status == "accepted", outcome.reason
    assert outcome.changes == [("M", "calc.py")]  # no ran.txt, no test file
    refused = tool_results(outcome)[:2]
    assert all(r["is_error"] and "refused by the contract" in r["content"] for r in refused)
    assert "protected 'tests/**'" in refused[0]["content"] and "Nothing in the script ran." in refused[0]["content"]
    assert git(["show", f"{outcome.commit}:tests/test_calc.py"], repo) == before


class Listener:
    """A TCP server on the host's loopback that counts the connections it gets."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


def test_a_script_reaching_for_the_host_gets_no_connection(tmp_path: Path) -> None:
    permissive = Rule(allow=True)  # no deny: the sandbox alone must stop it
    contract = dataclasses.replace(DEFAULT, tools={**DEFAULT.tools, "run_command": permissive})
    listener = Listener()
    try:
        port = listener.port
        script = (f"python -m pytest -q >/dev/null 2>&1; curl -s -m 3 http://127.0.0.1:{port}/; echo \"curl=$?\"; "
                  f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 2)\" 2>/dev/null; "
                  f"echo \"python=$?\"; (echo hi > /dev/tcp/127.0.0.1/{port}) 2>/dev/null; echo \"devtcp=$?\"")  # fmt: skip
        outcome = run(repo_with(tmp_path), [turn(sh(script)), turn(FIX), FINISH], contract=contract)
    finally:
        listener.close()
    assert listener.accepted == 0
    output = tool_results(outcome)[0]["content"]
    assert "curl=0" not in output and "python=0" not in output and "devtcp=0" not in output
    assert "curl=" in output and "python=" in output and "devtcp=" in output


def test_a_command_only_known_at_run_time_is_asked_refused_headless_and_runs_when_approved(tmp_path: Path) -> None:
    script = [turn(sh('x="echo RAN-$((40 + 2))"; eval "$x"')), turn(FIX), FINISH]
    headless = run(repo_with(tmp_path / "a"), script, contract=DEFAULT)
    refused = tool_results(headless)[0]
    assert refused["is_error"] and "unknown eval" in refused["content"] and "RAN-42" not in refused["content"]
    decision = next(d for d in records(headless, "policy.decision") if d["tool"] == "run_command")
    assert (decision["verdict"], decision["by"]) == ("deny", "no terminal")

    asked: list[str] = []
    approved = run(repo_with(tmp_path / "b"), script, contract=DEFAULT,
                   approver=lambda q: asked.append(q.action) or policy.Answer(True))  # fmt: skip
    assert asked == ['run: x="echo RAN-$((40 + 2))"; eval "$x"']
    assert "RAN-42" in tool_results(approved)[0]["content"]


def test_deleting_a_tracked_file_is_asked_at_the_gate_and_the_model_can_undo_it(tmp_path: Path) -> None:
    files = {"old_helper.py": "def helper():\n    return 1\n"}
    outcome = run(repo_with(tmp_path / "a", files), [
        turn(FIX, sh("rm old_helper.py")), FINISH,
        turn(sh("git checkout -- old_helper.py")), FINISH,
    ], contract=DEFAULT)  # fmt: skip
    assert outcome.status == "accepted", outcome.reason
    assert outcome.changes == [("M", "calc.py")]
    verdicts = records(outcome, "gate.verdict")
    first = {c["id"]: c for c in verdicts[0]["checks"]}
    assert not first["changes-reviewed"]["passed"]
    assert "delete old_helper.py" in first["changes-reviewed"]["detail"]
    assert "changes-reviewed" not in {c["id"] for c in verdicts[1]["checks"]}

    approved = run(repo_with(tmp_path / "b", files), [turn(FIX, sh("rm old_helper.py")), FINISH],
                   contract=DEFAULT, approver=lambda q: policy.Answer(True))  # fmt: skip
    assert approved.status == "accepted", approved.reason
    assert sorted(approved.changes) == [("D", "old_helper.py"), ("M", "calc.py")]


def test_a_file_that_runs_code_in_ci_is_asked_at_the_gate_whatever_wrote_it(tmp_path: Path) -> None:
    add_ci = sh("mkdir -p .github/workflows && printf 'on: push\\n' > .github/workflows/ci.yml")
    refused = run(repo_with(tmp_path / "a"), [turn(FIX, add_ci), FINISH], contract=DEFAULT)
    assert refused.status == "rejected" or refused.status == "failed", refused.reason
    verdict = records(refused, "gate.verdict")[0]
    check = next(c for c in verdict["checks"] if c["id"] == "changes-reviewed")
    assert not check["passed"] and ".github/workflows/ci.yml" in check["detail"]

    text = load_contract("default", None).text.replace("runs_code: ask", "runs_code: allow").replace(
        "test_command: [python, -m, pytest, -q]", "test_command: [python, -m, unittest, discover, -s, tests, -t, .]")
    repo = repo_with(tmp_path / "b")
    (repo / "policies" / "contract.yaml").write_text(text)
    git(["commit", "--quiet", "-am", "allow CI changes"], repo)
    allowed = run(repo, [turn(FIX, add_ci), FINISH])
    assert allowed.status == "accepted", allowed.reason
    assert ("A", ".github/workflows/ci.yml") in allowed.changes


ARTIFACTS_TEST = '''\
import pathlib
import time
import unittest


class TestWritesArtifacts(unittest.TestCase):
    def test_leaves_files_behind(self):
        pathlib.Path("build").mkdir(exist_ok=True)
        pathlib.Path("build/test-report.log").write_text("ran at %f\\\\n" % time.time())
        pathlib.Path("cache.json").write_text('{"ran": %f}\\\\n' % time.time())
        pathlib.Path("stale.tmp").unlink(missing_ok=True)
'''


def test_files_only_the_test_command_wrote_are_not_committed(tmp_path: Path) -> None:
    files = {"tests/test_artifacts.py": ARTIFACTS_TEST, "cache.json": "{}\n", "stale.tmp": "old\n",
             "notes.txt": "notes\n"}  # fmt: skip
    repo = repo_with(tmp_path, files)
    outcome = run(repo, [
        turn(FIX), turn({"name": "run_tests", "arguments": {}}),
        turn(sh("echo 'the agent wrote this' > notes.txt")),
        turn({"name": "run_tests", "arguments": {}}), FINISH,
    ], contract=DEFAULT)  # fmt: skip
    assert outcome.status == "accepted", outcome.reason
    assert sorted(outcome.changes) == [("M", "calc.py"), ("M", "notes.txt")]  # no report, cache or deletion
    tests_run = [r for r in tool_results(outcome) if r["tool"] == "run_tests"]
    assert {c["path"] for c in tests_run[0]["data"]["changed"]} == {"build/test-report.log", "cache.json", "stale.tmp"}
    assert git(["show", f"{outcome.commit}:stale.tmp"], repo) == "old\n"
    # the commit's paths and how each got there; the test command's files, left out, said as such
    paths = {p["path"]: p for p in provenance(outcome.journal)}
    assert paths["calc.py"]["by"] == [{"step": 1, "tool": "edit_file", "change": "modified"}]
    assert [b["tool"] for b in paths["notes.txt"]["by"]] == ["run_command"]
    left_out = {p for p, f in paths.items() if f["status"] == "left out"}
    assert left_out == {"build/test-report.log", "cache.json", "stale.tmp"}
    shown = cli("show", outcome.run_id, "--json", cwd=repo)
    assert json.loads(shown.stdout)["committed"] == list(paths.values())
    text = cli("show", outcome.run_id, cwd=repo).stdout
    assert "edit_file at step 1" in text and "only the test command wrote it" in text



def test_command_tools_without_a_sandbox_fail_as_the_model_is_told(tmp_path: Path) -> None:
    ctx = ToolContext(worktree=tmp_path, sandbox=None, test_command=["python", "-m", "unittest"])
    for tool, args in ((RunCommand(), {"command": "echo hi"}), (RunTests(), {})):
        with pytest.raises(ToolFailure, match="no sandbox is available"):
            tool.execute(args, ctx)
