"""Crash proof: SIGKILL the harness at every journal boundary of a scripted run and at random
moments, resume until the run ends, and check it ends exactly as the uninterrupted run did: the
same final tree (byte for byte), every side effect performed once, the journal intact, the same
usage totals."""

from __future__ import annotations

import collections
import copy
import os
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentic.journal import read_records, verify
from agentic.tape import Tape
from agentic.workspace import git
from tests.conftest import CONTRACT, FINISH, FIX, make_repo, write, write_script

HOOK = Path(__file__).with_name("crashhook.py")
RANDOM_TRIALS = 50
TALLY = 'with open("tally.log", "a") as fh:\n    fh.write("ran\\n")\n'

TURNS: list[dict[str, Any]] = [
    {"text": "Looking.", "tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]},
    {"tool_calls": [FIX, {"name": "write_file", "arguments": {"path": "NOTES.md", "content": "fixed average\n"}}]},
    {"tool_calls": [{"name": "run_command", "arguments": {"command": "python tally.py"}}]},
    {"tool_calls": [{"name": "run_tests", "arguments": {}},
                    {"name": "read_file", "arguments": {"path": ".env"}}]},  # refused: a denied read
    {"tool_calls": [FINISH]},
]  # fmt: skip


def crash_contract() -> dict[str, Any]:
    contract = copy.deepcopy(CONTRACT)
    contract["tools"]["write_file"]["allow"] = ["*.py", "*.md"]
    contract["tools"]["run_command"]["allow"] = ["python tally.py"]
    return contract


@dataclass
class Ending:
    tree: str
    usage: dict[str, int]
    effects: collections.Counter[str]  # step:call of completed side effects -> times performed
    reconciled: set[str]  # step:call of calls the journal says were reconciled after a crash
    records: int
    hits: int = 0  # kills that hit the run in progress


def new_repo(root: Path) -> Path:
    repo = make_repo(root, crash_contract())
    write(repo / "tally.py", TALLY)
    git(["add", "tally.py"], repo)
    git(["commit", "--quiet", "-m", "tally"], repo)
    return repo


def harness(repo: Path, *args: str, kill_after_s: float | None = None, env: dict[str, str] | None = None) -> int:
    proc = subprocess.Popen(
        [sys.executable, str(HOOK), *args], cwd=repo, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, env={**os.environ, "AGENTIC_COUNT_FILE": str(repo.parent / "effects.log"),
                                       **(env or {})},
    )  # fmt: skip
    try:
        output, _ = proc.communicate(timeout=kill_after_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
    if proc.returncode not in (0, -9) and b"has ended" not in output and b"no runs" not in output:
        raise AssertionError(f"agentic {args[0]} exited {proc.returncode} in {repo}: {output.decode()[-3000:]}")
    return proc.returncode


def journal_of(repo: Path) -> Path | None:
    journals = [p for p in (repo / ".agentic" / "runs").glob("*/journal.jsonl") if p.stat().st_size]
    return journals[0] if journals else None


def finished(repo: Path) -> bool:
    journal = journal_of(repo)
    return journal is not None and Tape.read(journal).ended and Tape.read(journal).status != "interrupted"


def drive(repo: Path, script: Path, kills: list[float | None], env: dict[str, str] | None = None) -> int:
    """Start the run, then resume until it ended; attempt i is killed after kills[i] seconds (None: not).
    Returns how many kills hit a run in progress (after its journal began)."""
    hits = 0
    for attempt in range(12):
        kill = kills[attempt] if attempt < len(kills) else None
        first = journal_of(repo) is None
        args = ("run", "fix the average", "--model", f"script:{script}") if first else ("resume", "last")
        code = harness(repo, *args, kill_after_s=kill, env=env if attempt == 0 else None)
        hits += code == -9 and journal_of(repo) is not None
        if finished(repo):
            return hits
    raise AssertionError(f"the run did not end after 12 attempts in {repo}")


def ending(repo: Path) -> Ending:
    journal = journal_of(repo)
    assert journal is not None
    checked = verify(journal)
    assert checked.ok, f"{repo}: {checked.problem}"
    tape = Tape.read(journal)
    assert tape.status == "accepted", f"{repo}: the run ended {tape.status}: {tape.ends[-1].get('reason')}"
    commit = tape.ends[-1]["commit"]
    tree = git(["rev-parse", f"{commit}^{{tree}}"], repo).strip()
    log = repo.parent / "effects.log"
    keys = log.read_text().split() if log.exists() else []
    reconciled = {r["idem"].partition(":")[2] for r in read_records(journal) if r["kind"] == "tool.reconcile"}
    return Ending(tree, tape.ends[-1]["budget"]["usage"], collections.Counter(k.partition(":")[2] for k in keys),
                  reconciled, tape.records)  # fmt: skip


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Ending, float]:
    root = tmp_path_factory.mktemp("reference")
    repo = new_repo(root / "repo")
    script = write_script(root / "turns.yaml", TURNS)
    import time

    start = time.monotonic()
    drive(repo, script, [])
    took = time.monotonic() - start
    end = ending(repo)
    assert set(end.effects.values()) == {1} and len(end.effects) == 4, end.effects  # 2 writes, command, tests
    assert git(["show", f"{end.tree}:tally.log"], repo) == "ran\n"
    return end, took


def trial(root: Path, kills: list[float | None], env: dict[str, str] | None = None) -> Ending:
    repo = new_repo(root / "repo")
    script = write_script(root / "turns.yaml", TURNS)
    hits = drive(repo, script, kills, env)
    end = ending(repo)
    end.hits = hits
    return end


def same_as_reference(got: Ending, want: Ending, strict_count: bool) -> list[str]:
    problems = []
    if got.tree != want.tree:
        problems.append(f"final tree {got.tree[:12]} != {want.tree[:12]}")
    if got.usage != want.usage:
        problems.append(f"usage {got.usage} != {want.usage}")
    if set(got.effects) != set(want.effects):
        problems.append(f"side effects {sorted(got.effects)} != {sorted(want.effects)}")
    for key, times in got.effects.items():
        # a kill at a journal boundary never falls between an effect and its count: exactly once.
        # A kill at a random moment may (the count is written just after the effect), and only then
        # may the count be off by the one call the crash cut, which the journal shows reconciled.
        if times != 1 and (strict_count or key not in got.reconciled or times > 2):
            problems.append(f"{key} performed {times} times")
    return problems


def run_trials(specs: list[tuple[str, list[float | None], dict[str, str] | None]], root: Path,
               want: Ending, strict: bool) -> list[Ending]:  # fmt: skip
    def one(spec: tuple[str, list[float | None], dict[str, str] | None]) -> Ending | str:
        name, kills, env = spec
        try:
            end = trial(root / name, kills, env)
            problems = same_as_reference(end, want, strict)
        except AssertionError as exc:
            problems = [str(exc)]
        return f"{name}: {'; '.join(problems)}" if problems else end

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, specs))
    failures = [r for r in results if isinstance(r, str)]
    assert not failures, "\n".join(failures)
    return [r for r in results if isinstance(r, Ending)]


