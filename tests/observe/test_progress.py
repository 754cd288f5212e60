"""What a run shows while it works: the JSON event stream, plain lines, the live display (also under a
real pseudo-terminal), and that none of them can break a run or pass terminal escapes through."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from agentic.journal.records import payload, read_records
from agentic.observe.progress import JsonEvents, LineProgress, LiveProgress, Tee, for_output, pausing
from agentic.policy import engine as policy
from tests.conftest import CONTRACT, FINISH, FIX, cli, events_of, make_repo, summary_of, write_script

READ_ENV = {"tool_calls": [{"name": "read_file", "arguments": {"path": ".env"}}]}
TESTS = {"tool_calls": [{"name": "run_tests", "arguments": {}}]}
TURNS = [{"text": "look", **READ_ENV}, TESTS, {"tool_calls": [FIX]}, {"tool_calls": [FINISH]}]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
EVIL = "\x1b]0;evil\x07\x1b[2J"


def tokens_repo(tmp_path: Path) -> Path:
    limits = {**CONTRACT["limits"], "max_total_tokens": 100000}
    return make_repo(tmp_path / "repo", {**CONTRACT, "limits": limits})


def recorded(summary: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    path = Path(summary["journal"])
    return [(r, payload(r, path.parent)) for r in read_records(path)]


def terminal() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=100), buffer


def rendered(renderable: Any) -> str:
    console, buffer = terminal()
    console.print(renderable)
    return ANSI.sub("", buffer.getvalue())


def test_json_stream_of_a_scripted_run(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    script = write_script(tmp_path / "t.yaml", TURNS)
    done = cli("run", "fix the average", "--model", f"script:{script}", "--json", cwd=repo)
    assert done.returncode == 0, done.stderr
    events = events_of(done.stdout)  # every line is JSON
    kinds = [e["event"] for e in events]
    step = ["step", "decision", "tool"]
    assert kinds == ["start", *step * 4, "gate", "end", "summary"]
    start, summary = events[0], events[-1]
    assert start["task"] == "fix the average" and start["model"] == f"script:{script}"
    assert start["limits"]["max_steps"] == 12 and start["resumed"] is False
    assert summary == summary_of(done) and summary["status"] == "accepted" and summary["commit"]
    assert {"run_id", "status", "reason", "branch", "commit", "steps", "tool_calls", "tokens", "changed_files",
            "duration_s", "journal"} <= set(summary)  # fmt: skip
    assert all(e["run"] == summary["run_id"] for e in events[:-1])
    seqs = [e["seq"] for e in events[:-1]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    refused = events[2]
    assert refused["event"] == "decision" and refused["verdict"] == "deny" and refused["tool"] == "read_file"
    assert refused["rule"] == "tools.read_file.deny[0] '.env*'" and refused["by"] == "contract"
    assert events[3]["refused"] is True and events[3]["is_error"] is True
    first_step = events[1]
    assert first_step["tools"] == ["read_file"] and first_step["tokens"]["total_tokens"] > 0
    assert first_step["budget"]["steps"] == 1
    tests = events[6]
    assert tests["tool"] == "run_tests" and tests["exit_code"] == 1 and tests["duration_s"] is not None
    assert "run_tests" in tests["summary"] and "exit 1" in tests["summary"]
    assert events[-3] == {**events[-3], "event": "gate", "passed": True, "failed": []}
    assert events[-2]["status"] == "accepted" and events[-2]["commit"] == summary["commit"]
    assert "✗ read_file .env · refused by the contract" in done.stderr  # people reading stderr still see the run


def test_a_resumed_run_streams_a_resumed_start(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    script = write_script(tmp_path / "t.yaml", [{"tool_calls": [FIX]}])
    failed = cli("run", "fix", "--model", f"script:{script}", "--json", cwd=repo)
    assert failed.returncode == 4, failed.stderr
    write_script(script, [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    done = cli("resume", summary_of(failed)["run_id"], "--json", cwd=repo)
    assert done.returncode == 0, done.stderr
    events = events_of(done.stdout)
    assert events[0]["event"] == "start" and events[0]["resumed"] is True
    assert events[0]["after_status"] == "failed" and events[0]["task"] == "fix"
    assert events[0]["limits"]["max_steps"] == 12
    assert [e["event"] for e in events[-3:]] == ["gate", "end", "summary"]
    assert events[-1]["status"] == "accepted"


def test_plain_lines_when_stdout_is_not_a_terminal(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    script = write_script(tmp_path / "t.yaml", TURNS)
    done = cli("run", "fix", "--model", f"script:{script}", cwd=repo)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "\x1b" not in out and "\r" not in out
    assert "step 1 " in out and "look" in out
    assert "✗ read_file .env · refused by the contract: tools.read_file.deny[0] '.env*'" in out
    assert "✗ run_tests" in out and "→ exit 1" in out and "✓ edit_file calc.py" in out
    assert "gate ✓ tests-pass" in out and "gate passed (3 checks)" in out
    assert "accepted: the gate passed" in out and "journal:" in out


def test_line_progress_shows_retries_waits_trims_and_notifications() -> None:
    buffer = io.StringIO()
    lines = LineProgress(Console(file=buffer, width=200))
    base = {"run": "r1", "seq": 1, "ts": 1.0, "step": 2}
    lines({**base, "kind": "model.retry"}, {"retry": 1, "of": 4, "wait_s": 2.5, "error": "HTTP 503"})
    lines({**base, "kind": "model.wait"}, {"wait_s": 1.2, "rate": "openai: 500 requests per minute"})
    lines({**base, "kind": "context.trim"}, {"window": 8000, "elided": [3, 5], "before_tokens": 9000,
                                             "after_tokens": 6000})  # fmt: skip
    lines({**base, "kind": "notify"}, {"channel": "webhook", "target": "https://hooks.example", "outcome": "failed",
                                       "attempts": 3, "error": "HTTP 500"})  # fmt: skip
    text = buffer.getvalue()
    assert "retry 1/4 in 2.5s: HTTP 503" in text
    assert "waited 1.2s for room under openai: 500 requests per minute" in text
    assert "2 older messages elided for the 8000-token window (~9000 → ~6000 tokens)" in text
    assert "notify webhook https://hooks.example: failed after 3 attempt(s): HTTP 500" in text


def test_live_display_of_recorded_records(tmp_path: Path) -> None:
    repo = tokens_repo(tmp_path)
    script = write_script(tmp_path / "t.yaml", TURNS)
    done = cli("run", "fix", "--model", f"script:{script}", "--json", cwd=repo)
    assert done.returncode == 0, done.stderr
    records = recorded(summary_of(done))
    console, buffer = terminal()
    live = LiveProgress(console, refresh_per_second=20)
    calls = [i for i, (r, d) in enumerate(records) if r["kind"] == "tool.call" and d["tool"] == "run_tests"]
    with live:
        for record, data in records[: calls[0] + 1]:
            live(record, data)
        now = rendered(live.view())
        assert "step 2/12" in now and "tools 2/24" in now and "/100,000" in now
        assert "run_tests" in now and "s/120s" in now  # the tool running, elapsed against timeout_s
        assert "read_file" not in now  # the status area: the transcript is above it, in the scrollback
        assert "✗ read_file .env · refused by the contract" in ANSI.sub("", buffer.getvalue())
        for record, data in records[calls[0] + 1 :]:
            live(record, data)
    final = ANSI.sub("", buffer.getvalue())
    assert "accepted: the gate passed" in final and "gate passed" in final and "step 4/12" in final
    assert "model script:" in final


def test_live_display_never_raises_and_degrades_to_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    console, buffer = terminal()
    live = LiveProgress(console)
    odd: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"kind": "run.start", "run": "r"}, {"limits": "nonsense", "warnings": [None, 3]}),
        ({"kind": "model.response", "step": "x"}, {"budget": "nope", "usage": 5, "tool_calls": [None, "a"]}),
        ({"kind": "tool.call"}, {"arguments": None}),
        ({"kind": "tool.result", "span": None}, {"data": [1, 2], "is_error": True}),
        ({"kind": "gate.verdict"}, {"checks": ["bad", {"id": None}]}),
        ({}, {}),
        ({"kind": "run.end"}, {"budget": {"usage": "x"}}),
    ]
    with live:
        for record, data in odd:
            live(record, data)
        rendered(live.view())
    monkeypatch.setattr("agentic.observe.live.render", lambda state: 1 / 0)
    assert "display unavailable" in rendered(live.view())  # Live's refresh thread never sees an exception
    broken = LiveProgress(console)
    monkeypatch.setattr(LiveProgress, "_start", lambda self: 1 / 0)
    broken({"kind": "run.end", "run": "r"}, {"status": "rejected", "reason": "the gate failed"})
    assert "rejected: the gate failed" in ANSI.sub("", buffer.getvalue())  # fell back to a plain line
    broken({"kind": "model.retry"}, {"retry": 1, "of": 2, "wait_s": 1, "error": "e"})
    assert "retry 1/2" in buffer.getvalue()


def hostile_records() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    base = {"run": f"r{EVIL}", "ts": 1.0, "span": "s1"}
    return [
        ({**base, "seq": 1, "step": 0, "kind": "run.start"},
         {"model": f"m{EVIL}", "task": EVIL, "warnings": [EVIL], "contract": {"source": EVIL},
          "limits": {"max_steps": 3}}),
        ({**base, "seq": 2, "step": 1, "kind": "model.response"},
         {"text": f"hello {EVIL}", "usage": {"input_tokens": 1, "output_tokens": 1},
          "tool_calls": [{"name": f"read_file{EVIL}"}], "budget": {"steps": 1}}),
        ({**base, "seq": 3, "step": 1, "kind": "tool.call"},
         {"tool": f"read_file{EVIL}", "arguments": json.dumps({"path": f"a{EVIL}.py"})}),
        ({**base, "seq": 4, "step": 1, "kind": "policy.decision"},
         {"tool": EVIL, "action": f"read {EVIL}", "verdict": "deny", "rule": EVIL, "reason": EVIL}),
        ({**base, "seq": 5, "step": 1, "kind": "tool.result"},
         {"tool": f"read_file{EVIL}", "is_error": True, "content": EVIL, "data": {"path": EVIL}}),
        ({**base, "seq": 6, "step": 1, "kind": "gate.verdict"},
         {"passed": False, "checks": [{"id": EVIL, "passed": False, "detail": EVIL}]}),
        ({**base, "seq": 7, "step": 1, "kind": "model.retry"}, {"error": EVIL, "retry": 1, "of": 2}),
        ({**base, "seq": 8, "step": 1, "kind": "notify"}, {"channel": EVIL, "target": EVIL, "outcome": EVIL}),
        ({**base, "seq": 9, "step": 1, "kind": "run.end"}, {"status": EVIL, "reason": EVIL}),
    ]  # fmt: skip


def test_hostile_text_never_reaches_the_terminal_raw() -> None:
    live_console, live_out = terminal()
    line_console, line_out = terminal()
    stream = io.StringIO()
    listeners = Tee(LiveProgress(live_console), LineProgress(line_console), JsonEvents(stream))
    with listeners:
        for record, data in hostile_records():
            listeners(record, data)
    for text in (live_out.getvalue(), line_out.getvalue(), stream.getvalue()):
        assert "\x1b]0;evil" not in text and "\x1b[2J" not in text and "\x07" not in text
    assert "hello" in line_out.getvalue() and "hello" not in stream.getvalue()  # the stream keeps no model text
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["event"] for e in events] == ["start", "step", "decision", "tool", "gate", "retry", "notify", "end"]
    assert events[0]["task"] == EVIL  # machines get the data as recorded, JSON-escaped
    assert stream.getvalue().isascii()


def test_model_text_is_never_read_as_markup() -> None:
    buffer = io.StringIO()
    lines = LineProgress(Console(file=buffer, width=200))
    lines({"kind": "run.start", "run": "r", "step": 0}, {"model": "[bold]m[/]", "contract": {"source": "c"}})
    lines({"kind": "model.response", "run": "r", "step": 1}, {"text": "done [/bold] [red]x", "usage": {}})
    assert "model [bold]m[/]" in buffer.getvalue() and "done [/bold] [red]x" in buffer.getvalue()


def test_event_stream_outlives_its_reader() -> None:
    class Closed(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    events = JsonEvents(Closed())
    for record, data in hostile_records():
        events(record, data)
    assert events.broken


def test_for_output_chooses_by_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    piped = Console(file=io.StringIO())
    tty = Console(file=io.StringIO(), force_terminal=True)
    assert isinstance(for_output(False, piped), LineProgress)
    assert isinstance(for_output(False, tty), LiveProgress)
    both = for_output(True, tty)
    assert isinstance(both, Tee) and [type(x) for x in both.listeners] == [JsonEvents, LiveProgress]
    assert both.listeners[1].redirect_stdout is False  # stdout carries the events
    monkeypatch.setenv("TERM", "dumb")
    assert isinstance(for_output(False, Console(file=io.StringIO(), force_terminal=True)), LineProgress)


def test_the_display_holds_still_while_the_person_is_asked() -> None:
    console, _ = terminal()
    live = LiveProgress(console)
    assert pausing(policy.deny_all, live) is policy.deny_all  # "no terminal" stays recognisable
    seen: list[bool] = []

    def approver(question: policy.Question) -> policy.Answer:
        seen.append(live._live is None)
        return policy.Answer(True)

    with live:
        live({"kind": "run.start", "run": "r"}, {"model": "m"})
        assert live._live is not None
        assert pausing(approver, live)(policy.Question("delete_file", "delete_file old.py", "r")).allow
        assert live._live is not None  # drawn again after the answer
    assert seen == [True] and live._live is None


def test_agentic_run_under_a_pseudo_terminal_shows_the_live_display(tmp_path: Path) -> None:
    repo = tokens_repo(tmp_path)
    script = write_script(tmp_path / "t.yaml", TURNS)
    started = time.monotonic()
    pid, fd = pty.fork()
    if pid == 0:  # child: the CLI with a terminal on stdin, stdout and stderr
        os.chdir(repo)
        os.environ.update(TERM="xterm", COLUMNS="100", LINES="40")
        os.environ.pop("NO_COLOR", None)
        os.execv(sys.executable, [sys.executable, "-m", "agentic", "run", "fix", "--model", f"script:{script}"])
    output = b""
    while time.monotonic() - started < 30:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child is gone
                break
            if not chunk:
                break
            output += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert time.monotonic() - started < 10
    text = output.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "\x1b[?25l" in text and "\x1b[?25h" in text  # a live display: cursor hidden, then shown again
    plain = ANSI.sub("", text)
    assert "agentic run " in plain and "step 4/12" in plain and "/100,000" in plain
    assert "accepted: the gate passed" in plain and "journal:" in plain


def test_eval_progress_lines_and_the_live_bar_at_a_terminal() -> None:
    from types import SimpleNamespace

    from agentic.observe.progress import EvalProgress

    def result(verdict: str, scenario: str, reason: str = "") -> Any:
        return SimpleNamespace(attempt=SimpleNamespace(verdict=verdict, scenario=scenario, attempt=1, status="accepted",
                                                       steps=3, duration_s=0.5, reason=reason))  # fmt: skip

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    with EvalProgress(console, 3) as progress:
        progress(result("pass", "fix-average"))
        progress(result("fail", "tests-not-edited", "check tests_pass failed\x1b[2J"))
        progress(result("error", "fix-slugify"))
    shown = buffer.getvalue()
    assert "fix-average #1" in shown and "tests-not-edited #1" in shown and "fix-slugify #1" in shown
    assert "3/3 attempts" in shown and "1 pass" in shown and "1 fail" in shown and "1 error" in shown
    assert "\x1b[2J" not in shown  # untrusted text is cleaned


def test_a_failed_check_shows_why_not_the_progress_dots() -> None:
    from agentic.observe.lines import failure_part

    pytest_out = "$ python -m pytest -q\n" + "." * 70 + " [ 50%]\n" + "." * 70 + "F [100%]\n" + \
        "=================================== FAILURES ===================================\n" + \
        "___ TTLCacheTest.test_ttl_deepcopy_timer ___\n    assert copied.timer() == 0\nE   TypeError: x\n"  # fmt: skip
    assert failure_part(pytest_out).splitlines()[:3] == ["$ python -m pytest -q", "…", "=" * 35 + " FAILURES " + "=" * 35]
    unittest_out = "$ python -m unittest\n.F\n" + "=" * 70 + "\nFAIL: test_average (tests.test_calc.T)\n" + "-" * 70 + "\n"
    assert failure_part(unittest_out).splitlines()[2] == "FAIL: test_average (tests.test_calc.T)"
    assert failure_part("no protected path changed") == "no protected path changed"
    buffer = io.StringIO()
    LineProgress(Console(file=buffer, width=200))(
        {"kind": "gate.verdict", "run": "r", "seq": 1, "ts": 1.0, "step": 3},
        {"passed": False, "checks": [{"id": "tests-pass", "passed": False, "detail": pytest_out}]})
    shown = buffer.getvalue()
    assert "E   TypeError: x" in shown and "[ 50%]" not in shown, shown
