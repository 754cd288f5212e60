"""The run journal: append-only, hash-chained JSONL, written ahead of the actions it announces.

One record per line: {v, run, seq, ts, step, span, parent, kind, idem, data | blob, prev, hash}.
`hash` is the SHA-256 of the record's canonical JSON without `hash`, and `prev` the previous
record's hash, so edits and torn writes are detectable. Payloads larger than BLOB_THRESHOLD bytes
go to content-addressed files in `blobs/` and the record keeps `blob: sha256`. Every string is
redacted before it is written. Records that announce a side effect are fsynced (`sync=True`);
the others are flushed, and the next fsync makes them durable with it: at most one fsync per step
before its side effect, none for a step without one. The head is anchored outside the file
(`on_head`, agentic.journal.anchor) at the same points: after every fsynced record, after at most
ANCHOR_EVERY records otherwise, and when the journal is closed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentic.errors import ResumeRefused
from agentic.journal.validate import check as check_event

VERSION = 1
BLOB_THRESHOLD = 2048
GENESIS = "0" * 64
ANCHOR_EVERY = 8  # records at most between two anchorings of the head (a step writes five or more)


def canonical(obj: Any) -> str:
    """One JSON text per value, valid UTF-8 whatever it holds: a lone surrogate (a file name that is
    not UTF-8, as `os.fsdecode` gives it) is written as its JSON escape and read back as itself."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def record_hash(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body).encode("utf-8")).hexdigest()


