"""The journal: hash chain, blobs, torn tails, tamper detection and `agentic journal verify`."""

from __future__ import annotations

import json
from pathlib import Path

from agentic.journal.records import BLOB_THRESHOLD, Journal, payload, read_records, verify
from agentic.util.redact import Redactor
from tests.conftest import FINISH, FIX, cli, write_script


def make_journal(tmp_path: Path) -> Journal:
    journal = Journal(tmp_path / "run", "r1", Redactor({"MY_TOKEN": "secret-value-123"}))
    journal.append("run.start", {"task": "t"}, sync=True)
    journal.append("tool.result", {"content": "x" * (BLOB_THRESHOLD + 10)})
    journal.append("tool.result", {"content": "token secret-value-123 here"})
    return journal


def test_chain_blobs_and_redaction(tmp_path: Path) -> None:
    journal = make_journal(tmp_path)
    journal.close()
    records = list(read_records(journal.path))
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert "blob" in records[1] and "data" not in records[1]
    assert payload(records[1], journal.directory)["content"] == "x" * (BLOB_THRESHOLD + 10)
    assert payload(records[2], journal.directory)["content"] == "token [REDACTED:MY_TOKEN] here"
    assert "secret-value-123" not in journal.path.read_text()
    assert verify(journal.path).ok and verify(journal.path).records == 3
    # reopening continues the chain
    again = Journal(journal.directory, "r1")
    again.append("run.resume", {})
    again.close()
    assert verify(journal.path).records == 4


def test_tampering_is_found_with_the_first_bad_record(tmp_path: Path) -> None:
    journal = make_journal(tmp_path)
    journal.close()
    lines = journal.path.read_text().splitlines(keepends=True)
    edited = json.loads(lines[2])
    edited["data"]["content"] = "something else"
    journal.path.write_text(lines[0] + lines[1] + json.dumps(edited) + "\n")
    result = verify(journal.path)
    assert not result.ok and result.seq == 3 and "hash" in result.problem
    journal.path.write_text(lines[0] + lines[2])  # a record removed
    result = verify(journal.path)
    assert not result.ok and "expected seq 2" in result.problem
    journal.path.write_text("".join(lines))
    blob = next((journal.directory / "blobs").iterdir())
    blob.write_text(blob.read_text().replace("x", "y", 1))
    result = verify(journal.path)
    assert not result.ok and result.seq == 2 and "altered" in result.problem


def test_torn_last_line_is_tolerated(tmp_path: Path) -> None:
    journal = make_journal(tmp_path)
    journal.close()
    with open(journal.path, "a") as fh:
        fh.write('{"v":1,"run":"r1","seq":4,"kin')
    assert [r["seq"] for r in read_records(journal.path)] == [1, 2, 3]
    result = verify(journal.path)
    assert result.ok and result.torn_tail


def test_a_tear_inside_a_characters_utf8_bytes_is_a_torn_line_too(tmp_path: Path) -> None:
    journal = make_journal(tmp_path)
    journal.close()
    with open(journal.path, "ab") as fh:
        fh.write('{"v":1,"run":"r1","seq":4,"data":"cut …'.encode()[:-2])  # two bytes of "…"'s three
    assert [r["seq"] for r in read_records(journal.path)] == [1, 2, 3]
    result = verify(journal.path)
    assert result.ok and result.torn_tail and result.records == 3


def test_appending_after_a_torn_tail_sets_it_aside_and_continues_the_chain(tmp_path: Path) -> None:
    journal = make_journal(tmp_path)
    journal.close()
    with open(journal.path, "a") as fh:
        fh.write('{"v":1,"run":"r1","seq":4,"kin')
    again = Journal(journal.directory, "r1")
    assert again.torn == b'{"v":1,"run":"r1","seq":4,"kin'
    again.append("run.resume", {})
    again.close()
    result = verify(journal.path)
    assert result.ok and not result.torn_tail and result.records == 4
    assert (journal.directory / "journal.jsonl.torn").read_bytes().startswith(b'{"v":1,"run":"r1","seq":4')
    # a journal that is only a torn line
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "journal.jsonl").write_text('{"v":1,"ru')
    fresh = Journal(lone, "r2")
    fresh.append("run.start", {})
    fresh.close()
    assert verify(lone / "journal.jsonl").records == 1


def test_cli_verify(repo: Path) -> None:
    script = write_script(repo.parent / "t.yaml", [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    done = cli("run", "fix", "--model", f"script:{script}", "--json", cwd=repo)
    summary = json.loads(done.stdout.splitlines()[-1])
    ok = cli("journal", "verify", "last", cwd=repo)
    assert ok.returncode == 0 and "chain and blobs intact" in ok.stdout
    path = Path(summary["journal"])
    path.write_text(path.read_text().replace('"status":"accepted"', '"status":"rejected"'))
    bad = cli("journal", "verify", summary["run_id"], cwd=repo)
    assert bad.returncode == 1 and "tampered or corrupt" in bad.stderr


def test_every_record_of_a_run_matches_the_schema(repo: Path) -> None:
    import jsonschema

    from agentic.util.yamlfile import schema

    turns = [{"tool_calls": [{"name": "read_file", "arguments": {"path": ".env"}}]}, {"tool_calls": [FINISH]},
             {"tool_calls": [FIX]}, {"tool_calls": [FINISH]}]  # fmt: skip
    script = write_script(repo.parent / "t.yaml", turns)
    done = cli("run", "fix", "--model", f"script:{script}", "--json", cwd=repo)
    summary = json.loads(done.stdout.splitlines()[-1])
    validator = jsonschema.Draft202012Validator(schema("journal-record"))
    kinds = set()
    for record in read_records(Path(summary["journal"])):
        validator.validate(record)
        kinds.add(record["kind"])
    assert {"run.start", "policy.decision", "gate.verdict", "commit", "run.end"} <= kinds


def test_the_schema_knows_every_kind_the_harness_writes() -> None:
    import re

    from agentic.util.yamlfile import schema

    known = set(schema("journal-record")["properties"]["kind"]["enum"])
    source = "".join(p.read_text() for p in (Path(__file__).parents[2] / "agentic").rglob("*.py"))
    written = set(re.findall(r'\.append\(\s*"([a-z]+\.?[a-z]*)"', source))
    assert written and written <= known, written - known
