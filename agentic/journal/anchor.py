"""The journal's anchor outside its file: each run's head in the run database, HMAC-signed.

A hash chain alone proves only that a journal is self-consistent: whoever can write the file can
rewrite a record and recompute every hash after it. So, as records are appended (after every fsynced
record and at least every ANCHOR_EVERY records: agentic.journal.records), the run database
(`.agentic/agentic.db`, table `journal_heads`) records the run's head (seq, hash), and an HMAC of it
under a key kept outside the repository: `$XDG_CONFIG_HOME/agentic/journal.key` (default
`~/.config/agentic/journal.key`, mode 0600, created on first use; the sandbox sees no home). The
per-repository key is HMAC(that key, the repository id the database holds), so a database moved with
its repository keeps verifying, and one copied into another repository does not.

`check()` compares a journal with its anchor: the file's chain must reach the anchored head exactly
(up to ANCHOR_EVERY records more are allowed while the run has not ended: the harness writes records,
then anchors them), and the anchor's HMAC must verify. What this detects and what it does not is in
docs/journal.md ("Tamper evidence").

AGENTIC_JOURNAL_KEY=off turns the HMAC off (heads are still anchored); anything else, or unset, uses it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentic.journal.records import ANCHOR_EVERY

KEY_FILE = "journal.key"


def key_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "agentic" / KEY_FILE


def hmac_enabled() -> bool:
    return os.environ.get("AGENTIC_JOURNAL_KEY", "").strip().lower() not in ("off", "0", "false", "no")


def master_key(create: bool) -> bytes | None:
    """The person's journal key (32 random bytes), created (0600, in a 0700 directory) when asked."""
    if not hmac_enabled():
        return None
    path = key_file()
    try:
        data = path.read_bytes()
        return data if len(data) >= 32 else None
    except FileNotFoundError:
        if not create:
            return None
    except OSError:
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return master_key(create=False)
    except OSError:
        return None  # an unwritable home: heads are anchored without an HMAC
    with os.fdopen(fd, "wb") as fh:
        fh.write(os.urandom(32))
        fh.flush()
        os.fsync(fh.fileno())
    return master_key(create=False)


def repository_key(master: bytes, repository_id: str) -> bytes:
    return hmac.new(master, b"agentic journal key\0" + repository_id.encode(), hashlib.sha256).digest()


def head_mac(key: bytes, run_id: str, seq: int, head: str) -> str:
    message = f"agentic journal head\0{run_id}\0{seq}\0{head}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def recorder(store: Any, run_id: str, create_key: bool = True) -> Callable[[int, str], None]:
    """What the journal calls after each append: the head into the database, signed when a key is available."""
    master = master_key(create=create_key)
    key = repository_key(master, store.repository_id()) if master else None

    def anchor(seq: int, head: str) -> None:
        store.set_journal_head(run_id, seq, head, head_mac(key, run_id, seq, head) if key else None)

    return anchor


@dataclass
class AnchorCheck:
    ok: bool
    problem: str = ""
    anchored_seq: int | None = None
    hmac: str = "none"  # verified | none (no key, or off) | absent | bad
    origin: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problem": self.problem, "anchored_seq": self.anchored_seq, "hmac": self.hmac,
                "origin": self.origin}  # fmt: skip


def _heads(path: Path) -> list[tuple[str, str]]:
    """(hash, kind) of every whole record, in order (a torn last line left out)."""
    out = []
    with open(path, "rb") as fh:  # bytes: a tear can fall inside a character's UTF-8 sequence
        for line in fh:
            if not line.endswith(b"\n"):
                break
            try:
                record = json.loads(line)
                out.append((str(record.get("hash")), str(record.get("kind"))))
            except (ValueError, AttributeError):
                out.append(("", ""))
    return out


def _torn(journal: Path) -> bool:
    """Whether a crash tore the journal's last record: its last line is unterminated (resume sets it
    aside before appending, and the anchor follows the records written after)."""
    with open(journal, "rb") as fh:
        size = fh.seek(0, 2)
        if size == 0:
            return False
        fh.seek(size - 1)
        return fh.read(1) != b"\n"


def check(store: Any, run_id: str, journal: Path) -> AnchorCheck:
    """Compare a journal with the head the database anchored for its run, and that anchor's HMAC."""
    row = store.journal_head(run_id)
    if row is None:
        return AnchorCheck(False, "the run database holds no anchor for this run: a rewritten journal could not "
                                  "be told from the original (was the database deleted or replaced?)")  # fmt: skip
    seq, head, mac, origin = int(row["seq"]), str(row["hash"]), row["mac"], str(row["origin"])
    result = AnchorCheck(True, anchored_seq=seq, origin=origin)
    master = master_key(create=False)
    if master is not None and origin == "run":
        if not mac:
            return AnchorCheck(False, f"the anchor of this run has no HMAC while a key exists ({key_file()}): "
                                      "the database was altered, or the run was recorded with AGENTIC_JOURNAL_KEY=off",
                               seq, "absent", origin)  # fmt: skip
        expected = head_mac(repository_key(master, store.repository_id()), run_id, seq, head)
        if not hmac.compare_digest(str(mac), expected):
            return AnchorCheck(False, "the anchor's HMAC does not match: the run database's record of this "
                                      "journal was altered", seq, "bad", origin)  # fmt: skip
        result.hmac = "verified"
    if not journal.is_file():
        return AnchorCheck(False, f"the journal is missing ({journal}): it was deleted; the database "
                                  f"anchored {seq} records", seq, result.hmac, origin)  # fmt: skip
    heads = _heads(journal)
    if len(heads) == seq - 1 and _torn(journal):
        # the anchored record is the one a crash tore (written, anchored, then cut short on disk):
        # the journal goes on from the record before it, as resume does
        return result
    if len(heads) < seq:
        return AnchorCheck(False, f"the journal has {len(heads)} records, the database anchored {seq}: records "
                                  "were removed", seq, result.hmac, origin)  # fmt: skip
    if seq and heads[seq - 1][0] != head:
        return AnchorCheck(False, f"record {seq} is not the one the database anchored: the journal was "
                                  "rewritten (and re-chained)", seq, result.hmac, origin)  # fmt: skip
    extra = heads[seq:]
    # Records past the anchor: those the harness wrote before it died, before it would have anchored
    # them (it anchors at least every ANCHOR_EVERY records). Not after the run ended (its end is
    # anchored before anything follows), except a `notify` record.
    ended = bool(seq) and heads[seq - 1][1] in ("run.end", "notify")
    if len(extra) > ANCHOR_EVERY or (extra and ended and (len(extra) > 1 or extra[0][1] != "notify")):
        return AnchorCheck(False, f"the journal has {len(extra)} record(s) after the anchored head (record {seq}): "
                                  "added afterwards", seq, result.hmac, origin)  # fmt: skip
    return result
