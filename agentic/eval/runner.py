"""`agentic eval`: every selected scenario run k times as a full governed run, judged by its checks.

    scenario ─▶ prepare once: template repository (fixture → git init + commit, or clone + ref),
    │           settings, contract, the base verified (fail_to_pass fail, pass_to_pass pass)
    ▼
    attempt, k times (thread pool, --concurrency): clone the template ─▶ runner.execute (own journal,
    │           headless: an `ask` is denied) ─▶ checks on what the run delivered ─▶ Attempt
    ▼
    evalstats.summarize ─▶ table, JSON, JUnit, Markdown, HTML; compare with a baseline ─▶ decide

What a run delivers is its commit when it is accepted, and otherwise nothing: the tree checks
(fail_to_pass, pass_to_pass, command, changed_paths) then see the base. Test and command checks run
in the sandbox on a clean checkout, once per distinct tree of a scenario (repeats that produce the
same tree share the result). Verdicts: pass (every check held), fail (one did not), error (the
attempt measured nothing: set-up, provider, sandbox, a scenario whose base is not as it says).
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import shutil
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from agentic import __version__
from agentic.config.settings import load_settings
from agentic.errors import UsageError
from agentic.eval.attempt import AttemptResult, AttemptSpec, TreeResults, check_tree, run_attempt
from agentic.eval.fingerprint import fingerprint
from agentic.eval.fleet import Fleet
from agentic.eval.prepare import (
    Prepared,
    cancelled_attempt,
    describe_error,
    error_attempt,
    load_scenario_model,
    program_problem,
    scenario_contract,
)
from agentic.eval.repos import cloned_repo, fixture_repo, generated_files, tree_of
from agentic.eval.scenarios import Scenario, resolve_model
from agentic.eval.stats import EvalSummary, summarize
from agentic.eval.testids import base_problem, test_runner_problem
from agentic.git.view import show_at
from agentic.models.ratelimit import WINDOW_S
from agentic.util import scratch
from agentic.workspace import ensure_excluded

DEFAULT_MAX_DROP = 0.05
DEFAULT_MAX_ERROR_RATE = 0.0
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Options:
    repeats: int | None = None  # overrides every scenario's
    concurrency: int = 2
    model: str | None = None  # overrides every scenario's (a script path already absolute)
    workdir: Path | None = None  # keep the attempts' repositories (and journals) here
    # where attempts book model calls against provider rate limits: the invoking repository's file,
    # so an eval and the repository's other runs share the limits (default: the eval's own)
    rate_db: Path | None = None
    max_cost_usd: float | None = None  # the eval's budget over every attempt (the fleet cancels it when reached)
    max_total_tokens: int | None = None
    executor: str = "local"  # or "ray" (agentic.eval.onray)
    address: str | None = None  # the Ray cluster: auto, HOST:PORT, ray://… (None: a local one started for the eval)
    max_attempt_retries: int = 1  # Ray: tries of an attempt lost with its worker or node
    rate_window_s: float = WINDOW_S  # the fleet's rate-limit window (Ray): a minute; shorter in tests
    keep_hosts_s: float = 600.0  # Ray: how long the attempt hosts stay up after their last attempt (0: end with the eval)


class Memo(Generic[K, V]):
    """Values computed once per key, also when several threads ask at the same time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[K, threading.Lock] = {}
        self._values: dict[K, V] = {}

    def get(self, key: K, compute: Callable[[], V]) -> V:
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                self._values[key] = compute()
            return self._values[key]


# -- the evaluator --------------------------------------------------------------------------------


