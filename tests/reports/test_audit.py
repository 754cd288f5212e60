"""Inspection without re-running: `agentic show` (the timeline), `agentic audit`, `agentic runs --status`."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import pytest

from agentic.journal.records import Journal, payload, read_records
from agentic.reports.audit import audit_run
from agentic.reports.summary import money, timeline, timeline_table, totals
from tests.conftest import FINISH, FIX, cli, make_repo, write_script

ENV_RULE = "tools.read_file.deny[0] '.env*'"


def turn(*calls: dict[str, Any], tokens: tuple[int, int] = (100, 10)) -> dict[str, Any]:
    cached = tokens[0] // 2  # half of every prompt from the provider's cache
    return {"tool_calls": list(calls),
            "usage": {"input_tokens": tokens[0], "output_tokens": tokens[1], "cached_input_tokens": cached}}  # fmt: skip


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


TURNS = [
    turn(call("read_file", path="calc.py"), call("read_file", path=".env"), tokens=(100, 10)),
    turn({"name": "read_file", "arguments": "{not json"}, tokens=(110, 11)),
    turn(call("run_tests"), tokens=(200, 20)),
    turn(call("run_command", command="echo hello"), call("run_command", command="rm -rf tests"), tokens=(300, 30)),
    turn(FIX, call("write_file", path="helper.py", content="X = 1\n"), tokens=(400, 40)),
    turn(call("run_tests"), tokens=(500, 50)),
    turn(FINISH, tokens=(600, 60)),
]
TOKENS = sum(t["usage"]["input_tokens"] + t["usage"]["output_tokens"] for t in TURNS)
CACHED = sum(t["usage"]["cached_input_tokens"] for t in TURNS)
TOOL_CALLS = sum(len(t["tool_calls"]) for t in TURNS)


def run(repo: Path, turns: list[dict[str, Any]], task: str = "fix the average") -> dict[str, Any]:
    script = write_script(repo.parent / "turns.yaml", turns)
    done = cli("run", task, "--model", f"script:{script}", "--json", cwd=repo)
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    summary: dict[str, Any] = json.loads(lines[-1])
    return summary


@pytest.fixture(scope="module")
def inspected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One accepted run that reads, is refused, runs tests and a command, writes, and passes the gate."""
    repo = make_repo(tmp_path_factory.mktemp("inspect") / "repo")
    summary = run(repo, TURNS)
    assert summary["status"] == "accepted", summary
    return repo, summary