def test_sigkill_at_every_journal_boundary_then_resume(
    reference: tuple[Ending, float], tmp_path: Path
) -> None:
    want, _ = reference
    specs: list[tuple[str, list[float | None], dict[str, str] | None]] = []
    for n in range(1, want.records + 1):
        specs.append((f"after-{n}", [None], {"AGENTIC_CRASH_AFTER": str(n)}))
        if n % 3 == 0:  # and the record it was writing torn in half
            specs.append((f"torn-{n}", [None], {"AGENTIC_CRASH_AFTER": str(n), "AGENTIC_CRASH_TORN": "1"}))
    run_trials(specs, tmp_path, want, strict=True)


def test_sigkill_at_random_moments_then_resume(reference: tuple[Ending, float], tmp_path: Path) -> None:
    want, took = reference
    rng = random.Random(20261124)
    specs: list[tuple[str, list[float | None], dict[str, str] | None]] = []
    for i in range(RANDOM_TRIALS):
        # up to three kills in a row (the first run, then resumes), each at a random moment
        kills: list[float | None] = [rng.uniform(0.2, took) for _ in range(rng.randint(1, 3))]
        specs.append((f"random-{i}", kills, None))
    ends = run_trials(specs, tmp_path, want, strict=False)
    hits = sum(e.hits for e in ends)
    print(f"random kills that hit a run in progress: {hits} in {sum(e.hits > 0 for e in ends)} trials; "
          f"{sum(bool(e.reconciled) for e in ends)} trials reconciled a call cut short")  # fmt: skip
    assert sum(e.hits > 0 for e in ends) >= RANDOM_TRIALS // 2  # the moments fall inside runs, not around them


def test_the_uninterrupted_run_reconciles_nothing(reference: tuple[Ending, float]) -> None:
    want, _ = reference
    assert want.records > 20 and not want.reconciled and want.hits == 0
