"""Typed journal events: every kind the harness writes has a class, the schema and the classes agree,
the writers' payloads fit their classes, and readers keep what they do not know."""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from agentic.journal import events
from agentic.journal.events import (
    Checkpoint,
    EventError,
    ModelRequest,
    PolicyDecision,
    RunEnd,
    ToolResult,
    UnknownEvent,
    entry,
    parse,
)
from agentic.journal.records import Journal, payload, read_records
from agentic.journal.validate import check, missing
from tests.conftest import FINISH, FIX, cli, make_repo, write_script

SCHEMA = Path(__file__).parents[2] / "agentic" / "schemas" / "journal-record.schema.json"
JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}


def json_type(hint: Any) -> str | list[str]:
    """The JSON Schema `type` of a field's written type."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        names: list[str] = []
        for arm in typing.get_args(hint):
            name = json_type(arm)
            names += name if isinstance(name, list) else [name]
        return names
    if typing.get_origin(hint) in (list, tuple):
        return "array"
    if typing.get_origin(hint) is dict or typing.is_typeddict(hint):
        return "object"
    return JSON_TYPES[hint]


def payload_schema(cls: type[events.Event]) -> dict[str, Any]:
    """What the schema's $defs say of a kind's payload, made from its class (descriptions aside)."""
    specs = events.specs(cls)
    return {"type": "object", "additionalProperties": False,
            "required": [key for key, spec in specs.items() if spec.required],
            "properties": {key: {"type": json_type(spec.written)} for key, spec in specs.items()}}  # fmt: skip


def test_the_schema_and_the_event_classes_agree() -> None:
    schema = json.loads(SCHEMA.read_text("utf-8"))
    assert set(schema["properties"]["kind"]["enum"]) == set(events.KINDS)
    assert set(schema["$defs"]) == set(events.KINDS)
    assert [alt["$ref"] for alt in schema["properties"]["data"]["anyOf"]] == [f"#/$defs/{k}" for k in events.KINDS]
    for kind, cls in events.KINDS.items():
        shipped = {k: v for k, v in schema["$defs"][kind].items() if k != "description"}
        assert shipped == payload_schema(cls), kind


def test_every_class_is_tagged_by_its_kind() -> None:
    for kind, cls in events.KINDS.items():
        event = parse(kind, {})
        assert type(event) is cls and event.kind == kind
    assert len(set(events.KINDS.values())) == len(events.KINDS) == len(events.CLASSES)


def test_a_payload_becomes_its_event() -> None:
    event = parse("model.request", {"model": "openai:m", "from": 3, "messages": [{"role": "user", "content": "x"}]})
    assert isinstance(event, ModelRequest)
    assert (event.model, event.from_, event.messages) == ("openai:m", 3, [{"role": "user", "content": "x"}])
    assert event.extra == {}


def test_an_unknown_kind_is_kept_whole() -> None:
    event = parse("sandbox.note", {"anything": [1, 2]})
    assert isinstance(event, UnknownEvent)
    assert (event.kind, event.data) == ("sandbox.note", {"anything": [1, 2]})


def test_older_records_read_with_absent_fields_as_none() -> None:
    event = parse("run.end", {"status": "accepted", "reason": "the gate passed"})  # no commit, no budget
    assert isinstance(event, RunEnd)
    assert (event.status, event.commit, event.budget) == ("accepted", None, None)
    assert missing("run.end", {"status": "accepted", "reason": "r"}) == ["commit", "budget"]


def test_what_a_reader_cannot_use_is_kept_in_extra() -> None:
    event = parse("tool.result", {"data": [1, 2], "is_error": True, "newer_field": "x"})
    assert isinstance(event, ToolResult)
    assert event.data is None and event.is_error is True
    assert event.extra == {"data": [1, 2], "newer_field": "x"}


def test_a_writer_cannot_drift_from_the_definition(tmp_path: Path) -> None:
    check("checkpoint", {"tree": "t", "changes": [("A", "x.py")]})  # tuples are written as arrays
    with pytest.raises(EventError, match="no field 'tre'"):
        check("checkpoint", {"tre": "t"})
    with pytest.raises(EventError, match=r"checkpoint\.tree is int"):
        check("checkpoint", {"tree": 1})
    with pytest.raises(EventError, match=r"run\.end\.status is NoneType"):
        check("run.end", {"status": None})  # null is written only where the class says so
    check("run.end", {"status": "accepted", "reason": "r", "commit": None, "budget": {}})
    check("sandbox.note", {"anything": 1})  # a kind without a class is not checked
    journal = Journal(tmp_path / "run", "r1")
    with pytest.raises(EventError):
        journal.append("tool.call", {"id": "c", "tool": "read_file", "arguments": {"path": "x"}})  # not a string
    journal.append("tool.call", {"id": "c", "tool": "read_file", "arguments": '{"path": "x"}'})
    journal.close()
    assert [r["seq"] for r in read_records(journal.path)] == [1]  # the refused payload left nothing behind


def test_entry_reads_the_envelope_leniently() -> None:
    head, event = entry({"kind": "checkpoint", "run": "r", "seq": 4, "ts": 2, "step": "x", "span": None},
                        {"tree": "abc", "changes": [["M", "a.py"]]})  # fmt: skip
    assert (head.run, head.seq, head.ts, head.step, head.span, head.kind) == ("r", 4, 2.0, 0, None, "checkpoint")
    assert isinstance(event, Checkpoint) and event.changes == [["M", "a.py"]]
    assert isinstance(entry({}, None).event, UnknownEvent)


def test_every_record_of_a_run_is_complete_for_its_class(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    turns = [{"tool_calls": [{"name": "read_file", "arguments": {"path": ".env"}}]},
             {"tool_calls": [{"name": "run_tests", "arguments": {}}]}, {"tool_calls": [FIX]},
             {"tool_calls": [FINISH]}]  # fmt: skip
    done = cli("run", "fix", "--model", f"script:{write_script(tmp_path / 't.yaml', turns)}", "--json", cwd=repo)
    assert done.returncode == 0, done.stderr
    path = Path(json.loads(done.stdout.splitlines()[-1])["journal"])
    kinds = set()
    for record in read_records(path):
        data = payload(record, path.parent)
        event = parse(record["kind"], data)
        assert not isinstance(event, UnknownEvent), record["kind"]
        assert event.extra == {}, (record["kind"], event.extra)
        assert missing(record["kind"], data) == [], record["kind"]
        kinds.add(record["kind"])
    assert {"run.start", "model.request", "model.response", "tool.call", "policy.decision", "tool.effect",
            "tool.result", "checkpoint", "gate.baseline", "gate.verdict", "commit", "run.end"} <= kinds  # fmt: skip


def test_checked_payloads_are_written_byte_for_byte_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lines and hashes the previous version (without event classes) wrote for the same appends."""
    monkeypatch.setattr("agentic.journal.records.time.time", lambda: 1764000000.123456)
    journal = Journal(tmp_path, "r1")
    journal.append("tool.call", {"id": "c1", "tool": "read_file", "arguments": '{"path": "a.py"}'}, step=1, span="s1",
                   parent="step-1", idem="r1:1:c1")  # fmt: skip
    journal.append("run.end", {"status": "accepted", "reason": "the gate passed", "commit": None,
                               "budget": {"steps": 1}}, step=1, span="s2")  # fmt: skip
    journal.close()
    assert [r["hash"] for r in read_records(journal.path)] == [
        "3d146a3114adf33334e1adde84751213c1daf05343f779f6db99a386b3b23bb0",
        "d0e40958812f31b3da66d71d80cb6778cadf5e7f7a3de016156c6b86137e72a1",
    ]
    assert journal.path.read_text("utf-8").startswith(
        '{"data":{"arguments":"{\\"path\\": \\"a.py\\"}","id":"c1","tool":"read_file"},"hash":"3d146a31'
    )


