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
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

from agentic import __version__
from agentic.config.settings import load_settings
from agentic.errors import UsageError
from agentic.eval.fingerprint import fingerprint
from agentic.eval.judge import Facts, judge
from agentic.eval.prepare import (
    Prepared,
    describe_error,
    error_attempt,
    load_scenario_model,
    scenario_contract,
)
from agentic.eval.repos import attempt_repo, changed_paths, checkout, cloned_repo, fixture_repo, tree_of
from agentic.eval.scenarios import Scenario, resolve_model
from agentic.eval.stats import Attempt, EvalSummary, summarize
from agentic.eval.testids import base_problem, run_test_ids, test_runner_problem
from agentic.journal.events import PolicyDecision, RunEnd, RunStart, ToolCall, entry
from agentic.models.base import Message, Model, ToolSpec, Turn
from agentic.policy import engine as policy
from agentic.policy.contract import command_env
from agentic.run.runner import RunRequest, execute
from agentic.sandbox import make_sandbox
from agentic.workspace import ensure_excluded, find_repo

NO_RUN_STATUSES = ("failed", "interrupted")  # a run that ended so measured nothing about the agent
DEFAULT_MAX_DROP = 0.05
DEFAULT_MAX_ERROR_RATE = 0.0
K = TypeVar("K")
V = TypeVar("V")
TreeResults = tuple[dict[str, str], tuple[bool, str] | None]  # test id -> outcome; the command's (ok, what)


@dataclass(frozen=True)
class Options:
    repeats: int | None = None  # overrides every scenario's
    concurrency: int = 2
    model: str | None = None  # overrides every scenario's (a script path already absolute)
    workdir: Path | None = None  # keep the attempts' repositories (and journals) here
    # where attempts book model calls against provider rate limits: the invoking repository's file,
    # so an eval and the repository's other runs share the limits (default: the eval's own)
    rate_db: Path | None = None


@dataclass
class AttemptResult:
    """An attempt's verdict (what the statistics see) and what it cost to set up and judge."""

    attempt: Attempt
    setup_s: float = 0.0  # template → the attempt's repository → the run's worktree
    check_s: float = 0.0
    journal: str | None = None  # kept only with Options.workdir


