"""`agentic run` at a real terminal, driven through tmux as a person would: the transcript left in the
scrollback with the live status area under it, and an approval answered yes, no with a message to
the model, and always for this run."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentic.git.cmd import git
from tests.conftest import CONTRACT, FINISH, FIX, make_repo, write_script

pytestmark = [pytest.mark.proof, pytest.mark.skipif(shutil.which("tmux") is None and not os.environ.get("AGENTIC_REQUIRE_TMUX"),
                                reason="tmux is not installed (.ci/run installs it, and requires it)")]


class Terminal:
    """A tmux session of its own (private server), WIDTH x HEIGHT, running bash."""

    def __init__(self, cwd: Path, width: int = 100, height: int = 30) -> None:
        self.socket = f"agentic-test-{uuid.uuid4().hex[:8]}"
        self.tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), "-c", str(cwd),
                  "bash --norc --noprofile")  # fmt: skip
        self.tmux("set-option", "-g", "history-limit", "10000")

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True, capture_output=True, text=True).stdout

    def type(self, text: str, enter: bool = True) -> None:
        self.tmux("send-keys", "-t", "t", "-l", text)
        if enter:
            self.tmux("send-keys", "-t", "t", "Enter")

    def screen(self) -> str:
        """What the terminal shows now."""
        return self.tmux("capture-pane", "-p", "-t", "t")

    def scrollback(self) -> str:
        """Everything the terminal has shown, scrollback included."""
        return self.tmux("capture-pane", "-p", "-t", "t", "-S", "-", "-E", "-")

    def wait(self, found: Callable[[str], bool], what: str, timeout_s: float = 60) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if found(text := self.screen()):
                return text
            time.sleep(0.1)
        raise AssertionError(f"the terminal never showed {what}:\n{self.scrollback()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Callable[[Path], Terminal]]:
    opened: list[Terminal] = []

    def open_at(cwd: Path) -> Terminal:
        opened.append(Terminal(cwd))
        return opened[-1]

    yield open_at
    for t in opened:
        t.close()


def agentic(script: Path, *args: str) -> str:
    """The command line a person types, ending with a marker to wait for."""
    argv = [sys.executable, "-m", "agentic", "run", "fix the average", "--model", f"script:{script}", *args]
    return f"{shlex.join(argv)}; echo \"== exit $? ==\""


def contract_with(repo: Path, **tools: Any) -> None:
    rules: dict[str, Any] = CONTRACT["tools"]  # type: ignore[assignment]
    (repo / "policies" / "contract.yaml").write_text(yaml.safe_dump({**CONTRACT, "tools": {**rules, **tools}}))
    git(["commit", "-qam", "contract"], repo)


def test_the_transcript_stays_in_the_scrollback_under_a_live_status_area(tmp_path: Path, terminal: Any) -> None:
    repo = make_repo(tmp_path / "repo")
    contract_with(repo, run_command={"allow": ["sleep *", "python -m unittest *"], "timeout_s": 30})
    script = write_script(tmp_path / "t.yaml", [
        {"text": "Let me look at the code first.", "tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]},
        {"text": "The tests, slowly.", "tool_calls": [{"name": "run_command", "arguments": {"command": "sleep 3"}}]},
        {"text": "It divides by n - 1.\nA mean divides by n.", "tool_calls": [FIX]},
        {"text": "Done.", "tool_calls": [FINISH]},
    ])  # fmt: skip
    t = terminal(repo)
    t.type(agentic(script))
    during = t.wait(lambda s: "run_command sleep 3" in s and "step 2/12" in s, "the status area during the sleep")
    status = during.rstrip("\n").splitlines()[-3:]  # the status area is at the bottom, under the transcript
    assert status[0].startswith("agentic run ") and "step 2/12 · tools 2/24" in status[1], during
    assert "s/120s" in status[1] and "run_command sleep 3" in status[2], during
    assert "✓ read_file calc.py  [allow: tools.read_file.allow]" in during  # the transcript, above it
    t.wait(lambda s: "== exit 0 ==" in s, "the run's end")
    text = t.scrollback()
    lines = [line.rstrip() for line in text.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("run 2"))
    step = next(i for i, line in enumerate(lines) if line.startswith("step 1 · "))
    assert lines[step + 1 : step + 3] == ["   Let me look at the code first.",
                                          "   ✓ read_file calc.py  [allow: tools.read_file.allow]"], text  # fmt: skip
    assert "   ✓ run_command sleep 3 → exit 0  [allow: tools.run_command.allow[0] 'sleep *']" in lines
    assert lines[lines.index("   It divides by n - 1."):][:2] == ["   It divides by n - 1.", "   A mean divides by n."]
    assert "   ✓ edit_file calc.py → -1 +1 lines at line 4  [allow: tools.edit_file.allow[0] '*.py']" in lines
    assert "   gate passed (3 checks)" in lines and "accepted: the gate passed" in lines
    run_id = lines[start].split()[1]
    assert len(run_id) == len("20261205-074142-31beae") and f"run {run_id}: accepted in 4 steps" in text


def test_an_approval_at_the_terminal_yes_no_with_a_message_and_always(tmp_path: Path, terminal: Any) -> None:
    repo = make_repo(tmp_path / "repo")
    for name in ("old.py", "older.py"):
        (repo / name).write_text("x = 1\n")
    git(["add", "."], repo)
    git(["commit", "-qm", "old files"], repo)
    contract_with(repo, edit_file={"ask": ["*.py"]})
    rename = {"name": "edit_file", "arguments": {"path": "calc.py", "old_text": "def average", "new_text": "def mean"}}
    back = {"name": "edit_file", "arguments": {"path": "calc.py", "old_text": "def mean", "new_text": "def average"}}
    script = write_script(tmp_path / "t.yaml", [
        {"text": "old.py is not used anywhere.", "tool_calls": [{"name": "delete_file", "arguments": {"path": "old.py"}}]},
        {"text": "Then the fix.", "tool_calls": [FIX]},
        {"text": "A better name.", "tool_calls": [rename]},
        {"text": "On second thought, the old name.", "tool_calls": [back]},
        {"text": "older.py is unused too.", "tool_calls": [{"name": "delete_file", "arguments": {"path": "older.py"}}]},
        {"text": "Done.", "tool_calls": [FINISH]},
    ])  # fmt: skip
    t = terminal(repo)
    t.type(agentic(script))
    asked = t.wait(lambda s: "Allow this action?" in s, "the first question")
    for shown in ("approval needed · step 1", "the model said:", "│ old.py is not used anywhere.",
                  "action: delete_file → delete_file old.py", "│ --- a/old.py", "│ +++ /dev/null", "│ -x = 1",
                  "rule: tools.delete_file.ask — the contract asks a person before delete_file acts here",
                  "[y] yes · [n] no · [m] no, with a message to the model · [a] always for this run"):  # fmt: skip
        assert shown in asked, asked
    t.type("m")
    t.wait(lambda s: "Message to the model" in s, "the message prompt")
    t.type("old.py is still imported by the docs build; keep it")
    asked = t.wait(lambda s: "approval needed · step 2" in s and s.rstrip().endswith("(n):"), "the second question")
    assert "│ -    return sum(values) / (len(values) - 1)" in asked and "│ +    return sum(values) / len(values)" in asked
    assert "rule: tools.edit_file.ask[0] '*.py'" in asked
    t.type("a")  # the later edits of *.py are not asked
    t.wait(lambda s: "approval needed · step 5" in s and s.rstrip().endswith("(n):"), "the last question")
    t.type("y")
    t.wait(lambda s: "== exit 0 ==" in s, "the run's end")
    text = t.scrollback()
    assert "approval needed · step 3" not in text and "approval needed · step 4" not in text
    assert "✗ delete_file old.py · refused by the person: tools.delete_file.ask" in text
    assert "✓ edit_file calc.py → -1 +1 lines at line 4  [allow by person: tools.edit_file.ask[0] '*.py']" in text

    journal = next((repo / ".agentic" / "runs").glob("*/journal.jsonl"))
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    decisions = [r["data"] for r in records if r["kind"] == "policy.decision" and r["data"]["tool"] != "finish"]
    assert [(d["tool"], d["verdict"], d["by"], d["answer"]) for d in decisions] == [
        ("delete_file", "deny", "person", "no with a message"), ("edit_file", "allow", "person", "always"),
        ("edit_file", "allow", "person", "always"), ("edit_file", "allow", "person", "always"),
        ("delete_file", "allow", "person", "yes")]  # fmt: skip
    assert decisions[0]["message"] == "old.py is still imported by the docs build; keep it"
    assert decisions[1]["always"] == ["tools.edit_file.ask[0] '*.py'"] and "always" not in decisions[2]
    told = next(r["data"]["content"] for r in records if r["kind"] == "tool.result")
    assert "The person said: old.py is still imported by the docs build; keep it" in told
    branch = git(["branch", "--list", "agentic/*", "--format=%(refname:short)"], repo).strip()
    assert git(["ls-tree", "--name-only", branch], repo).split().count("old.py") == 1  # kept, as the person said
    assert "older.py" not in git(["ls-tree", "--name-only", branch], repo).split()
