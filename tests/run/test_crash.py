"""Crash proof: SIGKILL the harness at every journal boundary of a scripted run and at random
moments, resume until the run ends, and check it ends exactly as the uninterrupted run did: the
same final tree (byte for byte), every side effect performed once, the journal intact, the same
usage totals."""

from __future__ import annotations

import collections
import copy
import dataclasses
import hashlib
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentic.git.cmd import git
from agentic.journal.records import read_records, verify
from agentic.journal.tape import Tape
from tests import forkserver
from tests.conftest import CONTRACT, FINISH, FIX, copy_repo, make_repo, write, write_script

HOOK = Path(__file__).parents[1] / "crashhook.py"
pytestmark = pytest.mark.proof  # about 130 killed and resumed runs: `-m proof` runs them
# 12 by default keeps the suite fast (the boundary sweep is exhaustive); AGENTIC_CRASH_TRIALS=200 for a
# deeper soak (a fixed seed each time)
RANDOM_TRIALS = int(os.environ.get("AGENTIC_CRASH_TRIALS", "12"))
# each sweep is cut into parts that xdist spreads over its workers (every part its own test)
BOUNDARY_PARTS = 8
RANDOM_PARTS = 4
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
    # the tests run as a tool call; the gate keeps its cheap checks (a test run there would only
    # make each of the ~100 trials slower, not the proof stronger)
    contract["invariants"] = [i for i in contract["invariants"] if i["id"] != "tests-pass"]
    return contract


@dataclass
class Ending:
    tree: str
    usage: dict[str, int]
    effects: collections.Counter[str]  # step:call of completed side effects -> times performed
    reconciled: set[str]  # step:call of calls the journal says were reconciled after a crash
    records: int
    tools: dict[str, str] = dataclasses.field(default_factory=dict)  # step:call -> tool, side effects only
    outcomes: dict[str, str] = dataclasses.field(default_factory=dict)  # step:call -> last reconcile outcome
    hits: int = 0  # kills that hit the run in progress


def new_repo(root: Path) -> Path:
    repo = make_repo(root, crash_contract())
    write(repo / "tally.py", TALLY)
    git(["add", "tally.py"], repo)
    git(["commit", "--quiet", "-m", "tally"], repo)
    return repo


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trials' repository, made once per worker: each trial starts from a copy of it."""
    return new_repo(tmp_path_factory.mktemp("crash-template") / "repo")




Kill = tuple[int, float] | None  # SIGKILL once the journal grew by N records, D seconds later


def harness(repo: Path, *args: str, kill: Kill = None, env: dict[str, str] | None = None) -> int:
    """`python tests/crashhook.py ARGS` (forked by the worker's fork server), killed as `kill` says."""

    def started(proc: forkserver.Child) -> None:
        if kill is not None:
            threading.Thread(target=_kill_later, args=(proc, repo, *kill), daemon=True).start()

    done = forkserver.run(forkserver.shared(), [str(HOOK), *args], repo, {
        **os.environ, "AGENTIC_COUNT_FILE": str(repo.parent / "effects.log"), **(env or {})
    }, None, module=None, merge_stderr=True, on_start=started)  # fmt: skip
    output = done.stdout
    if done.returncode not in (0, -9) and "has ended" not in output and "no runs" not in output:
        raise AssertionError(f"agentic {args[0]} exited {done.returncode} in {repo}: {output[-3000:]}")
    return done.returncode


def _records(repo: Path) -> int:
    journal = journal_of(repo)
    return journal.read_bytes().count(b"\n") if journal is not None else 0


def _kill_later(proc: forkserver.Child, repo: Path, grown: int, delay_s: float) -> None:
    target = _records(repo) + grown
    while grown and proc.poll() is None and _records(repo) < target:
        time.sleep(0.002)
    time.sleep(delay_s)
    if proc.poll() is None:
        proc.kill()


def journal_of(repo: Path) -> Path | None:
    journals = [p for p in (repo / ".agentic" / "runs").glob("*/journal.jsonl") if p.stat().st_size]
    return journals[0] if journals else None


def finished(repo: Path) -> bool:
    journal = journal_of(repo)
    return journal is not None and Tape.read(journal).ended and Tape.read(journal).status != "interrupted"


