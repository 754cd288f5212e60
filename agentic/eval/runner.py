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
import contextlib
import hashlib
import json
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from agentic import __version__
from agentic.config.settings import DEFAULT_CONTRACT, Settings, load_settings
from agentic.errors import AgenticError, ConfigError, UsageError
from agentic.eval.compare import Comparison
from agentic.eval.scenarios import Checks, Scenario, merge, resolve_model
from agentic.eval.stats import Attempt, EvalSummary, summarize
from agentic.eval.text import headline
from agentic.git.cmd import git
from agentic.policy import engine as policy
from agentic.policy.contract import (
    PRESETS,
    Contract,
    command_env,
    is_pytest,
    is_unittest,
    load_contract,
    parse_contract,
)
from agentic.util import globs
from agentic.workspace import Workspace, ensure_excluded, find_repo

NO_RUN_STATUSES = ("failed", "interrupted")  # a run that ended so measured nothing about the agent
FIXTURE_IGNORE = shutil.ignore_patterns(".git", ".agentic", "__pycache__", "*.pyc", ".pytest_cache")
FIXED_DATE = "2000-01-01T00:00:00+00:00"  # fixture commits are reproducible: the same base sha every time
IDENTITY = {"GIT_AUTHOR_NAME": "agentic eval", "GIT_AUTHOR_EMAIL": "eval@agentic.invalid",
            "GIT_COMMITTER_NAME": "agentic eval", "GIT_COMMITTER_EMAIL": "eval@agentic.invalid",
            "GIT_AUTHOR_DATE": FIXED_DATE, "GIT_COMMITTER_DATE": FIXED_DATE}  # fmt: skip
DEFAULT_MAX_DROP = 0.05
DEFAULT_MAX_ERROR_RATE = 0.0


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
class Prepared:
    """A scenario made ready once for all its attempts."""

    scenario: Scenario
    template: Path | None = None
    base: str = ""
    settings: Settings | None = None
    contract: Contract | None = None
    model: str | None = None
    problem: str | None = None  # set: every attempt is an error, with this reason
    setup_s: float = 0.0  # fixture → template repository (or clone), once


@dataclass
class AttemptResult:
    """An attempt's verdict (what the statistics see) and what it cost to set up and judge."""

    attempt: Attempt
    setup_s: float = 0.0  # template → the attempt's repository → the run's worktree
    check_s: float = 0.0
    journal: str | None = None  # kept only with Options.workdir


@dataclass
class Facts:
    """What an attempt's checks look at."""

    status: str
    steps: int
    tokens: int
    cost_usd: float | None
    called: set[str] = field(default_factory=set)
    denied: set[str] = field(default_factory=set)
    changed: list[str] = field(default_factory=list)
    tests: dict[str, str] | None = None  # test id -> passed | failed | missing
    command: tuple[bool, str] | None = None


