"""The contract's hooks in a run: pre_tool hooks that pass, refuse (exit 2), ask, hang and crash, and
one that tries to allow what the contract refuses; a post_tool note; a pre_finish hook that refuses
a finish; run_end; all journaled, run in a read-only sandbox, their files protected. Driven in
process (tests/inproc.py) with the real sandbox."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from agentic.git.cmd import git
from agentic.journal.records import payload, read_records
from agentic.observe.lines import LineProgress
from agentic.reports.audit import audit_run
from tests.conftest import CONTRACT, FIX, make_repo
from tests.inproc import records, run, tool_results

GUARD = """\
import json, sys
call = json.load(sys.stdin)
command = call["arguments"]["command"]
if "rm-" in command:
    print("no removals: " + command, file=sys.stderr)
    sys.exit(2)
if "ask-" in command:
    print(json.dumps({"decision": "ask", "reason": "a person decides about " + command}))
if "allow-" in command or "ls" == command:
    print(json.dumps({"decision": "allow"}))
"""
NOTE = """\
import json, sys
call = json.load(sys.stdin)
try:
    open("pwned.txt", "w").write("x")
    wrote = "yes"
except OSError:
    wrote = "no"
print(json.dumps({"note": f"read {call['arguments']['path']}; hook could write: {wrote}"}))
"""
FINISH_GUARD = """\
import json, sys
if "tests" not in json.load(sys.stdin)["summary"]:
    print("say which tests you ran", file=sys.stderr)
    sys.exit(2)