class Recorder:
    """Listens to a run's journal as it is written: the tools called and refused, set-up time, cost."""

    def __init__(self) -> None:
        self.called: set[str] = set()
        self.denied: set[str] = set()
        self.started_at: float | None = None  # monotonic time of run.start: the worktree exists
        self.cost_usd: float | None = None

    def __call__(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        match entry(record, data).event:
            case RunStart() if self.started_at is None:
                self.started_at = time.monotonic()
            case ToolCall(tool=tool):
                self.called.add(str(tool))
            case PolicyDecision(verdict=verdict, tool=tool) if verdict != "allow":
                self.denied.add(str(tool))
            case RunEnd(budget=budget):
                self.cost_usd = (budget or {}).get("cost_usd")


class Stoppable:
    """A model that stops its run at the next call once the eval is interrupted (Ctrl-C)."""

    def __init__(self, model: Model, stop: threading.Event) -> None:
        self._model, self._stop = model, stop
        self.name = model.name

    def complete(self, messages: list[Message], tools: list[ToolSpec], *,
                 timeout_s: float | None = None) -> Turn:  # fmt: skip
        if self._stop.is_set():
            raise KeyboardInterrupt
        return self._model.complete(messages, tools, timeout_s=timeout_s)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


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
        self._own_dir = options.workdir is None
        if options.workdir is not None and options.workdir.exists() and any(options.workdir.iterdir()):
            raise UsageError(f"--workdir {options.workdir} is not empty", hint="give a new or empty directory")
        self.workdir = (options.workdir or Path(tempfile.mkdtemp(prefix="agentic-eval-"))).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._prepared: Memo[str, Prepared] = Memo()
        self._trees: Memo[tuple[str, str, bool], TreeResults] = Memo()  # (scenario, tree, command?)

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

    def run(self, on_attempt: Callable[[AttemptResult], None] | None = None) -> list[AttemptResult]:
        """Every attempt, `concurrency` at a time. Ctrl-C: no new attempt starts, running ones stop at
        their next model call (their journals end `interrupted`), then KeyboardInterrupt propagates."""
        results: list[AttemptResult] = []
        pool = cf.ThreadPoolExecutor(max_workers=max(1, self.options.concurrency), thread_name_prefix="eval")
        try:
            pending = {pool.submit(self.attempt, s, n) for s, n in self.plan()}
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
            prep.settings = load_settings(target, scenario.settings)
            prep.contract = scenario_contract(scenario, target, prep.settings)
            repo_model = resolve_model(prep.settings.model, target) if prep.settings.model else None
            prep.model = self.options.model or scenario.model or repo_model
            if prep.model is None:
                raise UsageError("no model: give the scenario a `model:`, or pass --model")
            prep.problem = test_runner_problem(prep.contract, scenario.checks)
            if prep.problem is None and scenario.checks.needs_tests:
                tests, _ = self._tree_results(prep, target, prep.base, with_command=False)
                prep.problem = base_problem(scenario.checks, tests)
        except Exception as exc:
            prep.problem = describe_error(exc)
        return prep

    # -- one attempt --

    def attempt(self, scenario: Scenario, n: int) -> AttemptResult:
        if self.stop.is_set():
            return AttemptResult(error_attempt(scenario, n, "interrupted before it started"))
        prep = self.prepared(scenario)
        if prep.problem is not None:
            return AttemptResult(error_attempt(scenario, n, prep.problem))
        root = self.workdir / "attempts" / scenario.id / str(n)
        try:
            return self._attempt(prep, n, root)
        except Exception as exc:
            return AttemptResult(error_attempt(scenario, n, describe_error(exc)))
        finally:
            if self._own_dir:
                shutil.rmtree(root, ignore_errors=True)

    def _attempt(self, prep: Prepared, n: int, root: Path) -> AttemptResult:
        scenario, settings, contract = prep.scenario, prep.settings, prep.contract
        assert prep.template is not None and settings is not None and contract is not None and prep.model
        started = time.monotonic()
        root.parent.mkdir(parents=True, exist_ok=True)
        attempt_repo(prep.template, root)
        cloned = time.monotonic() - started
        info = find_repo(root)
        model = Stoppable(load_scenario_model(prep.model, settings, contract), self.stop)
        recorder = Recorder()
        run_started = time.monotonic()
        quiet = replace(settings, notify=None)  # the eval as a whole notifies once (notify_end)
        outcome = execute(RunRequest(scenario.task, info, quiet, contract, model, policy.deny_all,
                                     argv=["agentic", "eval", scenario.id, f"attempt {n}"], on_record=recorder,
                                     rate_db=self.options.rate_db or self.workdir / "ratelimits.db"))  # fmt: skip
        setup_s = cloned + ((recorder.started_at or run_started) - run_started)
        journal = str(outcome.journal) if not self._own_dir else None
        made = Attempt(scenario=scenario.id, attempt=n, verdict="error", status=outcome.status,
                       reason=outcome.reason, run_id=outcome.run_id, steps=outcome.steps, tool_calls=outcome.tool_calls,
                       tokens=outcome.usage.total_tokens, cost_usd=recorder.cost_usd,
                       duration_s=round(outcome.duration_s, 3), checks={}, tags=scenario.tags)  # fmt: skip
        if outcome.status in NO_RUN_STATUSES:
            return AttemptResult(made, setup_s, journal=journal)
        checked = time.monotonic()
        delivered = outcome.commit or prep.base
        facts = Facts(outcome.status, outcome.steps, outcome.usage.total_tokens, recorder.cost_usd,
                      recorder.called, recorder.denied)  # fmt: skip
        checks = scenario.checks
        if checks.changed_paths is not None:
            facts.changed = changed_paths(root, prep.base, delivered)
        if checks.needs_tests or checks.command is not None:
            facts.tests, facts.command = self._tree_results(prep, root, delivered, with_command=True)
        results = judge(checks, facts)
        failed = [f"{name}: {why}" for name, (held, why) in results.items() if not held]
        attempt = replace(made, verdict="fail" if failed else "pass", reason="; ".join(failed),
                          checks={name: held for name, (held, _) in results.items()})  # fmt: skip
        return AttemptResult(attempt, setup_s, time.monotonic() - checked, journal)

    def _tree_results(self, prep: Prepared, root: Path, commit: str,
                      with_command: bool) -> TreeResults:  # fmt: skip
        """The test ids' outcomes and the command's result on `commit`, once per distinct tree."""
        checks = prep.scenario.checks
        key = (prep.scenario.id, tree_of(root, commit), with_command and checks.command is not None)
        return self._trees.get(key, lambda: self._check_tree(prep, root, commit, key[2]))

    def _check_tree(self, prep: Prepared, root: Path, commit: str, with_command: bool) -> TreeResults:
        checks, contract, settings = prep.scenario.checks, prep.contract, prep.settings
        assert contract is not None and settings is not None
        ids = checks.fail_to_pass + checks.pass_to_pass
        with checkout(root, commit) as tree_root:
            sandbox = make_sandbox(tree_root, [], fallback=settings.sandbox == "auto", env=command_env(contract))
            try:
                tests = run_test_ids(contract.test_command, ids, tree_root, sandbox, checks.timeout_s) if ids else {}
                command = None
                if with_command and checks.command is not None:
                    result = sandbox.run(list(checks.command), timeout_s=checks.timeout_s)
                    tail = result.output[-600:].strip()
                    command = (result.ok, f"$ {' '.join(checks.command)}: {result.summary()}" +
                               (f"\n{tail}" if tail and not result.ok else ""))  # fmt: skip
            finally:
                sandbox.close()
        return tests, command

    # -- what shaped behaviour --

    def fingerprint(self) -> dict[str, Any]:
        return fingerprint([self.prepared(s) for s in self.scenarios], self.options.model)


def summary_of(evaluator: Evaluator, results: list[AttemptResult], started: float, paths: list[str]) -> EvalSummary:
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
        "model": evaluator.options.model, "paths": paths, "setup": setup,
    }  # fmt: skip
    return summarize([r.attempt for r in results], fingerprint=evaluator.fingerprint(), meta=meta)
