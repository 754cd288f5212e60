"""One attempt of a scenario, wherever it runs (a thread of the local executor, a Ray task): its
repository cloned from the scenario's template, the governed run, then the checks on what it delivered.

    template ─▶ clone ─▶ runner.execute (own journal; headless: an `ask` is denied; the model
    │           governed: stops at the eval's cancel, each call charged to the eval's budget)
    ▼
    the run's commit, or the base ─▶ checks (tests / command in the sandbox, once per distinct tree
    with the local executor) ─▶ AttemptResult (pass / fail / error / cancelled)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agentic.eval.fleet import Limits
from agentic.eval.judge import Facts, judge
from agentic.eval.prepare import Prepared
from agentic.eval.repos import attempt_repo, changed_paths, checkout
from agentic.eval.stats import Attempt
from agentic.eval.testids import run_test_ids
from agentic.git.view import show_at
from agentic.journal.events import PolicyDecision, RunEnd, RunStart, ToolCall, entry
from agentic.models.base import Message, Model, ToolSpec, Turn
from agentic.models.pricing import price_of
from agentic.models.ratelimit import Book
from agentic.policy import engine as policy
from agentic.policy.contract import command_env
from agentic.run.runner import RunRequest, execute
from agentic.sandbox import make_sandbox, program_envs
from agentic.workspace import find_repo
from agentic.workspace.generated import place

NO_RUN_STATUSES = ("failed", "interrupted")  # a run that ended so measured nothing about the agent
TreeResults = tuple[dict[str, str], tuple[bool, str] | None]  # test id -> outcome; the command's (ok, what)
TreeChecker = Callable[[Prepared, Path, str, bool], TreeResults]  # (prep, repository, commit, with command?)


@dataclass
class AttemptResult:
    """An attempt's verdict (what the statistics see) and what it cost to set up and judge."""

    attempt: Attempt
    setup_s: float = 0.0  # template → the attempt's repository → the run's worktree
    check_s: float = 0.0
    journal: str | None = None  # kept only with Options.workdir
    tries: int = 1  # the try that gave this result (more than 1: earlier tries were lost with their worker)


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


class Governed:
    """The attempt's model under the eval: it stops the run at its next call once the eval is
    cancelled (Ctrl-C, the eval's budget), and charges every answer to the eval's budget."""

    def __init__(self, model: Model, stopped: Callable[[], str | None], limits: Limits | None,
                 prices: dict[str, Any] | None = None) -> None:  # fmt: skip
        self._model, self._stopped, self._limits = model, stopped, limits
        self._price = price_of(model.name, prices)
        self.name = model.name

    def complete(self, messages: list[Message], tools: list[ToolSpec], *,
                 timeout_s: float | None = None) -> Turn:  # fmt: skip
        if self._stopped() is not None:
            raise KeyboardInterrupt
        turn = self._model.complete(messages, tools, timeout_s=timeout_s)
        if self._limits is not None:
            cost = self._price.cost(turn.usage) if self._price is not None else None
            self._limits.charge(turn.usage.total_tokens, cost)
        return turn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


@dataclass
class AttemptSpec:
    """What one attempt runs with, besides its scenario's Prepared."""

    model: Model  # already loaded (the scenario's model, its output capped by the contract)
    stopped: Callable[[], str | None]  # why the eval was cancelled, or None
    limits: Limits | None = None  # the eval's fleet: budget (and, on Ray, the rate limits)
    rate_db: Path | None = None  # the provider rate limits' SQLite file (local executor)
    rate_book: Book | None = None  # or the fleet's shared bookings (Ray)
    keep_journal: bool = False


def run_attempt(prep: Prepared, n: int, root: Path, spec: AttemptSpec, check_tree: TreeChecker) -> AttemptResult:
    """Clone the scenario's template into `root`, run the governed run there, judge what it delivered."""
    scenario, settings, contract = prep.scenario, prep.settings, prep.contract
    assert prep.template is not None and settings is not None and contract is not None and prep.model
    started = time.monotonic()
    root.parent.mkdir(parents=True, exist_ok=True)
    attempt_repo(prep.template, root)
    if prep.shown_at is not None:
        show_at(root, prep.shown_at)
    place(root, prep.generated)  # ignored: the run finds them in its repository as in a person's checkout
    cloned = time.monotonic() - started
    recorder = Recorder()
    run_started = time.monotonic()
    quiet = replace(settings, notify=None)  # the eval as a whole notifies once (notify_end)
    model = Governed(spec.model, spec.stopped, spec.limits, settings.prices)
    outcome = execute(RunRequest(scenario.task, find_repo(root), quiet, contract, model, policy.deny_all,
                                 argv=["agentic", "eval", scenario.id, f"attempt {n}"], on_record=recorder,
                                 rate_db=spec.rate_db, rate_book=spec.rate_book))  # fmt: skip
    setup_s = cloned + ((recorder.started_at or run_started) - run_started)
    journal = str(outcome.journal) if spec.keep_journal else None
    made = Attempt(scenario=scenario.id, attempt=n, verdict="error", status=outcome.status,
                   reason=outcome.reason, run_id=outcome.run_id, steps=outcome.steps, tool_calls=outcome.tool_calls,
                   tokens=outcome.usage.total_tokens, cost_usd=recorder.cost_usd,
                   duration_s=round(outcome.duration_s, 3), checks={}, tags=scenario.tags)  # fmt: skip
    cancelled = spec.stopped()
    if outcome.status == "interrupted" and cancelled is not None:
        return AttemptResult(replace(made, verdict="cancelled", reason=cancelled), setup_s, journal=journal)
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
        facts.tests, facts.command = check_tree(prep, root, delivered, True)
    results = judge(checks, facts)
    failed = [f"{name}: {why}" for name, (held, why) in results.items() if not held]
    attempt = replace(made, verdict="fail" if failed else "pass", reason="; ".join(failed),
                      checks={name: held for name, (held, _) in results.items()})  # fmt: skip
    return AttemptResult(attempt, setup_s, time.monotonic() - checked, journal)


def check_tree(prep: Prepared, root: Path, commit: str, with_command: bool) -> TreeResults:
    """The scenario's test ids' outcomes and its command's result on `commit`, on a clean checkout in
    the sandbox."""
    checks, contract, settings = prep.scenario.checks, prep.contract, prep.settings
    assert contract is not None and settings is not None
    with_command = with_command and checks.command is not None
    ids = checks.fail_to_pass + checks.pass_to_pass
    with checkout(root, commit, contract.generated) as tree_root:
        sandbox = make_sandbox(tree_root, [], fallback=settings.sandbox == "auto", env=command_env(contract),
                               expose=program_envs(contract.test_command))  # fmt: skip
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