def test_an_older_journal_and_a_newer_kind_are_read_and_shown(tmp_path: Path) -> None:
    """Records as the first version wrote them (no cost, budget, `by`, limits) and a kind this version
    does not know: the tape re-drives from them, the timeline lists every one."""
    from agentic.journal.tape import Tape
    from agentic.reports.summary import timeline

    journal = Journal(tmp_path, "r0")
    journal.append("run.start", {"task": "fix", "model": "script:x", "settings": {}, "settings_origins": {},
                                 "contract": {"source": "c", "hash": "h"}, "base_commit": "b", "branch": "agentic/r0",
                                 "worktree": "/w"})  # fmt: skip
    journal.append("model.request", {"model": "script:x", "from": 0, "messages": []}, step=1)
    journal.append("model.response", {"text": "", "tool_calls": [{"id": "c1", "name": "read_file", "arguments": "{}"}],
                                      "usage": {"input_tokens": 3, "output_tokens": 1}, "stop_reason": "tool_calls",
                                      "model": "x"}, step=1)  # fmt: skip
    journal.append("tool.call", {"id": "c1", "tool": "read_file", "arguments": "{}"}, step=1, span="s1", idem="r0:1:c1")
    journal.append("policy.decision", {"tool": "read_file", "action": "read", "verdict": "allow", "rule": "r",
                                       "reason": ""}, step=1, span="s1")  # fmt: skip
    journal.append("tool.result", {"id": "c1", "tool": "read_file", "is_error": False, "content": "x", "data": {}},
                   step=1, span="s1", idem="r0:1:c1")  # fmt: skip
    journal.append("sandbox.note", {"what": "a newer harness wrote this"}, step=1)
    journal.append("run.end", {"status": "failed", "reason": "r", "commit": None, "budget": {"steps": 1}}, step=1)
    journal.close()
    tape = Tape.read(journal.path)
    assert tape.status == "failed" and tape.steps == 1 and tape.turns[0][1].usage.input_tokens == 3
    assert tape.calls[0].decision == PolicyDecision(tool="read_file", action="read", verdict="allow", rule="r", reason="")
    assert tape.start.base_commit == "b" and tape.base_commit == "b" and tape.start.worktree == "/w"
    assert tape.calls[0].call.tool == "read_file" and tape.calls[0].result is not None
    assert tape.calls[0].result.content == "x" and tape.ends[-1].budget == {"steps": 1}
    rows = timeline(journal.path)
    assert [r["kind"] for r in rows] == ["run.start", "model.response", "tool.call", "sandbox.note", "run.end"]
    assert rows[1]["cost_usd"] is None and rows[1]["tokens"] == 4
    assert rows[2]["decision"] == {"verdict": "allow", "by": None, "rule": "r", "reason": ""}
