"""Checks before a run is re-driven from its journal: is the journal intact, may the run go on,
and is it still the run it was (same contract, settings and harness)?"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentic import __version__
from agentic.config.settings import Settings
from agentic.errors import JournalMismatch, ResumeRefused
from agentic.journal.records import read_records, verify
from agentic.journal.store import SQLiteStore
from agentic.journal.tape import Tape
from agentic.policy.contract import Contract
from agentic.workspace import Workspace

RESUMABLE = ("running", "interrupted", "failed")  # "running": the harness died without a run.end


def open_tape(journal: Path, run_id: str) -> Tape:
    """The run's tape, after checking the journal's chain and blobs."""
    if not journal.is_file():
        raise JournalMismatch(f"the journal of run {run_id} is missing: {journal}")
    checked = verify(journal)
    if not checked.ok:
        raise JournalMismatch(
            f"the journal of run {run_id} fails verification: {checked.problem}",
            hint=f"see `agentic journal verify {run_id}`; a run is only re-driven from an intact journal",
        )
    return Tape.read(journal)


def recorded_flags(tape: Tape) -> dict[str, Any]:
    """Settings the run got from command-line flags: given again, so only files and environment count."""
    origins: dict[str, Any] = tape.start.settings_origins or {}
    settings: dict[str, Any] = tape.start.settings or {}
    return {k: settings.get(k) for k, origin in origins.items() if str(origin).startswith("flag")}


# Settings that change how the harness reaches the provider or reports, not what the run does: a
# run that failed on timeouts may be resumed with a longer request_timeout_s.
OPERATIONAL = frozenset({"request_timeout_s", "rate_limits", "notify"})


def changes_since(tape: Tape, settings: Settings, contract: Contract) -> list[str]:
    """What differs now from when the run started, in words; empty when it may be resumed as is."""
    found = []
    recorded = tape.start.contract or {}
    if recorded.get("hash") != contract.hash_ref:
        found.append(f"the contract changed ({contract.source}: {str(recorded.get('hash'))[:15]}… → "
                     f"{contract.hash_ref[:15]}…)")  # fmt: skip
    then, now = tape.start.settings or {}, settings.to_record()
    for key in sorted(set(then) | set(now) - OPERATIONAL):
        if key not in OPERATIONAL and then.get(key) != now.get(key):
            found.append(f"setting {key} changed ({then.get(key)!r} → {now.get(key)!r})")
    version = (tape.start.harness or {}).get("version")
    if version != __version__:
        found.append(f"the harness changed (agentic {version} → {__version__})")
    return found


def check_resumable(tape: Tape, settings: Settings, contract: Contract) -> None:
    if tape.status not in RESUMABLE:
        raise ResumeRefused(
            f"run {tape.run_id} has ended ({tape.status}); only interrupted, failed or crashed runs resume",
            hint=f"to try again from one of its steps: agentic fork {tape.run_id} --from-step N",
        )
    changed = changes_since(tape, settings, contract)
    if changed:
        raise ResumeRefused(
            f"run {tape.run_id} cannot be resumed as it was: " + "; ".join(changed),
            hint="go on under the new configuration as a new run sharing its steps: add --fork",
        )


def check_fork_step(tape: Tape, step: int) -> None:
    if step < 0 or step > tape.steps:
        raise ResumeRefused(f"run {tape.run_id} has steps 1 to {tape.steps}; cannot fork from step {step}")


def index_unlisted_runs(runs_dir: Path, store: SQLiteStore) -> list[str]:
    """Add to the index the runs whose journal exists but whose row does not (the harness died
    between the two writes): the journal is the record, the index only follows it."""
    if not runs_dir.is_dir():
        return []
    known = store.run_ids()
    added = []
    for journal in sorted(runs_dir.glob("*/journal.jsonl")):
        run_id = journal.parent.name
        if run_id in known:
            continue
        try:
            tape = Tape.read(journal)
        except (JournalMismatch, OSError, ValueError, KeyError):
            continue  # not a run's journal we can read; `journal verify` tells why
        start = tape.start
        store.add_run(
            id=run_id, task=_or(start.task), status=tape.status, model=_or(start.model),
            contract=(start.contract or {}).get("hash", ""), base_commit=_or(start.base_commit),
            branch=_or(start.branch), worktree=_or(start.worktree), journal=str(journal),
            started_at=_first_ts(journal),
        )  # fmt: skip
        added.append(run_id)
    return added


def _or(value: str | None) -> str:
    """A run.start field for the index: "" where the record lacks it."""
    return "" if value is None else value


def _first_ts(journal: Path) -> float:
    for record in read_records(journal):
        return float(record["ts"])
    return 0.0


def tidy_ended(repo_root: Path, tape: Tape) -> bool:
    """An accepted or rejected run whose harness died after its run.end keeps its worktree: remove
    it as the run would have (the branch stays when there is a commit). True when it did."""
    if not tape.ended or tape.status not in ("accepted", "rejected"):
        return False
    workspace = Workspace(repo_root, tape.run_id, str(tape.start.base_commit))
    if not workspace.path.exists():
        return False
    workspace.remove(keep_branch=bool(tape.ends[-1].commit))
    return True
