"""Terminal output is inert (issue 14, point 8; docs/security.md, "terminal").

Model text, paths, tool output and journal fields reach the terminal through `report.inert()` only.
Each attack string below is put everywhere a run can put text (task, tool arguments and results,
rules, reasons, statuses, run ids, error messages) and every view is rendered to a real terminal
console: no escape sequence but rich's own colours, no carriage return, no invisible character, no
hyperlink, and markup printed as it is, never crashing.
"""

from __future__ import annotations

import io
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from agentic.journal.records import Journal
from agentic.reports.summary import INVISIBLE, clean, inert, timeline, timeline_lines, timeline_table

ATTACKS = {
    "osc8 hyperlink (ST)": "\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\",
    "osc8 hyperlink (BEL)": "\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07",
    "window title": "\x1b]0;pwned\x07",
    "clipboard write": "\x1b]52;c;cm0gLXJmIH4=\x07",
    "cursor up and erase": "ok\x1b[1A\x1b[2K✓ approved",
    "clear screen": "\x1b[2J\x1b[H",
    "8-bit CSI": "\x9b2J\x9b1A",
    "8-bit OSC": "\x9d8;;https://evil.example/\x9c",
    "DCS string": "\x1bPq#0;2;0;0;0\x1b\\",
    "carriage return overwrite": "rm -rf / \r echo harmless",
    "backspaces": "rm -rf ~\b\b\b\b\b\b\b\becho hi",
    "bidi override": "safe\u202etxt.exe",
    "bidi isolate": "\u2067evil\u2069",
    "zero width": "pass\u200bword\u200d\u2060",
    "soft hyphen and BOM": "hid\u00adden\ufeff",
    "tag characters": "visible\U000e0069\U000e0067\U000e006e\U000e006f\U000e0072\U000e0065",
    "line separator": "one\u2028two\u2029",
    "hangul filler": "a\u3164b",
    "variation selectors": "x\ufe0f\U000e0100",
    "rich link markup": "[link=https://evil.example]click[/link]",
    "rich stray close": "[/]",
    "rich close tag": "[/bold] [/red]",
    "rich open style": "[bold red on white]LOUD",
    "rich emoji": ":warning: :skull:",
    "rich escape trick": "\\[bold]x\\\\[/]",
}

CSI_NOT_SGR = re.compile(r"\x1b\[[0-?]*[ -/]*[@-ln-~]")


def _check_output(raw: str) -> None:
    assert "\x1b]" not in raw and "\x1bP" not in raw, repr(raw[:300])
    assert not CSI_NOT_SGR.search(raw), repr(CSI_NOT_SGR.search(raw))
    assert "\r" not in raw and "\b" not in raw
    assert not any(c in raw for c in "\x9b\x9d\x9c\x90")
    assert INVISIBLE.sub("", raw.replace("\x1b", "")) == raw.replace("\x1b", ""), "an invisible character"


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, color_system="truecolor", width=220, highlight=False), buffer


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_clean_and_inert_neutralise(attack: str) -> None:
    text = ATTACKS[attack]
    console, buffer = _console()
    console.print(inert(text))
    console.print(inert(text, limit=8, style="red"))
    _check_output(buffer.getvalue())
    if attack.startswith("rich"):
        assert clean(text) in buffer.getvalue()  # markup shown as it is


def test_no_control_or_invisible_code_point_survives_clean() -> None:
    bad = [chr(c) for c in range(sys.maxunicode + 1)
           if unicodedata.category(chr(c)) in ("Cc", "Cf", "Zl", "Zp") and chr(c) not in "\n\t"]  # fmt: skip
    assert clean("".join(bad)) == ""


def _hostile_journal(tmp_path: Path) -> Path:
    everything = " ".join(ATTACKS.values())
    journal = Journal(tmp_path / "runs" / "r", "r[/]")
    journal.append("run.start", {"task": everything, "model": everything, "who": {"os_user": everything, "host": "[/]"},
                                 "contract": {"source": everything}, "settings": {everything: everything}})  # fmt: skip
    journal.append("model.response", {"text": everything, "tool_calls": [{"name": everything}],
                                      "usage": {"input_tokens": 1}}, step=1)  # fmt: skip
    journal.append("tool.call", {"tool": "run_command", "arguments": '{"command": ' + repr(everything).replace("'", '"') + "}"},
                   step=1, span="s1")  # fmt: skip
    journal.append("policy.decision", {"verdict": "deny", "rule": everything, "reason": everything, "by": "[/]",
                                       "action": everything, "tool": "run_command"}, step=1, span="s1")  # fmt: skip
    journal.append("tool.result", {"tool": "run_command", "content": everything, "is_error": True}, step=1, span="s1")
    journal.append("tool.call", {"tool": "write_file", "arguments": '{"path": "[link=x]a[/link]\\u202e.py"}'}, step=1,
                   span="s2")  # fmt: skip
    journal.append("tool.result", {"tool": "write_file", "content": everything, "data": {"path": everything}}, step=1,
                   span="s2")  # fmt: skip
    journal.append("checkpoint", {"tree": everything, "changes": [["A", everything]]}, step=1)
    journal.append("gate.verdict", {"passed": False, "checks": [{"id": everything, "passed": False, "output": everything}]},
                   step=1)  # fmt: skip
    journal.append("run.end", {"status": everything, "reason": everything, "budget": {"steps": 1}}, step=1)
    journal.append(everything, {}, step=1)  # a kind nobody knows
    journal.close()
    return journal.path