def drive(repo: Path, script: Path, kills: list[Kill], env: dict[str, str] | None = None) -> int:
    """Start the run, then resume until it ended; attempt i is killed as kills[i] says (None: not).
    Returns how many kills hit a run in progress (after its journal began)."""
    hits = 0
    for attempt in range(12):
        first = journal_of(repo) is None
        args = ("run", "fix the average", "--model", f"script:{script}") if first else ("resume", "last")
        code = harness(repo, *args, kill=kills[attempt] if attempt < len(kills) else None,
                       env=env if attempt == 0 else None)  # fmt: skip
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
    assert tape.status == "accepted", f"{repo}: the run ended {tape.status}: {tape.ends[-1].reason}"
    commit = tape.ends[-1].commit
    tree = git(["rev-parse", f"{commit}^{{tree}}"], repo).strip()
    log = repo.parent / "effects.log"
    keys = log.read_text().split() if log.exists() else []
    records = list(read_records(journal))
    outcomes = {r["idem"].partition(":")[2]: r["data"]["outcome"] for r in records if r["kind"] == "tool.reconcile"}
    tools = {c.idem.partition(":")[2]: c.call.tool for c in tape.calls if c.effect is not None}
    usage = dict((tape.ends[-1].budget or {}).get("usage") or {})
    return Ending(tree, usage, collections.Counter(k.partition(":")[2] for k in keys),
                  set(outcomes), tape.records, tools, outcomes)  # fmt: skip


@pytest.fixture(scope="module")
def crash_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crash")


def slot(root: Path, name: str) -> Path:
    """Where a trial (or the reference) lives: paths of one length, so that the system prompt (which
    names the worktree) has the same size in every run, and so has the usage compared."""
    return root / hashlib.sha256(name.encode()).hexdigest()[:16]


@pytest.fixture(scope="module")
def reference(crash_root: Path, template: Path) -> Ending:
    root = slot(crash_root, "reference")
    repo = copy_repo(template, root / "repo")
    drive(repo, write_script(root / "turns.yaml", TURNS), [])
    end = ending(repo)
    assert set(end.effects.values()) == {1} and len(end.effects) == 4, end.effects  # 2 writes, command, tests
    assert git(["show", f"{end.tree}:tally.log"], repo) == "ran\n"
    return end


def trial(template: Path, root: Path, kills: list[Kill], env: dict[str, str] | None = None) -> Ending:
    repo = copy_repo(template, root / "repo")
    script = write_script(root / "turns.yaml", TURNS)
    hits = drive(repo, script, kills, env)
    end = ending(repo)
    end.hits = hits
    return end


def same_as_reference(got: Ending, want: Ending) -> list[str]:
    """The run ended as the uninterrupted one did, each side effect performed once.

    The effects log counts completed executions. A write is never made twice: when its result was
    lost, resume finds it applied and does not repeat it (so a kill between the write and its
    count leaves 0 counted, and the journal says "applied before the crash"). A command whose
    result was lost (a kill or a torn record after it ran) is rolled back and run again, so it may
    count 2 with the journal saying so; its effect on the worktree, checked through the final
    tree (tally.log holds one line per run of the command), still happens once.
    """
    problems = []
    if got.tree != want.tree:
        problems.append(f"final tree {got.tree[:12]} != {want.tree[:12]}")
    if got.usage != want.usage:
        problems.append(f"usage {got.usage} != {want.usage}")
    for key, tool in want.tools.items():
        times = got.effects.get(key, 0)
        if tool in ("run_command", "run_tests"):
            ok = times == 1 or (times == 2 and got.outcomes.get(key, "").endswith("run again"))
        else:
            ok = times == 1 or (times == 0 and got.outcomes.get(key) == "applied before the crash")
        if not ok:
            problems.append(f"{key} ({tool}) performed {times} times (reconciled: {got.outcomes.get(key)})")
    if set(got.effects) - set(want.tools):
        problems.append(f"unexpected side effects {sorted(set(got.effects) - set(want.tools))}")
    return problems