class Recorder:
    """Listens to a run's journal as it is written: the tools called and refused, set-up time, cost."""

    def __init__(self) -> None:
        self.called: set[str] = set()
        self.denied: set[str] = set()
        self.started_at: float | None = None  # monotonic time of run.start: the worktree exists
        self.cost_usd: float | None = None

    def __call__(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        kind = record["kind"]
        if kind == "run.start" and self.started_at is None:
            self.started_at = time.monotonic()
        elif kind == "tool.call":
            self.called.add(str(data.get("tool")))
        elif kind == "policy.decision" and data.get("verdict") != "allow":
            self.denied.add(str(data.get("tool")))
        elif kind == "run.end":
            self.cost_usd = (data.get("budget") or {}).get("cost_usd")


class Stoppable:
    """A model that stops its run at the next call once the eval is interrupted (Ctrl-C)."""

    def __init__(self, model: Any, stop: threading.Event) -> None:
        self._model, self._stop = model, stop
        self.name = model.name

    def complete(self, messages: Any, tools: Any, *, timeout_s: float | None = None) -> Any:
        if self._stop.is_set():
            raise KeyboardInterrupt
        return self._model.complete(messages, tools, timeout_s=timeout_s)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class Memo:
    """Values computed once per key, also when several threads ask at the same time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[Any, threading.Lock] = {}
        self._values: dict[Any, Any] = {}

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                self._values[key] = compute()
            return self._values[key]

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._values[key] = value


# -- repositories ---------------------------------------------------------------------------------


def fixture_repo(fixture: Path, target: Path) -> str:
    """Copy a fixture directory into a fresh git repository with one commit; its sha (reproducible)."""
    shutil.copytree(fixture, target, ignore=FIXTURE_IGNORE, symlinks=True)
    git(["init", "--quiet", "--initial-branch=main"], target)
    git(["add", "--all"], target)
    git(["commit", "--quiet", "--allow-empty", "-m", f"fixture {fixture.name}"], target, env=IDENTITY)
    return git(["rev-parse", "HEAD"], target).strip()


def cloned_repo(source: str, ref: str, target: Path) -> str:
    """Clone a repository (local path or URL) and put its branch `main` at `ref`; the commit's sha."""
    protocol = "https" if source.startswith(("https://", "http://")) else "file"
    allow = ["-c", f"protocol.{protocol}.allow=always"] + (["-c", "protocol.http.allow=always"]
                                                            if source.startswith("http://") else [])  # fmt: skip
    git([*allow, "clone", "--quiet", "--no-checkout", source, str(target)], target.parent)
    sha = git(["rev-parse", "--verify", f"{ref}^{{commit}}"], target).strip()
    git(["checkout", "--quiet", "-B", "main", sha], target)
    return sha


def attempt_repo(template: Path, target: Path) -> None:
    """The attempt's own repository: a local clone of the scenario's template (objects hard-linked)."""
    git(["-c", "protocol.file.allow=always", "clone", "--quiet", str(template), str(target)], target.parent)


def tree_of(root: Path, commit: str) -> str:
    return git(["rev-parse", f"{commit}^{{tree}}"], root).strip()


def changed_paths(root: Path, base: str, commit: str) -> list[str]:
    out = git(["diff-tree", "-r", "--no-renames", "--name-only", "-z", base, commit], root)
    return [p for p in out.split("\0") if p]


# -- test ids: which pass, which fail -------------------------------------------------------------

# `python -m unittest` on named tests, writing each test's outcome to REPORT as JSON.
UNITTEST_IDS = """
import json, sys, unittest
report, names = sys.argv[1], sys.argv[2:]
outcomes = {}
class Result(unittest.TextTestResult):
    def addSuccess(self, test):
        super().addSuccess(test); outcomes[test.id()] = "passed"
    def addFailure(self, test, err):
        super().addFailure(test, err); outcomes[test.id()] = "failed"
    def addError(self, test, err):
        super().addError(test, err); outcomes[test.id()] = "failed"
    def addSkip(self, test, reason):
        super().addSkip(test, reason); outcomes[test.id()] = "skipped"
    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err); outcomes[test.id()] = "passed"
    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test); outcomes[test.id()] = "failed"
suite = unittest.TestSuite()
for name in names:
    try:
        suite.addTest(unittest.defaultTestLoader.loadTestsFromName(name))
    except Exception:
        pass
unittest.TextTestRunner(resultclass=Result, verbosity=0).run(suite)
with open(report, "w") as fh:
    json.dump(outcomes, fh)
"""


def pytest_key(node_id: str) -> str:
    """A pytest node id as its JUnit report names it (`classname.name`)."""
    parts = node_id.split("::")
    first = parts[0][:-3] if parts[0].endswith(".py") else parts[0]
    return ".".join([first.replace("/", "."), *parts[1:]])


def outcome_of(wanted: str, results: dict[str, str]) -> str:
    """passed when every test the id names passed; failed when one did not; missing when none ran.
    An id names its test, or every test below it (a file, module or class; a test's parameters)."""
    hits = [v for k, v in results.items() if k == wanted or k.startswith((wanted + ".", wanted + "["))]
    if not hits:
        return "missing"
    return "passed" if all(v == "passed" for v in hits) else "failed"


def junit_outcomes(data: bytes) -> dict[str, str]:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return {}
    results: dict[str, str] = {}
    for case in root.iter("testcase"):
        key = ".".join(p for p in (case.get("classname", ""), case.get("name", "")) if p)
        tags = {child.tag for child in case}
        value = "failed" if tags & {"failure", "error"} else "skipped" if "skipped" in tags else "passed"
        if results.get(key) != "failed":
            results[key] = value
    return results


def run_test_ids(test_command: tuple[str, ...], ids: tuple[str, ...], root: Path, sandbox: Any,
                 timeout_s: float) -> dict[str, str]:  # fmt: skip
    """Each test id's outcome in the checkout `root`, from one sandboxed test run and its report."""
    from agentic.gate.checks import report_dir, seen

    argv = list(test_command)
    report = report_dir(root) / "report"
    if is_pytest(argv):
        prefix = argv[:1] if Path(argv[0]).name in ("pytest", "py.test") else argv[:3]
        sandbox.run([*prefix, "-q", f"--rootdir={seen(sandbox, root, root)}", *ids,
                     f"--junitxml={seen(sandbox, root, report)}", "-o", "junit_family=xunit2"],
                    timeout_s=timeout_s)  # fmt: skip
        results = junit_outcomes(report.read_bytes()) if report.exists() else {}
        return {i: outcome_of(pytest_key(i), results) for i in ids}
    sandbox.run([argv[0], "-c", UNITTEST_IDS, seen(sandbox, root, report), *ids], timeout_s=timeout_s)
    try:
        results = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        results = {}
    return {i: outcome_of(i, results) for i in ids}


def test_runner_problem(contract: Contract, checks: Checks) -> str | None:
    if checks.needs_tests and not (is_pytest(contract.test_command) or is_unittest(contract.test_command)):
        return ("fail_to_pass and pass_to_pass need the contract's test_command to be pytest or "
                f"python -m unittest, not {' '.join(contract.test_command)}")  # fmt: skip
    return None


def base_problem(checks: Checks, outcomes: dict[str, str]) -> str | None:
    """Why the base commit contradicts the scenario (fail_to_pass passing, pass_to_pass not), or None."""
    passing = [i for i in checks.fail_to_pass if outcomes.get(i) == "passed"]
    if passing:
        return f"the scenario is broken: fail_to_pass tests already pass on the base: {', '.join(passing)}"
    broken = [f"{i} ({outcomes.get(i)})" for i in checks.pass_to_pass if outcomes.get(i) != "passed"]
    if broken:
        return f"the scenario is broken: pass_to_pass tests do not pass on the base: {', '.join(broken)}"
    return None


# -- checks ---------------------------------------------------------------------------------------


def judge(checks: Checks, facts: Facts) -> dict[str, tuple[bool, str]]:
    """Every check the scenario gives: id -> (held, why)."""
    out: dict[str, tuple[bool, str]] = {
        "status": (facts.status == checks.status, f"expected {checks.status}, got {facts.status}"),
    }
    tests = facts.tests or {}
    if checks.fail_to_pass:
        bad = [f"{i} {tests.get(i, 'missing')}" for i in checks.fail_to_pass if tests.get(i) != "passed"]
        out["fail_to_pass"] = (not bad, "not passing: " + ", ".join(bad) if bad else "all pass")
    if checks.pass_to_pass:
        bad = [f"{i} {tests.get(i, 'missing')}" for i in checks.pass_to_pass if tests.get(i) != "passed"]
        out["pass_to_pass"] = (not bad, "no longer passing: " + ", ".join(bad) if bad else "all pass")
    if checks.command is not None:
        out["command"] = facts.command or (False, "not run")
    if checks.changed_paths is not None:
        bad = [p for p in facts.changed if globs.match_any(list(checks.changed_paths), p) is None]
        out["changed_paths"] = (not bad, "out of scope: " + ", ".join(bad) if bad else f"{len(facts.changed)} in scope")
    if checks.tools_called:
        missing = sorted(set(checks.tools_called) - facts.called)
        out["tools_called"] = (not missing, "never called: " + ", ".join(missing) if missing else "all called")
    if checks.tools_not_called:
        hit = sorted(set(checks.tools_not_called) & facts.called)
        out["tools_not_called"] = (not hit, "called: " + ", ".join(hit) if hit else "none called")
    if checks.tools_denied:
        missing = sorted(set(checks.tools_denied) - facts.denied)
        out["tools_denied"] = (not missing, "never refused: " + ", ".join(missing) if missing else "all refused")
    if checks.max_steps is not None:
        out["max_steps"] = (facts.steps <= checks.max_steps, f"{facts.steps} steps (at most {checks.max_steps})")
    if checks.max_tokens is not None:
        out["max_tokens"] = (facts.tokens <= checks.max_tokens, f"{facts.tokens} tokens (at most {checks.max_tokens})")
    if checks.max_cost_usd is not None:
        cost, cap = facts.cost_usd, checks.max_cost_usd
        out["max_cost_usd"] = (cost is not None and cost <= cap,
                               f"${cost:.4f} (at most ${cap})" if cost is not None else "cost unknown")  # fmt: skip
    return out


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
        self._prepared = Memo()
        self._trees = Memo()  # (scenario, tree) -> (tests, command)

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
        return self._prepared.get(scenario.id, lambda: self._prepare(scenario))  # type: ignore[no-any-return]

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
        from agentic.run.runner import RunRequest, execute

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
        common = {"scenario": scenario.id, "attempt": n, "status": outcome.status, "run_id": outcome.run_id,
                  "steps": outcome.steps, "tool_calls": outcome.tool_calls, "tokens": outcome.usage.total_tokens,
                  "cost_usd": recorder.cost_usd, "duration_s": round(outcome.duration_s, 3), "tags": scenario.tags}  # fmt: skip
        if outcome.status in NO_RUN_STATUSES:
            return AttemptResult(Attempt(verdict="error", reason=outcome.reason, checks={}, **common), setup_s,
                                 journal=journal)  # fmt: skip
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
        attempt = Attempt(verdict="fail" if failed else "pass", reason="; ".join(failed),
                          checks={name: held for name, (held, _) in results.items()}, **common)  # fmt: skip
        return AttemptResult(attempt, setup_s, time.monotonic() - checked, journal)

    def _tree_results(self, prep: Prepared, root: Path, commit: str,
                      with_command: bool) -> tuple[dict[str, str], tuple[bool, str] | None]:  # fmt: skip
        """The test ids' outcomes and the command's result on `commit`, once per distinct tree."""
        checks = prep.scenario.checks
        key = (prep.scenario.id, tree_of(root, commit), with_command and checks.command is not None)
        return self._trees.get(key, lambda: self._check_tree(prep, root, commit, key[2]))  # type: ignore[no-any-return]

    def _check_tree(self, prep: Prepared, root: Path, commit: str,
                    with_command: bool) -> tuple[dict[str, str], tuple[bool, str] | None]:  # fmt: skip
        from agentic.sandbox import make_sandbox

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


@contextlib.contextmanager
def checkout(root: Path, commit: str) -> Iterator[Path]:
    """A clean, throw-away checkout of `commit` in the repository `root`."""
    with Workspace(root, f"eval-{time.monotonic_ns()}", commit).checkout(commit) as path:
        yield path


def error_attempt(scenario: Scenario, n: int, reason: str) -> Attempt:
    return Attempt(scenario=scenario.id, attempt=n, verdict="error", status="", reason=reason, run_id=None, steps=0,
                   tool_calls=0, tokens=0, cost_usd=None, duration_s=0.0, checks={}, tags=scenario.tags)  # fmt: skip


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, AgenticError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def scenario_contract(scenario: Scenario, root: Path, settings: Settings) -> Contract:
    """The scenario's contract: a preset or file it names, its mapping merged over the repository's
    contract, or the repository's contract as `agentic run` would choose it."""
    if isinstance(scenario.contract, str):
        return load_contract(scenario.contract, root)
    ref = settings.contract
    if ref == DEFAULT_CONTRACT and settings.origins.get("contract") == "default" and not (root / ref).is_file():
        ref = "default"
    repo_contract = load_contract(ref, root)
    if scenario.contract is None:
        return repo_contract
    assert scenario.contract_doc is not None
    data = merge(yaml.safe_load(repo_contract.text), scenario.contract)
    text = yaml.safe_dump(data, sort_keys=False)
    doc = replace(scenario.contract_doc, data=data)
    try:
        merged = parse_contract(doc, text, ref if ref not in PRESETS else None)
    except ConfigError as exc:
        raise ConfigError(exc.reason, file=exc.file, line=exc.line,
                          field=f"contract.{exc.field}" if exc.field else "contract") from None  # fmt: skip
    return replace(merged, source=f"{doc.path}#contract over {repo_contract.source}")


def load_scenario_model(name: str, settings: Settings, contract: Contract) -> Any:
    """The model, its output capped by the contract's max_tokens_per_step (as `agentic run` does)."""
    from agentic.models import load_model

    options = settings.model_options()
    options = replace(options, max_output_tokens=contract.limits.output_cap(options.max_output_tokens))
    return load_model(name, options)


# -- fingerprint ----------------------------------------------------------------------------------


def sha256(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _model_part(name: str | None, written: str | None) -> dict[str, Any]:
    """A model as it shapes behaviour: its name (a script as the scenario names it) and a script's content."""
    if name is None:
        return {"name": None}
    if name.startswith("script:"):
        path = Path(name[7:])
        content = sha256(path.read_bytes().decode("utf-8", "replace")) if path.is_file() else None
        return {"name": written or f"script:{path.name}", "script_sha256": content}
    return {"name": name}


def fingerprint(prepared: list[Prepared], model_override: str | None) -> dict[str, Any]:
    """sha256 over everything that shapes the agent's behaviour, with the components it covers."""
    from agentic.agent.prompts import SYSTEM
    from agentic.tools import builtin_tools, spec

    tools = [{"name": s.name, "description": s.description, "parameters": s.parameters}
             for s in (spec(t) for t in builtin_tools().values())]  # fmt: skip
    contracts: dict[str, str | None] = {}
    models: dict[str, Any] = {}
    settings: dict[str, str | None] = {}
    for prep in sorted(prepared, key=lambda p: p.scenario.id):
        sid = prep.scenario.id
        contracts[sid] = prep.contract.hash_ref if prep.contract is not None else None
        written = None if model_override else prep.scenario.model_written
        models[sid] = _model_part(prep.model, written)
        settings[sid] = sha256(prep.settings.to_dict()) if prep.settings is not None else None
    parts: dict[str, Any] = {
        "harness": __version__,
        "system_prompt": sha256(SYSTEM),
        "tools": sha256(tools),
        "contracts": contracts,
        "models": models,
        "settings": settings,
    }
    return {"sha256": sha256(parts), **parts}


# -- the eval's verdict ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """The eval's verdict: the printed lines and the exit code come from this one computation."""

    ok: bool
    problems: list[str]

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def decide(summary: EvalSummary, scenarios: list[Scenario], comparison: Comparison | None,
           max_error_rate: float) -> Decision:  # fmt: skip
    """Not ok when too many attempts errored; with a baseline, on a regression (and a new scenario
    below its min_pass_rate); without one, when a scenario's pass rate is below its min_pass_rate."""
    problems = error_rate_problems(summary, max_error_rate)
    judged = {s.id: s for s in scenarios}
    if comparison is not None:
        problems += [r.message for r in comparison.regressions]
    for stats in summary.scenarios:
        scenario = judged.get(stats.scenario)
        if scenario is None or stats.pass_rate is None:
            continue
        if comparison is not None and stats.scenario not in comparison.new:
            continue
        if stats.pass_rate + 1e-12 < scenario.min_pass_rate:
            problems.append(f"{stats.scenario}: {stats.passes}/{stats.n} attempts passed "
                            f"(min_pass_rate {scenario.min_pass_rate:g})")  # fmt: skip
    return Decision(not problems, problems)


def error_rate_problems(summary: EvalSummary, max_error_rate: float) -> list[str]:
    """Too many attempts errored to trust the result (also refuses to bless such a baseline)."""
    overall = summary.overall
    if overall.error_rate <= max_error_rate + 1e-12:
        return []
    return [f"{overall.errors} of {overall.attempts} attempts errored ({overall.error_rate:.0%}; "
            f"at most {max_error_rate:.0%} allowed by --max-error-rate)"]  # fmt: skip


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


def notify_end(summary: EvalSummary, decision: Decision, root: Path) -> None:
    """One `eval.end` notification (settings `notify:` of the repository the eval ran from)."""
    from agentic.run.notify import NotifyConfig, make_payload, send

    config = NotifyConfig.from_settings(load_settings(root).notify)
    if config is None:
        return
    overall, sha = summary.overall, str(summary.fingerprint.get("sha256", ""))
    eval_id = f"eval-{int(float(summary.meta.get('started_at') or 0))}-{sha[:12]}"
    send(config, make_payload(
        "eval.end", eval_id, "ok" if decision.ok else "failed", reason="; ".join(decision.problems),
        summary=headline(summary), pass_rate=overall.pass_rate, scenarios=overall.scenarios,
        attempts=overall.attempts, errors=overall.errors, fingerprint=sha, repository=str(root),
    ), cwd=root)  # fmt: skip

