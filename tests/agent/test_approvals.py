"""Approvals: what a person is asked (the step, the model's words, the exact change, each command, the
rule) and the four answers (yes, no, no with a message to the model, always for this run), each
journaled as who decided what. Driven in process; the terminal's prompt is tests/cli/test_tmux.py's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentic.policy.approval import Answer, Question
from tests.conftest import CONTRACT, FINISH, FIX, make_repo
from tests.inproc import records, run, tool_results

TOOLS: dict[str, Any] = CONTRACT["tools"]  # type: ignore[assignment]
ASKING = {**CONTRACT, "tools": {**TOOLS, "edit_file": {"ask": ["*.py"]}, "write_file": {"ask": ["*.py"]},
                                "run_command": {"allow": ["echo *", "ls *", "ls"], "ask": ["rm *"]}}}  # fmt: skip
SECOND = {"name": "write_file", "arguments": {"path": "notes.py", "content": "NOTE = 1\nOTHER = 2\n"}}


class Person:
    """Answers from a list, and keeps every question."""

    def __init__(self, *answers: Answer) -> None:
        self.answers, self.asked = list(answers), []  # type: list[Answer], list[Question]

    def __call__(self, question: Question) -> Answer:
        self.asked.append(question)
        return self.answers.pop(0)


def said(text: str, *calls: dict[str, Any]) -> dict[str, Any]:
    return {"text": text, "tool_calls": list(calls)}


def decisions(outcome: Any) -> list[dict[str, Any]]:
    return [d for d in records(outcome, "policy.decision") if d["tool"] != "finish"]


def test_the_question_shows_the_step_the_models_words_the_diff_and_the_rule(tmp_path: Path) -> None:
    person = Person(Answer(True), Answer(True))
    outcome = run(make_repo(tmp_path / "r", ASKING), [
        said("The mean divides by n - 1; it should divide by n.", FIX),
        said("And a note.", SECOND), {"tool_calls": [FINISH]},
    ], approver=person)  # fmt: skip
    assert outcome.status == "accepted", outcome.reason
    edit, new = person.asked
    assert (edit.step, edit.tool, edit.action, edit.rule) == (1, "edit_file", "edit_file calc.py", "tools.edit_file.ask[0] '*.py'")
    assert edit.said == "The mean divides by n - 1; it should divide by n."
    assert edit.reason == "the contract asks a person before edit_file acts here"
    assert "--- a/calc.py\n+++ b/calc.py" in edit.detail
    assert "-    return sum(values) / (len(values) - 1)\n+    return sum(values) / len(values)" in edit.detail
    assert new.step == 2 and new.detail == "new file notes.py (2 lines):\nNOTE = 1\nOTHER = 2"
    assert [(d["verdict"], d["by"], d["answer"]) for d in decisions(outcome)] == [("allow", "person", "yes")] * 2


def test_no_with_a_message_reaches_the_model_and_the_journal(tmp_path: Path) -> None:
    person = Person(Answer(False, message="divide by len(values), and keep the docstring"), Answer(True))
    outcome = run(make_repo(tmp_path / "r", ASKING), [
        said("Fix it.", FIX), said("Again, as asked.", FIX), {"tool_calls": [FINISH]},
    ], approver=person)  # fmt: skip
    assert outcome.status == "accepted", outcome.reason
    refused = tool_results(outcome)[0]
    assert refused["is_error"] and refused["content"].startswith("refused by the person: edit_file calc.py")
    assert "The person said: divide by len(values), and keep the docstring" in refused["content"]
    first, second = decisions(outcome)
    assert (first["verdict"], first["by"], first["answer"]) == ("deny", "person", "no with a message")
    assert first["message"] == "divide by len(values), and keep the docstring"
    assert (second["verdict"], second["answer"]) == ("allow", "yes") and "message" not in second


def test_always_allows_the_rule_for_the_rest_of_the_run_and_no_more(tmp_path: Path) -> None:
    person = Person(Answer(True, always=True), Answer(False))
    outcome = run(make_repo(tmp_path / "r", ASKING), [
        said("", FIX), said("", SECOND),  # edit_file's rule: allowed from now on; write_file's is another rule
        said("", {"name": "edit_file", "arguments": {"path": "calc.py", "old_text": "def average", "new_text": "def mean"}}),
        said("", {"name": "edit_file", "arguments": {"path": "calc.py", "old_text": "def mean", "new_text": "def average"}}),
        {"tool_calls": [FINISH]},
    ], approver=person)  # fmt: skip
    assert outcome.status == "accepted", outcome.reason
    assert [q.tool for q in person.asked] == ["edit_file", "write_file"]  # the later edits were not asked
    d = decisions(outcome)
    assert (d[0]["answer"], d[0]["always"]) == ("always", ["tools.edit_file.ask[0] '*.py'"])
    assert (d[1]["verdict"], d[1]["answer"]) == ("deny", "no")
    assert [(x["verdict"], x["by"], x["answer"]) for x in d[2:]] == [("allow", "person", "always")] * 2
    assert "for the rest of the run by the person" in d[2]["reason"]


def test_a_script_is_asked_with_each_of_its_commands(tmp_path: Path) -> None:
    person = Person(Answer(True), Answer(True))
    script = "ls && echo cleaning\nrm -f build.log"
    outcome = run(make_repo(tmp_path / "r", ASKING), [
        said("Clean up first.", {"name": "run_command", "arguments": {"command": script}}),
        {"tool_calls": [FIX]}, {"tool_calls": [FINISH]},
    ], approver=person)  # fmt: skip
    assert outcome.status == "accepted", outcome.reason
    (asked,) = [q for q in person.asked if q.tool == "run_command"]
    assert asked.action == f"run: {script}"
    assert [(p.text, p.verdict) for p in asked.parts] == [("ls", "allow"), ("echo cleaning", "allow"),
                                                          ("rm -f build.log", "ask")]  # fmt: skip
    assert asked.asking_rules == ("tools.run_command.ask[0] 'rm *'",)


def test_nobody_to_ask_is_journaled_as_nobody(tmp_path: Path) -> None:
    outcome = run(make_repo(tmp_path / "r", ASKING), [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    (decision,) = decisions(outcome)
    assert (decision["verdict"], decision["by"], decision["answer"]) == ("deny", "no terminal", "nobody")
    assert tool_results(outcome)[0]["content"].startswith("refused by the contract: edit_file calc.py")