class Journal:
    def __init__(
        self,
        directory: Path,
        run_id: str,
        redact: Callable[[str], str] = lambda s: s,
        on_record: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
    ) -> None:
        self.directory = directory
        self.on_record = on_record  # called with (record, data) after each append: live progress
        self.run_id = run_id
        self.path = directory / "journal.jsonl"
        self.blobs = directory / "blobs"
        self.redact = redact
        directory.mkdir(parents=True, exist_ok=True)
        self.seq, self.prev = 0, GENESIS
        self.on_head: Callable[[int, str], None] | None = None  # called with (seq, hash): see anchor()
        self.unanchored = 0  # records appended since on_head was last called
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held for the run
        try:  # one writer at a time: a second harness on the same run is refused, a dead one's lock is gone
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise ResumeRefused(f"run {run_id} is in progress in another process") from None
        self.torn = _cut_torn_tail(self.path)  # bytes of a write a crash cut short, kept aside
        for record in read_records(self.path):
            self.seq, self.prev = record["seq"], record["hash"]

    def close(self) -> None:
        self.anchor()
        self._file.close()

    def anchor(self) -> None:
        """Hand the head to `on_head` (the run database's anchor), when records came since it last was."""
        if self.unanchored and self.on_head is not None:
            self.on_head(self.seq, self.prev)
        self.unanchored = 0

    def _store_blob(self, text: str) -> str:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        target = self.blobs / digest
        if not target.exists():
            self.blobs.mkdir(exist_ok=True)
            tmp = target.with_suffix(f".{uuid.uuid4().hex}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, target)
        return digest

    def append(
        self,
        kind: str,
        data: dict[str, Any] | None = None,
        *,
        step: int = 0,
        span: str | None = None,
        parent: str | None = None,
        idem: str | None = None,
        sync: bool = False,
    ) -> dict[str, Any]:
        check_event(kind, data or {})  # a known kind's payload fits its class in agentic.journal.events
        payload = self.redact(canonical(data or {}))
        self.seq += 1
        record: dict[str, Any] = {
            "v": VERSION,
            "run": self.run_id,
            "seq": self.seq,
            "ts": round(time.time(), 6),
            "step": step,
            "span": span or uuid.uuid4().hex[:16],
            "parent": parent,
            "kind": kind,
            "idem": idem,
        }
        if len(payload) > BLOB_THRESHOLD:
            record["blob"] = self._store_blob(payload)
        else:
            record["data"] = json.loads(payload)
        record["prev"] = self.prev
        record["hash"] = record_hash(record)
        self._file.write(canonical(record) + "\n")
        self._file.flush()
        if sync:
            os.fsync(self._file.fileno())
        self.prev = record["hash"]
        self.unanchored += 1
        if sync or self.unanchored >= ANCHOR_EVERY:  # after the write: a crash leaves the file ahead, never behind
            self.anchor()
        if self.on_record is not None:
            self.on_record(record, record.get("data") or json.loads(payload))
        return record


def _cut_torn_tail(path: Path) -> bytes:
    """Before appending after a crash: move an unterminated last line to `journal.torn` and cut it
    off, so the next record starts on a line of its own and the chain goes on from the last whole one."""
    if not path.exists():
        return b""
    with open(path, "rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return b""
        fh.seek(max(0, size - 1))
        if fh.read(1) == b"\n":
            return b""
        window, end = 65536, size
        while True:  # find the last newline, reading backwards
            start = max(0, end - window)
            fh.seek(start)
            chunk = fh.read(end - start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                keep = start + cut + 1
                break
            if start == 0:
                keep = 0
                break
            end = start
        fh.seek(keep)
        torn = fh.read()
        with open(path.with_name(path.name + ".torn"), "ab") as side:
            side.write(torn + b"\n")
            side.flush()
            os.fsync(side.fileno())
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())
    return torn


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Records in order; a torn (unparseable, unterminated) last line is skipped. Read as bytes: a
    tear can fall inside a character's UTF-8 sequence."""
    if not path.exists():
        return
    with open(path, "rb") as fh:
        for line in fh:
            if not line.endswith(b"\n"):
                return  # torn write at the end
            yield json.loads(line)


def payload(record: dict[str, Any], directory: Path) -> dict[str, Any]:
    """The record's data, loading its blob when it has one."""
    if "blob" in record:
        result: dict[str, Any] = json.loads((directory / "blobs" / record["blob"]).read_text("utf-8"))
        return result
    data: dict[str, Any] = record.get("data") or {}
    return data


@dataclass
class Verification:
    ok: bool
    records: int
    problem: str = ""
    seq: int | None = None  # the first bad record
    torn_tail: bool = False


def verify(path: Path) -> Verification:
    """Check the chain (seq, prev, hash), the run id, and every blob's content address."""
    prev, count, run = GENESIS, 0, None
    torn = False
    with open(path, "rb") as fh:  # bytes: a tear can fall inside a character's UTF-8 sequence
        for number, line in enumerate(fh, start=1):
            if not line.endswith(b"\n"):
                torn = True  # a write cut short by a crash: not tampering, but not part of the chain
                break
            try:
                record = json.loads(line)
            except ValueError:  # not JSON, or not UTF-8
                return Verification(False, count, f"line {number} is not JSON", number)
            seq = record.get("seq")
            if seq != count + 1:
                return Verification(False, count, f"line {number}: expected seq {count + 1}, found {seq}", seq)
            if record.get("prev") != prev:
                return Verification(False, count, f"record {seq}: prev does not match record {count}", seq)
            if record.get("hash") != record_hash(record):
                return Verification(False, count, f"record {seq}: content does not match its hash", seq)
            run = run or record.get("run")
            if record.get("run") != run:
                return Verification(False, count, f"record {seq}: belongs to run {record.get('run')}", seq)
            if "blob" in record:
                blob = path.parent / "blobs" / record["blob"]
                try:
                    digest = hashlib.sha256(blob.read_bytes()).hexdigest()
                except OSError:
                    return Verification(False, count, f"record {seq}: blob {record['blob'][:12]} is missing", seq)
                if digest != record["blob"]:
                    return Verification(False, count, f"record {seq}: blob {record['blob'][:12]} was altered", seq)
            prev, count = record["hash"], count + 1
    return Verification(True, count, "", None, torn)