def test_show_renders_a_hostile_journal_inertly(tmp_path: Path) -> None:
    path = _hostile_journal(tmp_path)
    rows = timeline(path)
    for render in (timeline_table(rows, "run [/] · " + ATTACKS["osc8 hyperlink (ST)"]), timeline_lines(rows, "[/]")):
        console, buffer = _console()
        console.print(render)
        _check_output(buffer.getvalue())
        assert "[link=https://evil.example]click[/link]" in buffer.getvalue()


def test_audit_renders_a_hostile_journal_inertly(tmp_path: Path) -> None:
    from agentic.reports.audit import audit_run, render

    report = audit_run(_hostile_journal(tmp_path), {"ok": False, "problem": ATTACKS["rich stray close"],
                                                   "anchored_seq": 1, "hmac": "bad", "origin": "run"})  # fmt: skip
    report["ends"].insert(0, {"status": "[/]" + ATTACKS["cursor up and erase"]})
    console, buffer = _console()
    render(report, console)
    _check_output(buffer.getvalue())
    assert "[/]" in buffer.getvalue()


def test_the_live_display_and_plain_progress_are_inert(tmp_path: Path) -> None:
    from agentic.journal.records import payload, read_records
    from agentic.observe import progress

    path = _hostile_journal(tmp_path)
    records = [(r, payload(r, path.parent)) for r in read_records(path)]
    console, buffer = _console()
    lines = progress.LineProgress(console)
    state = progress.RunState()
    for record, data in records:
        lines(record, data)
        state.add(record, data)
    console.print(progress.render(state))
    _check_output(buffer.getvalue())
    assert "[link=https://evil.example]click[/link]" in buffer.getvalue()


def test_the_approval_prompt_is_inert(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.prompt import Prompt

    from agentic.cli import approve
    from agentic.policy.approval import Question
    from agentic.policy.decision import Part

    console, buffer = _console()
    monkeypatch.setattr(approve, "err", lambda: console)
    monkeypatch.setattr(Prompt, "ask", staticmethod(lambda *a, **k: "n"))
    attacks = "\n".join(ATTACKS.values())
    action = attacks + "\n✓ approved by the contract"
    question = Question("run_command[/]", action, "tools.run_command.ask[0] '[b]rm*'", reason=attacks, step=2,
                        said=attacks + "\n✓ approved by the contract", detail="+" + attacks,
                        parts=(Part("command", attacks, "ask", "tools.run_command.ask[0] '[b]rm*'"),
                               Part("command", "[red]ls", "allow", "tools.run_command.allow[0]")))
    assert approve.terminal_approver(question).allow is False
    raw = buffer.getvalue()
    _check_output(raw)
    assert "[link=https://evil.example]click[/link]" in raw
    assert "│ ✓ approved by the contract" in raw  # a line of the script or of the model's text, marked as such
    assert "[red]ls" in raw and "'[b]rm*'" in raw
    plain = re.sub(r"\x1b\[[0-9;]*m", "", raw)
    assert all(line.startswith(("  │ ", "  ask ", "  allow ", "action: ", "rule: ", "the model said:", "each part", "[y]", "─"))
               for line in plain.splitlines() if line), plain  # every line of untrusted text is marked or inline


def test_error_messages_are_inert(monkeypatch: pytest.MonkeyPatch) -> None:
    from agentic.cli import main
    from agentic.errors import UsageError

    console, buffer = _console()
    monkeypatch.setattr(main, "err", lambda: console)
    main.render_error(UsageError("no run " + " ".join(ATTACKS.values()), hint="[/] " + ATTACKS["osc8 hyperlink (BEL)"]))
    _check_output(buffer.getvalue())
    assert "[/]" in buffer.getvalue()


def test_the_real_cli_with_a_hostile_run(tmp_path: Path) -> None:
    """End to end: a scripted model whose text, paths and commands carry the attacks; `run`, `show`,
    `audit` and `runs` print them inertly (a terminal is forced so rich writes its colours)."""
    from tests.conftest import cli, make_repo, write_script

    repo = make_repo(tmp_path / "repo")
    evil = " ".join(v for k, v in ATTACKS.items() if "\x00" not in v)
    turns: list[dict[str, Any]] = [
        {"text": evil, "tool_calls": [{"name": "read_file", "arguments": {"path": evil}}]},
        {"tool_calls": [{"name": "run_command", "arguments": {"command": "echo " + repr(evil)}}]},
        {"tool_calls": [{"name": "finish", "arguments": {"summary": evil}}]},
    ]
    script = write_script(tmp_path / "t.yaml", turns)
    ran = cli("run", evil, "--model", f"script:{script}", cwd=repo)  # line progress (no live display: not a tty)
    assert "Traceback" not in ran.stderr, ran.stderr
    _check_output(ran.stdout)
    _check_output(ran.stderr)
    env = {"NO_COLOR": "", "FORCE_COLOR": "1", "TTY_COMPATIBLE": "1", "COLUMNS": "200"}
    for args in (["show", "last"], ["audit", "last"], ["runs"], ["journal", "verify", "last"], ["show", evil]):
        done = cli(*args, cwd=repo, env=env)
        assert "Traceback" not in done.stderr, done.stderr
        _check_output(done.stdout)
        _check_output(done.stderr)