def journaled(summary: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    path = Path(summary["journal"])
    return [(r, payload(r, path.parent)) for r in read_records(path)]


def show_json(repo: Path, run_id: str = "last") -> dict[str, Any]:
    done = cli("show", run_id, "--json", cwd=repo)
    assert done.returncode == 0, done.stderr
    shown: dict[str, Any] = json.loads(done.stdout)
    return shown


# -- show -------------------------------------------------------------------------------------


def test_show_merges_a_tool_call_into_one_row_with_its_decision_and_duration(inspected: Any) -> None:
    repo, summary = inspected
    shown = show_json(repo)
    rows = shown["timeline"]
    assert shown["run"]["id"] == summary["run_id"]
    kinds = [row["kind"] for row in rows]
    # a call's tool.call / policy.decision / tool.result, a model call's request / response and a
    # gate's checkpoint / verdict are one row each
    assert not {"policy.decision", "tool.result", "model.request", "checkpoint"} & set(kinds)
    assert kinds[0] == "run.start" and kinds[-1] == "run.end" and kinds.count("gate.verdict") == 1
    tools = [row for row in rows if row["kind"] == "tool.call"]
    assert len(tools) == TOOL_CALLS == shown["totals"]["tool_calls"]
    assert [row["tool"] for row in tools[:3]] == ["read_file", "read_file", "read_file"]
    # durations: from each record that opens the row to the one that closes it, same span or step
    records = journaled(summary)
    opened = {r["span"]: r["ts"] for r, _ in records if r["kind"] == "tool.call"}
    closed = {r["span"]: r["ts"] for r, _ in records if r["kind"] == "tool.result"}
    first_seq = {r["span"]: r["seq"] for r, _ in records if r["kind"] == "tool.call"}
    by_seq = {row["seq"]: row for row in rows}
    for span, seq in first_seq.items():
        assert by_seq[seq]["duration_s"] == pytest.approx(closed[span] - opened[span], abs=0.002)
    requests = {r["step"]: r["ts"] for r, _ in records if r["kind"] == "model.request"}
    responses = {r["step"]: r["ts"] for r, _ in records if r["kind"] == "model.response"}
    models = [row for row in rows if row["kind"] == "model.response"]
    assert [m["step"] for m in models] == list(range(1, len(TURNS) + 1))
    for m in models:
        assert m["duration_s"] == pytest.approx(responses[m["step"]] - requests[m["step"]], abs=0.002)
    checkpoint = next(r["ts"] for r, _ in records if r["kind"] == "checkpoint")
    verdict = next(r["ts"] for r, _ in records if r["kind"] == "gate.verdict")
    gate = next(row for row in rows if row["kind"] == "gate.verdict")
    assert gate["duration_s"] == pytest.approx(verdict - checkpoint, abs=0.002) and gate["duration_s"] > 0
    assert gate["detail"].startswith("passed") and not gate["error"]
    # time since the start, in order
    assert rows[0]["t"] == 0 and [row["t"] for row in rows] == sorted(row["t"] for row in rows)


def test_show_rows_carry_decisions_tokens_cost_and_errors(inspected: Any) -> None:
    repo, _ = inspected
    shown = show_json(repo)
    rows = shown["timeline"]
    tools = {row["detail"].split(" · ")[0].split(" → ")[0]: row for row in rows if row["kind"] == "tool.call"}
    allowed, refused = tools["read_file calc.py"], tools["read_file .env"]
    assert allowed["decision"] == {"verdict": "allow", "by": "contract", "rule": "tools.read_file.allow", "reason": ""}
    assert not allowed["error"] and allowed["tokens"] is None
    assert refused["decision"]["verdict"] == "deny" and refused["decision"]["rule"] == ENV_RULE
    assert refused["decision"]["by"] == "contract" and refused["error"] and "refused" in refused["detail"]
    invalid = tools["read_file (invalid arguments)"]
    assert invalid["error"] and invalid["decision"] is None and "not valid JSON" in invalid["detail"]
    denied = tools["run_command rm -rf tests"]
    assert denied["error"] and denied["decision"]["verdict"] == "deny" and denied["decision"]["rule"] == "tools.run_command"
    assert not tools["run_command echo hello"]["error"] and "→ exit 0" in tools["run_command echo hello"]["detail"]
    tests = [row for row in rows if row["tool"] == "run_tests"]
    assert ["→ exit 1" in t["detail"] for t in tests] == [True, False] and [t["error"] for t in tests] == [True, False]
    assert "→ exit 0" in tests[1]["detail"]
    # tokens per model call, as stated by the script; a scripted model costs nothing
    models = [row for row in rows if row["kind"] == "model.response"]
    assert [m["tokens"] for m in models] == [t["usage"]["input_tokens"] + t["usage"]["output_tokens"] for t in TURNS]
    assert all(m["cost_usd"] == 0.0 and m["tool"] is None for m in models)
    assert shown["totals"] == {"model_calls": len(TURNS), "tool_calls": TOOL_CALLS, "errors": 4, "tokens": TOKENS,
                               "cost_usd": 0.0, "cost_complete": True, "cached_tokens": CACHED}  # fmt: skip
    assert sum(row["error"] for row in rows) == 4  # .env, invalid JSON, failing tests, rm: nothing else


def test_show_human_table(inspected: Any) -> None:
    repo, summary = inspected
    done = cli("show", "last", cwd=repo)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    for needle in ("dur (s)", "decision", "tokens", "cost", f"deny (contract) {ENV_RULE}", "run_tests → exit 1",
                   "gate.verdict", "total", str(TOKENS), "$0.0000", f"{TOOL_CALLS} tool calls", summary["journal"]):  # fmt: skip
        assert needle in text, needle
    # errors are red in the table (the CLI's output here is not a terminal, so styles are not printed)
    rows = timeline(Path(summary["journal"]))
    table = timeline_table(rows, "t")
    styles = [r.style for r in table.rows]
    assert [s == "red" for s in styles[: len(rows)]] == [row["error"] for row in rows]
    assert styles[-1] == "bold" and table.row_count == len(rows) + 1  # the totals row


def test_show_one_step_in_full(inspected: Any) -> None:
    repo, summary = inspected
    tests = cli("show", "last", "--step", "3", cwd=repo)  # run_tests on the base: it fails
    assert tests.returncode == 0, tests.stderr
    lines = tests.stdout.splitlines()
    assert lines[0] == f"run {summary['run_id']} · step 3" and lines[1].startswith("model  220 tokens")
    assert "→ run_tests" in lines and "  allow (contract) tools.run_tests.allow" in lines
    assert "AssertionError" in tests.stdout and "[exit status 1]" in tests.stdout  # the whole output, unabridged
    refused = cli("show", "last", "--step", "4", cwd=repo).stdout
    assert "→ run_command rm -rf tests" in refused and "  deny (contract)" in refused
    gate = cli("show", "last", "--step", "7", cwd=repo).stdout
    assert "✓ tests-pass" in gate and "gate passed" in gate and "run accepted: the gate passed" in gate
    missing = cli("show", "last", "--step", "99", cwd=repo)
    assert missing.returncode == 2 and "has no step 99" in missing.stderr and "1 to 7" in missing.stderr


def test_show_in_a_narrow_terminal_loses_nothing(inspected: Any) -> None:
    repo, _ = inspected
    done = cli("show", "last", cwd=repo, env={"COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    assert all(len(line) <= 80 for line in done.stdout.splitlines())
    flat = " ".join(done.stdout.split())
    for needle in (f"deny (contract) {ENV_RULE}", "run_tests → exit 1", f"{TOOL_CALLS} tool calls", str(TOKENS)):
        assert needle in flat, needle


def test_timeline_and_audit_of_a_resumed_run_with_costs_and_unknown_kinds(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "r1", "r1")
    who = {"os_user": "ada", "host": "h1", "git_name": "Ada", "git_email": "ada@example.invalid", "argv": ["agentic", "run", "x"]}
    journal.append("run.start", {"task": "x", "model": "openai:m", "who": who, "settings": {"model": "openai:m"},
                                 "settings_origins": {"model": "flag --model"}}, sync=True)  # fmt: skip
    journal.append("model.request", {"messages": []}, step=1)
    journal.append("model.response", {"text": "", "tool_calls": [], "cost_usd": 0.0125,
                                      "usage": {"input_tokens": 1000, "output_tokens": 100}}, step=1)  # fmt: skip
    journal.append("model.request", {"messages": []}, step=2)  # the provider never answered
    budget = {"steps": 2, "tool_calls": 0, "usage": {"input_tokens": 1000, "output_tokens": 100}, "elapsed_s": 5.0}
    journal.append("run.end", {"status": "interrupted", "reason": "Ctrl-C", "commit": None, "budget": budget}, step=2)
    journal.append("run.resume", {"who": {**who, "os_user": "bob"}, "after_status": "interrupted"})
    journal.append("model.request", {"messages": []}, step=2)
    journal.append("model.response", {"text": "go", "tool_calls": [], "usage": {"input_tokens": 10, "output_tokens": 5}},
                   step=2)  # fmt: skip
    journal.append("sandbox.note", {"anything": 1}, step=2)  # a kind this harness does not know
    span = "s1"
    journal.append("tool.call", {"id": "c", "tool": "write_file", "arguments": '{"path": "a.py"}'}, step=2, span=span)
    journal.append("policy.decision", {"tool": "write_file", "action": "write_file a.py", "verdict": "allow",
                                       "rule": "approvals.files_changed_above 1", "by": "person"}, step=2, span=span)  # fmt: skip
    journal.append("tool.reconcile", {"outcome": "applied before the crash"}, step=2, span=span)
    journal.append("tool.result", {"id": "c", "tool": "write_file", "is_error": False, "content": "wrote a.py",
                                   "data": {"path": "a.py", "created": True, "bytes": 2}}, step=2, span=span)  # fmt: skip
    journal.close()
    rows = timeline(journal.path)
    kinds = [row["kind"] for row in rows]
    assert kinds == ["run.start", "model.response", "model.request", "run.end", "run.resume", "model.response",
                     "sandbox.note", "tool.call"]  # fmt: skip
    assert rows[2]["detail"] == "no response recorded" and "by bob@h1" in rows[4]["detail"]
    write = rows[-1]
    assert write["decision"]["by"] == "person" and "reconciled after a crash" in write["detail"]
    sums = totals(rows)
    assert sums["tokens"] == 1115 and sums["cost_usd"] == 0.0125 and not sums["cost_complete"]
    assert money(sums["cost_usd"], sums["cost_complete"]) == "≥$0.0125" and money(None) == "—"

    report = audit_run(journal.path)
    assert report["journal"]["ok"] and report["journal"]["records"] == 13
    assert [s["kind"] for s in report["sessions"]] == ["run.start", "run.resume"]
    assert report["who"]["os_user"] == "ada" and report["sessions"][1]["who"]["os_user"] == "bob"
    assert report["status"] == "running"  # the last session has no run.end: it crashed or still works
    assert report["totals"]["source"] == "records" and report["totals"]["tokens"] == 1115
    assert report["totals"]["cost_usd"] == 0.0125 and not report["totals"]["cost_complete"]
    assert report["other_records"] == {"sandbox.note": 1}
    assert report["files_written"] == [{"seq": 13, "step": 2, "tool": "write_file", "path": "a.py",
                                        "change": "created", "bytes": 2}]  # fmt: skip
    assert report["tool_calls"][0]["decision"]["by"] == "person"
    assert report["tool_calls"][0]["reconciled"] == "applied before the crash"
    # the final status is the last run.end's, once there is one after the last session started
    again = Journal(tmp_path / "r1", "r1")
    final = {**budget, "steps": 3, "usage": {"input_tokens": 1010, "output_tokens": 105}, "elapsed_s": 7.5}
    again.append("run.end", {"status": "accepted", "reason": "the gate passed", "commit": None, "budget": final}, step=2)
    again.close()
    report = audit_run(journal.path)
    assert report["status"] == "accepted" and [e["status"] for e in report["ends"]] == ["interrupted", "accepted"]
    assert report["totals"]["source"] == "run.end" and report["totals"]["elapsed_s"] == 7.5
    assert report["totals"]["steps"] == 3 and report["totals"]["tokens"] == 1115


# -- audit ------------------------------------------------------------------------------------


def test_audit_json_answers_who_what_and_how_it_ended(inspected: Any) -> None:
    repo, summary = inspected
    done = cli("audit", "last", "--json", cwd=repo)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["run"] == summary["run_id"]
    lines = Path(summary["journal"]).read_text().splitlines()
    anchor = report["journal"].pop("anchor")
    assert report["journal"] == {"path": summary["journal"], "ok": True, "records": len(lines), "problem": "",
                                 "first_bad_seq": None, "torn_tail": False}  # fmt: skip
    assert anchor["ok"] and anchor["anchored_seq"] == len(lines) and anchor["origin"] == "run"
    # who triggered it, with which model, settings and contract
    who = report["who"]
    assert who["os_user"] == getpass.getuser() and who["host"]
    assert (who["git_name"], who["git_email"]) == ("Test Person", "test@example.invalid")
    assert "run" in who["argv"] and "--model" in who["argv"]
    assert report["model"].startswith("script:") and report["settings"]["model"] == report["model"]
    assert report["settings_origins"]["model"].startswith("flag")
    assert report["contract"]["source"].endswith("contract.yaml") and report["contract"]["hash"].startswith("sha256:")
    assert report["harness"]["version"] and report["sandbox"] and report["unsafe_no_sandbox"] is False
    assert report["base_commit"] == summary["base_commit"] and len(report["sessions"]) == 1
    # every tool call with its decision and who made it
    calls = report["tool_calls"]
    assert len(calls) == TOOL_CALLS and all(c["decision"] for c in calls)
    assert [c["outcome"] for c in calls].count("refused") == 3
    # files, commands, refusals
    assert [(f["tool"], f["path"]) for f in report["files_read"]] == [("read_file", "calc.py")]
    assert [(f["path"], f["change"]) for f in report["files_written"]] == [("calc.py", "modified"),
                                                                          ("helper.py", "created")]  # fmt: skip
    assert [(c["tool"], c["command"], c["exit_code"], c["timed_out"]) for c in report["commands"]] == [
        ("run_tests", "python -m unittest discover -s tests -t .", 1, False), ("run_command", "echo hello", 0, False),
        ("run_tests", "python -m unittest discover -s tests -t .", 0, False),
    ]  # fmt: skip
    refusals = {r["action"]: r for r in report["refusals"]}
    assert set(refusals) == {"read_file .env", "read_file (invalid arguments)", "run: rm -rf tests"}
    assert (refusals["read_file .env"]["rule"], refusals["read_file .env"]["by"]) == (ENV_RULE, "contract")
    assert refusals["read_file (invalid arguments)"]["by"] == "harness"
    assert refusals["read_file (invalid arguments)"]["rule"] == "invalid-arguments"
    assert refusals["run: rm -rf tests"]["reason"] == "no rule of this tool matches this command"
    # the gate, the end and the totals
    assert [(g["passed"], g["failed"]) for g in report["gates"]] == [(True, [])]
    assert report["gates"][0]["changes"] == [["M", "calc.py"], ["A", "helper.py"]]
    assert report["commit"]["commit"] == summary["commit"]
    assert (report["status"], report["reason"]) == ("accepted", "the gate passed")
    totals_ = report["totals"]
    assert totals_["source"] == "run.end" and totals_["steps"] == len(TURNS) and totals_["tool_calls"] == TOOL_CALLS
    assert totals_["tokens"] == TOKENS == summary["tokens"]["total_tokens"]
    assert totals_["cost_usd"] == 0.0 and totals_["refusals"] == 3 and totals_["elapsed_s"] > 0
    assert report["other_records"] == {}


def test_audit_human_sections(inspected: Any) -> None:
    repo, summary = inspected
    done = cli("audit", summary["run_id"][:15], cwd=repo)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    for needle in (
        f"audit of run {summary['run_id']}: accepted", "journal intact", "who and what", "Test Person",
        "test@example.invalid", getpass.getuser(), "setting model", "sessions", "tool calls", ENV_RULE,
        "files read", "files written", "helper.py", "created", "commands", "echo hello",
        "python -m unittest discover", "refusals", "no rule of this tool matches", "invalid-arguments",
        "gate verdicts", "passed", "outcome", "accepted: the gate passed", f"{TOOL_CALLS} (3 refused)", str(TOKENS),
    ):  # fmt: skip
        assert needle in text, needle


def test_audit_reports_a_tampered_journal(repo: Path) -> None:
    summary = run(repo, [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    path = Path(summary["journal"])
    end_seq = json.loads(path.read_text().splitlines()[-1])["seq"]
    path.write_text(path.read_text().replace('"status":"accepted"', '"status":"rejected"'))
    done = cli("audit", "last", "--json", cwd=repo)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert not report["journal"]["ok"] and report["journal"]["first_bad_seq"] == end_seq
    assert "does not match its hash" in report["journal"]["problem"]
    assert report["status"] == "rejected"  # what the journal now says, flagged as untrustworthy above
    human = cli("audit", "last", cwd=repo)
    assert human.returncode == 1
    assert "journal tampered or corrupt" in human.stdout and f"first bad record {end_seq}" in human.stdout
    # a line that is no longer JSON and a blob gone: still an audit (of what can be read), never a traceback
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:4]) + "garbage\n" + "".join(lines[4:]))
    for blob in (path.parent / "blobs").iterdir():
        blob.unlink()
    done = cli("audit", "last", "--json", cwd=repo)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    assert "missing" in report["journal"]["problem"] and report["journal"]["first_bad_seq"] == 1
    assert report["status"] == "running" and report["who"] == {}
    shown = cli("show", "last", "--json", cwd=repo)
    assert shown.returncode == 0 and len(json.loads(shown.stdout)["timeline"]) >= 1


def test_show_and_audit_never_print_terminal_escapes_from_the_journal(repo: Path) -> None:
    summary = run(repo, [turn(call("read_file", path="\x1b[2Jcalc.py\u202e")), turn(FIX), turn(FINISH)],
                  task="fix \x1b]0;owned\x07 the \x1b[31maverage")  # fmt: skip
    journal = Path(summary["journal"]).read_text()
    assert "\\u001b" in journal  # the journal keeps what happened
    for args in (("show", "last"), ("audit", "last")):
        done = cli(*args, cwd=repo)
        assert done.returncode == 0, done.stderr
        assert "\x1b" not in done.stdout and "\u202e" not in done.stdout and "\x07" not in done.stdout
        assert "calc.py" in done.stdout


# -- runs --status ----------------------------------------------------------------------------


def test_runs_filters_by_status(repo: Path) -> None:
    accepted = run(repo, [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    rejected = run(repo, [{"tool_calls": [FINISH]}, {"tool_calls": [FINISH]}])
    assert (accepted["status"], rejected["status"]) == ("accepted", "rejected")

    def listed(*args: str) -> list[str]:
        done = cli("runs", "--json", *args, cwd=repo)
        assert done.returncode == 0, done.stderr
        return [json.loads(line)["id"] for line in done.stdout.splitlines()]

    assert listed() == [rejected["run_id"], accepted["run_id"]]  # newest first
    assert listed("--status", "accepted") == [accepted["run_id"]]
    assert listed("--status", "rejected") == [rejected["run_id"]]
    assert listed("--status", "failed") == []
    table = cli("runs", "--status", "rejected", cwd=repo).stdout
    assert rejected["run_id"] in table and accepted["run_id"] not in table