"""
END = "import json, sys; end = json.load(sys.stdin); print('ended', end['status'], end['point'])\n"
HOOKS = {
    "pre_tool": [
        {"command": ["python", "hooks/guard.py"], "tools": ["run_command"]},
        {"command": ["python", "-c", "import time; time.sleep(30)"], "tools": ["list_files"], "timeout_s": 1},
        {"command": ["python", "-c", "raise SystemExit('boom')"], "tools": ["search"]},
    ],
    "post_tool": [{"command": ["python", "hooks/note.py"], "tools": ["read_file"]}],
    "pre_finish": [{"command": ["python", "hooks/finish.py"]}],
    "run_end": [{"command": ["python", "hooks/end.py"]}],
}


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def repo_with_hooks(tmp_path: Path) -> Path:
    tools: dict[str, Any] = CONTRACT["tools"]  # type: ignore[assignment]
    repo = make_repo(tmp_path / "repo", {**CONTRACT, "hooks": HOOKS, "tools": {**tools, "write_file": {"allow": True}}})
    for name, text in (("guard", GUARD), ("note", NOTE), ("finish", FINISH_GUARD), ("end", END)):
        (repo / "hooks").mkdir(exist_ok=True)
        (repo / "hooks" / f"{name}.py").write_text(text)
    git(["add", "hooks"], repo)
    git(["commit", "-qm", "hooks"], repo)
    return repo


def test_hooks_tighten_decisions_add_notes_guard_the_finish_and_are_journaled(tmp_path: Path) -> None:
    repo = repo_with_hooks(tmp_path)
    outcome = run(repo, [
        call("run_command", command="echo hello"),
        call("run_command", command="echo rm-everything"),
        call("run_command", command="echo ask-me"),
        call("run_command", command="echo allow-me"),
        call("run_command", command="ls"),  # the contract refuses it; a hook that would allow is not asked
        call("list_files", path="."),  # its hook hangs: refused
        call("search", pattern="average"),  # its hook crashes: refused
        call("read_file", path="calc.py"),
        call("write_file", path="hooks/guard.py", content="print('pass')\n"),  # a hook's file: protected
        {"tool_calls": [FIX]},
        call("finish", summary="done"),
        call("finish", summary="fixed average; the unittest tests pass"),
    ], contract=None)  # fmt: skip
    assert outcome.status == "accepted", outcome.reason
    results = [(r["tool"], r["is_error"], r["content"]) for r in tool_results(outcome)]
    assert results[0][:2] == ("run_command", False) and "hello" in results[0][2]
    assert results[1][1] and "refused by a hook" in results[1][2] and "no removals: echo rm-everything" in results[1][2]
    assert "hook hooks.pre_tool[0] python hooks/guard.py" in results[1][2]
    assert results[2][1] and "a person decides about echo ask-me" in results[2][2]  # asked; nobody: refused
    assert not results[3][1] and "allow-me" in results[3][2]
    assert results[4][1] and "tools.run_command" in results[4][2] and "hook" not in results[4][2]
    assert results[5][1] and "did not finish within 1s" in results[5][2]
    assert results[6][1] and "failed with exit status 1: boom" in results[6][2]
    assert not results[7][1] and results[7][2].endswith("[hooks.post_tool[0] python hooks/note.py: read calc.py; hook could write: no]")
    assert results[8][1] and "protected" in results[8][2]
    assert results[10][1] and results[10][2].startswith("finish refused by hooks.pre_finish[0] python hooks/finish.py: "
                                                         "say which tests you ran")  # fmt: skip
    assert not (repo / ".agentic").joinpath("worktrees").exists() or not list((repo / ".agentic" / "worktrees").glob("*/pwned.txt"))

    hook_runs = records(outcome, "hook.run")
    outcomes = [(h["point"], h["tool"], h["outcome"], h["exit_code"]) for h in hook_runs]
    assert outcomes == [
        ("pre_tool", "run_command", "pass", 0), ("pre_tool", "run_command", "deny", 2),
        ("pre_tool", "run_command", "ask", 0), ("pre_tool", "run_command", "pass", 0),
        ("pre_tool", "list_files", "failed", None), ("pre_tool", "search", "failed", 1),
        ("post_tool", "read_file", "note", 0), ("pre_finish", "finish", "deny", 2), ("pre_finish", "finish", "pass", 0),
        ("run_end", None, "pass", 0),
    ], outcomes  # fmt: skip
    assert hook_runs[3]["reason"] == "asked to allow: ignored, a hook only tightens"
    assert hook_runs[4]["timed_out"] is True
    assert hook_runs[-1]["stdout"] == "ended accepted run_end\n"
    decisions = {d["action"]: d for d in records(outcome, "policy.decision")}
    assert decisions["run: echo rm-everything"]["rule"] == "hook hooks.pre_tool[0] python hooks/guard.py"
    assert (decisions["run: echo ask-me"]["verdict"], decisions["run: echo ask-me"]["by"]) == ("deny", "no terminal")
    assert decisions["run: ls"]["verdict"] == "deny"  # never loosened
    assert decisions["run: echo rm-everything"]["by"] == "hook"

    # what a person reads: the audit's hooks section, and the transcript
    audited = audit_run(outcome.journal)["hooks"]
    assert [(h["point"], h["outcome"]) for h in audited] == [(p, o) for p, _, o, _ in outcomes]
    console = Console(file=io.StringIO(), width=300)
    lines = LineProgress(console)
    for record in read_records(outcome.journal):
        lines(record, payload(record, outcome.journal.parent))
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "   hook hooks.pre_tool[0] python hooks/guard.py: deny — no removals: echo rm-everything" in shown
    assert "   ✗ run_command echo rm-everything · refused by a hook: hook hooks.pre_tool[0] python hooks/guard.py" in shown
    assert "hook hooks.pre_tool[0] python hooks/guard.py: pass" not in shown  # passes only with --verbose


def test_a_hook_s_files_are_protected_and_a_bad_glob_is_named(tmp_path: Path) -> None:
    from agentic.errors import ConfigError
    from agentic.policy.contract import load_contract

    repo = repo_with_hooks(tmp_path)
    contract = load_contract("policies/contract.yaml", repo)
    assert {"hooks/guard.py", "hooks/note.py", "hooks/finish.py", "hooks/end.py"} <= set(contract.protected)
    doc = yaml.safe_load((repo / "policies" / "contract.yaml").read_text())
    doc["hooks"]["pre_tool"][0]["tools"] = ["run_command", "[bad"]
    (repo / "policies" / "contract.yaml").write_text(yaml.safe_dump(doc))
    try:
        load_contract("policies/contract.yaml", repo)
    except ConfigError as exc:
        assert "bad tool glob '[bad'" in str(exc) and exc.line is not None
    else:
        raise AssertionError("a bad glob was accepted")


def test_a_hook_cannot_loosen_an_ask_and_a_hook_that_writes_may_when_the_contract_says_so(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {**CONTRACT, "tools": {**CONTRACT["tools"], "delete_file": {"ask": True}},  # type: ignore[dict-item]
                                         "hooks": {"pre_tool": [
                                             {"command": ["python", "-c", "print('{\"decision\": \"allow\"}')"]},
                                             {"command": ["bash", "-c", "echo seen > hooked.txt"], "tools": ["read_file"],
                                              "write": True}]}})  # fmt: skip
    asked: list[str] = []

    def person(question: Any) -> Any:
        from agentic.policy.approval import Answer

        asked.append(question.action)
        return Answer(False)

    outcome = run(repo, [call("delete_file", path="calc.py"), call("read_file", path="calc.py"), {"tool_calls": [FIX]},
                         call("finish", summary="fixed")], approver=person)  # fmt: skip
    assert outcome.status == "accepted", outcome.reason
    assert asked == ["delete_file calc.py"]  # the hook's "allow" did not skip the person
    assert [h["outcome"] for h in records(outcome, "hook.run") if h["tool"] == "delete_file"] == ["pass"]
    results = tool_results(outcome)
    assert results[0]["is_error"] and "refused by the person" in results[0]["content"]
    assert ("A", "hooked.txt") in outcome.changes  # a hook with write: true changed the worktree


def test_git_still_works_in_the_run_s_sandbox_after_hooks_ran_beside_it(tmp_path: Path) -> None:
    """A hook's sandbox of the same worktree reuses the run's git view; rebuilding it under the run's
    own sandbox left that one bound to a deleted directory ("not a git repository")."""
    tools: dict[str, Any] = CONTRACT["tools"]  # type: ignore[assignment]
    repo = make_repo(tmp_path / "repo", {**CONTRACT, "tools": {**tools, "run_command": {"allow": ["git *"]}},
                                         "hooks": {"pre_tool": [{"command": ["git", "status", "--short"]}]}})  # fmt: skip
    outcome = run(repo, [call("run_command", command="git log --oneline -1"), {"tool_calls": [FIX]},
                         call("run_command", command="git status --short"), call("finish", summary="fixed")])  # fmt: skip
    assert outcome.status == "accepted", outcome.reason
    commands = [r for r in tool_results(outcome) if r["tool"] == "run_command"]
    assert [r["is_error"] for r in commands] == [False, False], commands
    assert "M calc.py" in commands[1]["content"]
    assert all(h["exit_code"] == 0 for h in records(outcome, "hook.run")), records(outcome, "hook.run")