class Evaluator:
    """Runs scenarios' attempts; one instance per eval. Use as a context manager (temp files)."""

    def __init__(self, scenarios: list[Scenario], options: Options) -> None:
        self.scenarios = scenarios
        self.options = options
        self.stop = threading.Event()
        self.fleet = Fleet(max_cost_usd=options.max_cost_usd, max_total_tokens=options.max_total_tokens)
        self._own_dir = options.workdir is None
        if options.workdir is not None and options.workdir.exists() and any(options.workdir.iterdir()):
            raise UsageError(f"--workdir {options.workdir} is not empty", hint="give a new or empty directory")
        # its own (no --workdir): removed as the eval ends, or by the next eval on the machine if this one is killed
        self.workdir = (options.workdir or scratch.owned_dir("agentic-eval-")).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._prepared: Memo[str, Prepared] = Memo()
        self._trees: Memo[tuple[str, str, bool], TreeResults] = Memo()  # (scenario, tree, command?)

    @property
    def own_dir(self) -> bool:
        """The workdir is the eval's own temporary one (removed at the end; journals not kept)."""
        return self._own_dir

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def repeats(self, scenario: Scenario) -> int:
        return self.options.repeats or scenario.repeats

    def plan(self) -> list[tuple[Scenario, int]]:
        """Attempts in the order they start: first attempts of every scenario, then second ones, …
        so concurrent workers prepare different scenarios rather than wait for the same one."""
        most = max((self.repeats(s) for s in self.scenarios), default=0)
        return [(s, n) for n in range(1, most + 1) for s in self.scenarios if n <= self.repeats(s)]

    def run(self, on_attempt: Callable[[AttemptResult], None] | None = None,
            todo: list[tuple[Scenario, int]] | None = None) -> list[AttemptResult]:  # fmt: skip
        """The attempts of `todo` (default: the plan), `concurrency` at a time, in this process. Once the
        eval is cancelled (its budget reached) no new attempt starts and running ones stop at their next
        model call: they are cancelled. Ctrl-C: the same, then KeyboardInterrupt propagates."""
        results: list[AttemptResult] = []
        pool = cf.ThreadPoolExecutor(max_workers=max(1, self.options.concurrency), thread_name_prefix="eval")
        try:
            pending = {pool.submit(self.attempt, s, n) for s, n in (self.plan() if todo is None else todo)}
            while pending:
                done, pending = cf.wait(pending, timeout=0.2, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    results.append(future.result())
                    if on_attempt is not None:
                        on_attempt(results[-1])
        except BaseException:
            self.stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return sorted(results, key=lambda r: (r.attempt.scenario, r.attempt.attempt))

    # -- one scenario, once --

    def prepared(self, scenario: Scenario) -> Prepared:
        return self._prepared.get(scenario.id, lambda: self._prepare(scenario))

    def _prepare(self, scenario: Scenario) -> Prepared:
        prep = Prepared(scenario)
        try:
            started = time.monotonic()
            target = self.workdir / "templates" / scenario.id
            target.parent.mkdir(parents=True, exist_ok=True)
            source = scenario.repo
            if source.fixture is not None:
                prep.base = fixture_repo(source.fixture, target)
            else:
                assert source.git is not None
                prep.base = cloned_repo(source.git, source.ref, target)
            prep.setup_s = time.monotonic() - started
            prep.template = target
            ensure_excluded(target)
            local = source.git if source.git is not None and os.path.isabs(source.git) else None  # not a URL
            if local is not None:
                # its editable installs and virtual environment name its path: shown there, they are the attempt's
                prep.shown_at = os.path.realpath(local)
                show_at(target, prep.shown_at)
            prep.settings = load_settings(target, scenario.settings)
            prep.contract = scenario_contract(scenario, target, prep.settings)
            origin = target if source.fixture is not None else Path(local) if local is not None else None
            prep.generated = generated_files(origin, target, prep.contract.generated)
            repo_model = resolve_model(prep.settings.model, target) if prep.settings.model else None
            prep.model = self.options.model or scenario.model or repo_model
            if prep.model is None:
                raise UsageError("no model: give the scenario a `model:`, or pass --model")
            prep.problem = program_problem(prep.contract, target, prep.shown_at) or test_runner_problem(prep.contract, scenario.checks)
            if prep.problem is None and scenario.checks.needs_tests:
                tests, _ = self._tree_results(prep, target, prep.base, with_command=False)
                prep.problem = base_problem(scenario.checks, tests)
        except Exception as exc:
            prep.problem = describe_error(exc)
        return prep

    # -- one attempt --

    def attempt(self, scenario: Scenario, n: int) -> AttemptResult:
        if (why := self.stopped()) is not None:
            return AttemptResult(cancelled_attempt(scenario, n, why))
        prep = self.prepared(scenario)
        if prep.problem is not None:
            return AttemptResult(error_attempt(scenario, n, prep.problem))
        root = self.workdir / "attempts" / scenario.id / str(n)
        try:
            assert prep.model is not None and prep.settings is not None and prep.contract is not None
            spec = AttemptSpec(load_scenario_model(prep.model, prep.settings, prep.contract), self.stopped, self.fleet,
                               rate_db=self.options.rate_db or self.workdir / "ratelimits.db",
                               keep_journal=not self._own_dir)  # fmt: skip
            return run_attempt(prep, n, root, spec, self._tree_results)
        except Exception as exc:
            return AttemptResult(error_attempt(scenario, n, describe_error(exc)))
        finally:
            if self._own_dir:
                shutil.rmtree(root, ignore_errors=True)

    def stopped(self) -> str | None:
        """Why the eval was cancelled (its budget reached, Ctrl-C), or None while it goes on."""
        return self.fleet.cancelled() or ("interrupted (Ctrl-C)" if self.stop.is_set() else None)

    def _tree_results(self, prep: Prepared, root: Path, commit: str, with_command: bool) -> TreeResults:
        """check_tree, once per distinct tree of a scenario (repeats that produce the same tree share it)."""
        key = (prep.scenario.id, tree_of(root, commit), with_command and prep.scenario.checks.command is not None)
        return self._trees.get(key, lambda: check_tree(prep, root, commit, key[2]))

    # -- what shaped behaviour --

    def fingerprint(self) -> dict[str, Any]:
        return fingerprint([self.prepared(s) for s in self.scenarios], self.options.model)


def summary_of(evaluator: Evaluator, results: list[AttemptResult], started: float, paths: list[str],
               executor: str = "local") -> EvalSummary:  # fmt: skip
    """The eval's summary: statistics, the fingerprint, and how it ran (set-up costs included)."""
    setups: dict[str, list[float]] = {}
    for r in results:
        if r.attempt.run_id is not None:
            setups.setdefault(r.attempt.scenario, []).append(r.setup_s)
    setup = {
        s.id: {"template_s": round(evaluator.prepared(s).setup_s, 4),
               "attempt_setup_median_s": round(statistics.median(setups[s.id]), 4) if s.id in setups else None}
        for s in evaluator.scenarios
    }  # fmt: skip
    meta = {
        "harness": __version__, "started_at": round(started, 3), "wall_s": round(time.time() - started, 3),
        "concurrency": evaluator.options.concurrency, "repeats": evaluator.options.repeats,
        "model": evaluator.options.model, "paths": paths, "setup": setup, "executor": executor,
    }  # fmt: skip
    return summarize([r.attempt for r in results], fingerprint=evaluator.fingerprint(), meta=meta)
