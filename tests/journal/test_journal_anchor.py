"""The journal is tamper-evident, not just hash-chained (issue 14, point 7; docs/journal.md, "Tamper
evidence"; docs/security.md, "journal").

Each attack rewrites a finished run's journal the way someone with write access to `.agentic/` would,
re-chaining every hash so `verify()` alone accepts it, and checks that `agentic journal verify` and
`agentic audit` do not. The HMAC key lives outside the repository (XDG_CONFIG_HOME here).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from agentic.journal.records import GENESIS, record_hash, verify
from tests.conftest import FINISH, FIX, cli, make_repo, write_script


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A repository with one accepted run, and the config directory that holds its journal key."""
    root = tmp_path_factory.mktemp("one-run")
    repo = make_repo(root / "repo")
    script = write_script(root / "t.yaml", [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    done = cli("run", "fix", "--model", f"script:{script}", "--json", cwd=repo,
               env={"XDG_CONFIG_HOME": str(root / "config")})  # fmt: skip
    assert done.returncode == 0, done.stderr
    return repo, Path(json.loads(done.stdout.splitlines()[-1])["journal"]).relative_to(repo)


@pytest.fixture
def finished(one_run: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A copy of one_run's repository and key for each test to alter (the run database's paths follow
    a repository that moved: agentic.journal.store)."""
    template, journal = one_run
    repo = tmp_path / "repo"
    shutil.copytree(template, repo, symlinks=True)
    shutil.copytree(template.parent / "config", tmp_path / "config")
    return repo, repo / journal, {"XDG_CONFIG_HOME": str(tmp_path / "config")}


def _records(journal: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in journal.read_text().splitlines()]


def _rechain(journal: Path, records: list[dict[str, Any]]) -> None:
    """Write records back with seq, prev and hash recomputed: a chain `verify()` accepts."""
    prev, lines = GENESIS, []
    for seq, record in enumerate(records, start=1):
        record.update(seq=seq, prev=prev)
        record.pop("hash", None)
        record["hash"] = prev = record_hash(record)
        lines.append(json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
    journal.write_text("\n".join(lines) + "\n")
    assert verify(journal).ok


def _both_fail(repo: Path, env: dict[str, str], needle: str) -> None:
    verified = cli("journal", "verify", "last", cwd=repo, env=env)
    assert verified.returncode == 1, verified.stdout
    assert needle in verified.stderr, verified.stderr
    audited = cli("audit", "last", "--json", cwd=repo, env=env)
    assert audited.returncode == 1
    report = json.loads(audited.stdout)["journal"]
    assert not report["ok"] and needle in report["problem"]
    human = cli("audit", "last", cwd=repo, env=env)
    assert human.returncode == 1 and "tampered" in human.stdout


def test_an_intact_run_verifies_with_its_anchor_and_hmac(finished: tuple[Path, Path, dict[str, str]]) -> None:
    repo, _, env = finished
    done = cli("journal", "verify", "last", cwd=repo, env=env)
    assert done.returncode == 0, done.stderr
    assert "head matches the run database's anchor" in done.stdout and "HMAC verified" in done.stdout
    assert (Path(env["XDG_CONFIG_HOME"]) / "agentic" / "journal.key").stat().st_mode & 0o077 == 0


def test_a_rewritten_and_rechained_record_is_detected(finished: tuple[Path, Path, dict[str, str]]) -> None:
    repo, journal, env = finished
    records = _records(journal)
    end = next(r for r in records if r["kind"] == "run.end")
    end["data"]["reason"] = "nothing to see here"
    _rechain(journal, records)
    _both_fail(repo, env, "rewritten")


def test_a_forged_refusal_removed_and_rechained_is_detected(finished: tuple[Path, Path, dict[str, str]]) -> None:
    """Delete a record from the middle (what was refused, what ran) and re-chain: fewer records."""
    repo, journal, env = finished
    records = _records(journal)
    del records[3]
    _rechain(journal, records)
    _both_fail(repo, env, "removed")


def test_truncation_is_detected(finished: tuple[Path, Path, dict[str, str]]) -> None:
    repo, journal, env = finished
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(lines[:-2]))
    assert verify(journal).ok
    _both_fail(repo, env, "removed")


def test_records_appended_after_the_end_are_detected(finished: tuple[Path, Path, dict[str, str]]) -> None:
    repo, journal, env = finished
    records = _records(journal)
    records.append({**records[-1], "kind": "run.end", "data": {"status": "accepted", "reason": "forged"}})
    _rechain(journal, records)
    _both_fail(repo, env, "added afterwards")


def test_a_deleted_journal_is_detected(finished: tuple[Path, Path, dict[str, str]]) -> None:
    repo, journal, env = finished
    journal.unlink()
    verified = cli("journal", "verify", "last", cwd=repo, env=env)
    assert verified.returncode == 1 and "deleted" in verified.stderr
    assert cli("audit", "last", cwd=repo, env=env).returncode == 1


def _db(repo: Path) -> sqlite3.Connection:
    return sqlite3.connect(repo / ".agentic" / "agentic.db", isolation_level=None)


def test_rewriting_the_journal_and_the_database_anchor_is_caught_by_the_hmac(
    finished: tuple[Path, Path, dict[str, str]],
) -> None:
    repo, journal, env = finished
    records = _records(journal)
    forged = next(r for r in records if r["kind"] == "policy.decision")
    forged["data"]["by"] = "person"
    _rechain(journal, records)
    with _db(repo) as db:
        db.execute("UPDATE journal_heads SET hash = ?, seq = ?", (records[-1]["hash"], len(records)))
    _both_fail(repo, env, "HMAC does not match")


def test_stripping_the_hmac_is_detected(finished: tuple[Path, Path, dict[str, str]]) -> None:
    repo, journal, env = finished
    records = _records(journal)
    records[1]["ts"] = 0.0
    _rechain(journal, records)
    with _db(repo) as db:
        db.execute("UPDATE journal_heads SET hash = ?, seq = ?, mac = NULL", (records[-1]["hash"], len(records)))
    _both_fail(repo, env, "no HMAC")


def test_deleting_the_anchor_is_detected(finished: tuple[Path, Path, dict[str, str]]) -> None:
    repo, _, env = finished
    with _db(repo) as db:
        db.execute("DELETE FROM journal_heads")
    _both_fail(repo, env, "no anchor")


def test_a_moved_repository_still_verifies_and_shows_its_runs(finished: tuple[Path, Path, dict[str, str]]) -> None:
    """The run database stores absolute paths; a repository renamed since finds its journals where they are."""
    repo, journal, env = finished
    moved = repo.parent / "renamed"
    repo.rename(moved)
    done = cli("journal", "verify", "last", cwd=moved, env=env)
    assert done.returncode == 0 and "HMAC verified" in done.stdout, done.stdout + done.stderr
    shown = cli("show", "last", cwd=moved, env={**env, "COLUMNS": "400"})
    assert shown.returncode == 0 and f"journal: {moved / journal.relative_to(repo)}" in shown.stdout, shown.stdout
    assert "edit_file" in shown.stdout  # read from the journal at its new place
    assert not journal.exists()


def test_an_anchor_moved_to_another_repository_does_not_verify(
    finished: tuple[Path, Path, dict[str, str]],
) -> None:
    """The per-repository key: an anchor row (and its MAC) copied from another repository's database."""
    repo, _, env = finished
    with _db(repo) as db:
        db.execute("UPDATE meta SET value = 'another-repository' WHERE key = 'repository_id'")
    _both_fail(repo, env, "HMAC does not match")


def test_without_the_key_the_head_is_still_anchored(finished: tuple[Path, Path, dict[str, str]]) -> None:
    repo, journal, env = finished
    off = {**env, "AGENTIC_JOURNAL_KEY": "off"}
    assert cli("journal", "verify", "last", cwd=repo, env=off).returncode == 0
    records = _records(journal)
    records[2]["step"] = 99
    _rechain(journal, records)
    _both_fail(repo, off, "rewritten")


def test_a_crash_between_the_write_and_the_anchor_is_not_tampering(tmp_path: Path) -> None:
    from agentic.journal import anchor
    from agentic.journal.records import ANCHOR_EVERY, Journal
    from agentic.journal.store import SQLiteStore

    store = SQLiteStore(tmp_path / "agentic.db")
    journal = Journal(tmp_path / "runs" / "r", "r")
    journal.on_head = anchor.recorder(store, "r", create_key=False)
    journal.append("run.start", {}, sync=True)
    journal.append("tool.call", {})
    assert store.journal_head("r")["seq"] == 1  # anchored at the fsync, the flushed record not yet
    journal.on_head = None  # the harness died after writing these records, before anchoring them
    for _ in range(ANCHOR_EVERY - 1):
        journal.append("tool.result", {})
    assert anchor.check(store, "r", journal.path).ok
    journal.append("tool.call", {})  # more than the harness leaves unanchored is not a crash
    assert "added afterwards" in anchor.check(store, "r", journal.path).problem


def test_the_head_is_anchored_at_every_fsync_and_every_anchor_every_records(tmp_path: Path) -> None:
    from agentic.journal import anchor
    from agentic.journal.records import ANCHOR_EVERY, Journal
    from agentic.journal.store import SQLiteStore

    store = SQLiteStore(tmp_path / "agentic.db")
    journal = Journal(tmp_path / "runs" / "r", "r")
    journal.on_head = anchor.recorder(store, "r", create_key=False)
    heads = []
    for n in range(1, 2 * ANCHOR_EVERY + 3):
        journal.append("tool.effect" if n == 3 else "tool.call", {}, sync=n == 3)
        heads.append(store.journal_head("r")["seq"] if store.journal_head("r") else None)
    assert heads[:3] == [None, None, 3]  # the fsynced record anchors itself and those before it
    assert heads[3 + ANCHOR_EVERY - 1] == 3 + ANCHOR_EVERY and heads[3 + ANCHOR_EVERY - 2] == 3
    assert anchor.check(store, "r", journal.path).ok
    journal.close()  # closing anchors what is left
    assert store.journal_head("r")["seq"] == journal.seq == 2 * ANCHOR_EVERY + 2


def test_the_migration_anchors_existing_runs_at_their_current_head(tmp_path: Path) -> None:
    from agentic.journal import store as store_module
    from agentic.journal.anchor import check
    from agentic.journal.records import Journal

    journal = Journal(tmp_path / "runs" / "old", "old")
    journal.append("run.start", {})
    journal.append("run.end", {"status": "accepted"})
    db = sqlite3.connect(tmp_path / "agentic.db", isolation_level=None)
    for step in store_module.MIGRATIONS[:2]:
        step(db)
    db.execute("PRAGMA user_version = 2")
    db.execute("INSERT INTO runs (id, task, status, model, contract, base_commit, branch, worktree, journal, "
               "started_at, updated_at) VALUES ('old', 't', 'accepted', 'm', 'c', 'b', 'br', 'w', ?, 0, 0)",
               (str(journal.path),))  # fmt: skip
    db.close()
    store = store_module.SQLiteStore(tmp_path / "agentic.db")
    result = check(store, "old", journal.path)
    assert result.ok and result.origin == "backfill" and result.anchored_seq == 2


def test_the_cost_migration_fills_in_each_runs_cost_from_its_journal(tmp_path: Path) -> None:
    from agentic.journal import store as store_module
    from agentic.journal.records import Journal

    db = sqlite3.connect(tmp_path / "agentic.db", isolation_level=None)
    for step in store_module.MIGRATIONS[:3]:
        step(db)
    db.execute("PRAGMA user_version = 3")
    for run_id, cost in (("priced", 0.0125), ("unpriced", None), ("cut", 1.0)):
        journal = Journal(tmp_path / "runs" / run_id, run_id)
        journal.append("run.start", {})
        if run_id != "cut":  # a run whose harness died before run.end: no cost known
            journal.append("run.end", {"status": "accepted", "budget": {"cost_usd": cost}})
        journal.close()
        db.execute("INSERT INTO runs (id, task, status, model, contract, base_commit, branch, worktree, journal, "
                   "started_at, updated_at) VALUES (?, 't', 'accepted', 'm', 'c', 'b', 'br', 'w', ?, 0, 0)",
                   (run_id, str(journal.path)))  # fmt: skip
    db.close()
    store = store_module.SQLiteStore(tmp_path / "agentic.db")
    costs = {row["id"]: row["cost_usd"] for row in store.list_runs()}
    assert costs == {"priced": 0.0125, "unpriced": None, "cut": None}


def test_the_key_is_not_readable_in_the_sandbox(tmp_path: Path) -> None:
    from agentic.journal.anchor import key_file, master_key
    from agentic.sandbox import make_sandbox, sandbox_level

    if sandbox_level().name != "bubblewrap":
        pytest.skip("needs bubblewrap")
    root = make_repo(tmp_path / "repo")
    key = master_key(create=True)
    assert key is not None
    box = make_sandbox(root, [])
    try:
        result = box.run(["bash", "-c", f"cat {key_file()} ~/.config/agentic/journal.key; ls -la ~ 2>&1"], timeout_s=30)
    finally:
        box.close()
    assert key.hex() not in result.output.encode().hex() and "No such file" in result.output


@pytest.mark.parametrize("command", [["resume", "last"], ["resume", "last", "--fork"], ["replay", "last"]])
def test_a_rewritten_journal_is_never_re_driven(finished: tuple[Path, Path, dict[str, str]], command: list[str]) -> None:
    repo, journal, env = finished
    records = _records(journal)
    end = next(r for r in records if r["kind"] == "run.end")
    end["data"]["status"] = "interrupted"  # a finished run made to look resumable
    _rechain(journal, records)
    done = cli(*command, cwd=repo, env=env)
    assert done.returncode != 0 and "is not the one recorded" in done.stderr, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