def run_trials(specs: list[tuple[str, list[Kill], dict[str, str] | None]], root: Path, template: Path,
               want: Ending) -> list[Ending]:  # fmt: skip
    assert specs

    def one(spec: tuple[str, list[Kill], dict[str, str] | None]) -> Ending | str:
        name, kills, env = spec
        try:
            end = trial(template, slot(root, name), kills, env)
            problems = same_as_reference(end, want)
        except AssertionError as exc:
            problems = [str(exc)]
        return f"{name}: {'; '.join(problems)}" if problems else end

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, specs))
    failures = [r for r in results if isinstance(r, str)]
    assert not failures, "\n".join(failures)
    return [r for r in results if isinstance(r, Ending)]


def boundary_specs(records: int) -> list[tuple[str, list[Kill], dict[str, str] | None]]:
    specs: list[tuple[str, list[Kill], dict[str, str] | None]] = []
    for n in range(1, records + 1):
        specs.append((f"after-{n}", [None], {"AGENTIC_CRASH_AFTER": str(n)}))
        if n % 4 == 0:  # and the record it was writing torn in half
            specs.append((f"torn-{n}", [None], {"AGENTIC_CRASH_AFTER": str(n), "AGENTIC_CRASH_TORN": "1"}))
        if n in (1, 2) or n % 5 == 0:  # written, not yet anchored in the run database
            specs.append((f"unanchored-{n}", [None], {"AGENTIC_CRASH_AFTER": str(n), "AGENTIC_CRASH_UNANCHORED": "1"}))
    for n in (1, 2):  # inside each file write: its temporary file written, not yet renamed over the target
        specs.append((f"in-write-{n}", [None], {"AGENTIC_CRASH_IN_WRITE": str(n)}))
    return specs


def random_specs(records: int) -> list[tuple[str, list[Kill], dict[str, str] | None]]:
    """Kills at random moments: some while the harness starts or replays a resumed run (a random
    time), most while it works (a random number of new journal records, then a random few ms, so
    they fall inside writes, commands, git and the gate rather than between records)."""
    rng = random.Random(20261124)
    specs: list[tuple[str, list[Kill], dict[str, str] | None]] = []
    for i in range(RANDOM_TRIALS):
        kills: list[Kill] = []
        for _ in range(rng.randint(1, 2)):  # the first run, then maybe a resume, each killed
            early = rng.random() < 0.2
            kills.append((0, rng.uniform(0.05, 0.3)) if early else (rng.randint(1, records // 2),
                                                                     rng.uniform(0.0, 0.03)))  # fmt: skip
        specs.append((f"random-{i}", kills, None))
    return specs


@pytest.mark.slow
@pytest.mark.parametrize("part", range(BOUNDARY_PARTS))
def test_sigkill_at_every_journal_boundary_then_resume(reference: Ending, crash_root: Path, template: Path,
                                                        part: int) -> None:  # fmt: skip
    """Every boundary, the parts taken in turn (part p takes every BOUNDARY_PARTS-th from p on)."""
    run_trials(boundary_specs(reference.records)[part::BOUNDARY_PARTS], crash_root, template, reference)


@pytest.mark.slow
@pytest.mark.parametrize("part", range(RANDOM_PARTS))
def test_sigkill_at_random_moments_then_resume(reference: Ending, crash_root: Path, template: Path,
                                               part: int) -> None:  # fmt: skip
    """The random trials in consecutive parts (one seed for all, so the same trials every time)."""
    specs = random_specs(reference.records)
    mine = specs[part * len(specs) // RANDOM_PARTS:(part + 1) * len(specs) // RANDOM_PARTS]
    if not mine:
        pytest.skip(f"{RANDOM_TRIALS} trials leave part {part} empty")
    ends = run_trials(mine, crash_root, template, reference)
    hits = sum(e.hits for e in ends)
    print(f"random kills that hit a run in progress: {hits} in {sum(e.hits > 0 for e in ends)} trials; "
          f"{sum(bool(e.reconciled) for e in ends)} trials reconciled a call cut short")  # fmt: skip
    assert sum(e.hits > 0 for e in ends) > len(ends) // 2  # the moments fall inside runs, mostly


def test_the_uninterrupted_run_reconciles_nothing(reference: Ending) -> None:
    assert reference.records > 20 and not reference.reconciled and reference.hits == 0
