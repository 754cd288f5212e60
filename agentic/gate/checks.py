"""The gate: the contract's invariants evaluated on a candidate change. The harness decides "done".

A candidate is a directory where commands run plus what changed relative to the base. Each
invariant yields a CheckResult; the verdict passes only when every check passes.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentic.gate import pins
from agentic.gate.counting import Baseline as Baseline
from agentic.gate.counting import count_tests as count_tests
from agentic.gate.counting import imported_elsewhere
from agentic.gate.programs import PYTEST, pytest_program, unittest_argv
from agentic.gate.reports import Totals, parse_junit, read_json_report, read_junit, report_dir, seen
from agentic.git.cmd import git
from agentic.policy.contract import Contract, Invariant, is_pytest, is_unittest
from agentic.sandbox import Sandbox
from agentic.tools.base import ToolFailure
from agentic.util import globs, paths
from agentic.util.redact import looks_secret

ASSIGNED_SECRET = re.compile(
    r"""(?i)(api[_-]?key|secret|token|passw(or)?d|private[_-]?key)\s*[:=]\s*['"][^'"\s]{12,}['"]"""
)
MAX_CHECK_OUTPUT = 4000


@dataclass
class Candidate:
    root: Path  # where command checks run: a clean checkout of the candidate tree
    changes: list[tuple[str, str]]  # (A/M/D/T, path)
    added_lines: list[tuple[str, str]]  # (path, line)
    # the number of tests the base commit collects with a given pytest or unittest argv (None: unknown)
    baseline: Callable[[list[str]], int | None] | None = None
    # the base commit, whose runner configuration the gate pins in `root` (None: nothing to pin against)
    base: str | None = None
    # what the base commit's run of a pytest argv read for its configuration (a Baseline)
    base_facts: Callable[[list[str]], Baseline] | None = None

    @property
    def paths(self) -> list[str]:
        return [p for _, p in self.changes]


@dataclass
class CheckResult:
    id: str
    kind: str
    passed: bool
    detail: str
    duration_s: float = 0.0


@dataclass
class Verdict:
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    def feedback(self) -> str:
        """What the model is told when the gate fails."""
        lines = [f"The gate failed: {len(self.failed)} of {len(self.checks)} checks did not pass."]
        for check in self.failed:
            lines.append(f"\n## {check.id} ({check.kind}) failed\n{check.detail}")
        lines.append("\nFix the problems and call finish again.")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": [asdict(c) for c in self.checks]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        return cls([CheckResult(**c) for c in data.get("checks", [])])


def _trim(text: str, limit: int = MAX_CHECK_OUTPUT) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[… {len(text) - 2 * half} characters cut …]\n{text[-half:]}"


def _pin(argv: list[str], cand: Candidate, extra: list[str] | None = None) -> tuple[list[str] | None, str]:
    """Pin `argv`'s runner configuration from the base commit in the checkout (agentic.gate.pins): the
    paths that differed, and a line saying so (None and the reason when a path cannot be pinned)."""
    patterns = pins.config_globs(argv)
    more = list(extra or [])
    if pins.runner_of(argv) == "make":
        more += list(pins.base_makefile_includes(cand.root, cand.base))
    try:
        changed = pins.pin(cand.root, cand.base, patterns, more)
    except (ToolFailure, OSError) as exc:
        return None, f"the test runner's configuration could not be pinned from the base commit: {exc}"
    if not changed:
        return changed, ""
    shown = ", ".join(changed[:8]) + (f" and {len(changed) - 8} more" if len(changed) > 8 else "")
    return changed, (f"the runner's configuration is the base commit's: the candidate's {shown} "
                     "not used for this check (change it in a commit of its own)\n")


def _command(argv: list[str], timeout_s: float, sandbox: Sandbox | None, cand: Candidate) -> tuple[bool, str]:
    if sandbox is None:
        return False, "commands cannot run: no sandbox is available"
    changed, note = _pin(argv, cand)
    if changed is None:
        return False, note
    result = sandbox.run(list(argv), timeout_s=timeout_s)
    return result.ok, _trim(f"{note}$ {' '.join(argv)}\n{result.output}[{result.summary()}; judged by its exit "
                            "status: name its junit_report in the contract to have the verdict read from a report]")


def _pinned_pytest(argv: list[str], cand: Candidate, sandbox: Sandbox) -> tuple[list[str] | None, str]:
    """The argv the gate runs for a pytest test command: the gate's program (GUARD), the base commit's
    configuration file named with `-c` and its rootdir with `--rootdir`, so that pytest searches for
    no configuration of the candidate's; None and why when the configuration cannot be pinned."""
    program = pytest_program(argv)
    facts = cand.base_facts(list(argv)) if cand.base_facts is not None and cand.base is not None else None
    changed, note = _pin(argv, cand, [facts.configfile] if facts and facts.configfile else [])
    if changed is None:
        return None, note
    if program is None:
        return list(argv), note
    python, args = program
    if facts is not None and facts.configfile is not None:
        configfile = facts.configfile
        if not configfile:  # the base has none: an empty one, so pytest looks for no other
            configfile = f".agentic-pytest-{uuid.uuid4().hex}.ini"
            paths.write_bytes(cand.root, configfile, b"[pytest]\n")
        rootdir = seen(sandbox, cand.root, cand.root / (facts.rootdir or "."))
        args = [*args, "-c", seen(sandbox, cand.root, cand.root / configfile), f"--rootdir={rootdir}"]
    return [python, "-c", PYTEST, "run", "-", *args], note


def _tests(argv: list[str], timeout_s: float, sandbox: Sandbox | None, cand: Candidate,
           junit: str | None = None) -> tuple[bool, str]:  # fmt: skip
    """Run tests with a report the harness reads: the exit status alone never passes.

    pytest and unittest get a report in a directory the harness names; another runner writes the
    JUnit file the contract names (`junit_report`), removed before the run so only a fresh one
    counts. Fails when the report is missing (the process died early or exited on its own), shows
    failures or errors, ran no test, or ran fewer tests than the base commit collects. The runner's
    configuration is pinned from the base commit first (_pin, _pinned_pytest).
    """
    if sandbox is None:
        return False, "commands cannot run: no sandbox is available"
    if junit is not None:
        changed, note = _pin(argv, cand)
        if changed is None:
            return False, note
        with contextlib.suppress(ToolFailure):
            paths.delete(cand.root, junit)
        result = sandbox.run(list(argv), timeout_s=timeout_s)
        summary = _junit_in(cand.root, junit)
    elif is_pytest(argv):
        run, note = _pinned_pytest(argv, cand, sandbox)
        if run is None:
            return False, note
        report = report_dir(cand.root) / "junit.xml"
        result = sandbox.run([*run, f"--junitxml={seen(sandbox, cand.root, report)}", "-o", "junit_family=xunit2"],
                             timeout_s=timeout_s)  # fmt: skip
        summary = read_junit(report)
    else:
        changed, note = _pin(argv, cand)
        if changed is None:
            return False, note
        report = report_dir(cand.root) / "report.json"
        result = sandbox.run(unittest_argv(argv, "run", seen(sandbox, cand.root, report)), timeout_s=timeout_s)
        data = read_json_report(report)
        keys = ("tests", "failures", "errors", "skipped")
        summary = Totals(*(data[k] for k in keys)) if data and all(k in data for k in keys) else None
    shown = f"{note}$ {' '.join(argv)}\n{result.output}[{result.summary()}]"
    if summary is None:
        return False, _trim(f"{shown}\nno test report was written: the test run did not complete")
    ran = summary.tests - summary.skipped
    facts = f"report: {summary.tests} tests, {summary.failures} failures, {summary.errors} errors, {summary.skipped} skipped"
    if summary.failures or summary.errors or not result.ok:
        return False, _trim(f"{shown}\n{facts}")
    base = cand.baseline(list(argv)) if cand.baseline is not None and junit is None else None
    if base is not None and summary.tests < base:
        return False, _trim(f"{shown}\n{facts}\nthe base commit collects {base} tests: {base - summary.tests} went missing")
    if ran == 0:
        return False, _trim(f"{shown}\n{facts}\nno test ran")
    if junit is None and cand.base_facts is not None and cand.base is not None \
            and (elsewhere := imported_elsewhere(cand.base_facts(list(argv)))):  # fmt: skip
        name, where = sorted(elsewhere.items())[0]
        return False, _trim(f"{shown}\n{facts}\nthe tests import {name} from {where}, not from the checkout: they "
                            "never ran the change. Install the project editable (pip install -e .) where the test "
                            "command runs, or add `env: {PYTHONPATH: src}` to the contract")  # fmt: skip
    return True, _trim(f"{shown}\n{facts}" + (f" (base collects {base})" if base is not None else ""))


def reset(root: Path) -> None:
    """Put the checkout back to its commit: what one command check wrote is not there for the next."""
    git(["reset", "-q", "--hard", "HEAD"], root)
    git(["clean", "-q", "-f", "-d", "-x"], root)


def _junit_in(root: Path, rel: str) -> Totals | None:
    """The JUnit report a command wrote at `rel` in the candidate, read without following links."""
    try:
        return parse_junit(paths.read_bytes(root, rel, 64 * 1024 * 1024))
    except ToolFailure:
        return None


def runs_commands(contract: Contract) -> bool:
    """Whether an invariant runs a command (the tests or another): only those need a clean checkout of
    the candidate and a sandbox; the others read the change itself."""
    return any(inv.kind in ("command", "tests") for inv in contract.invariants)


def check_one(
    inv: Invariant, contract: Contract, cand: Candidate, sandbox: Sandbox | None, timeout_s: float
) -> tuple[bool, str]:
    c = inv.check
    timeout = min(float(c.get("timeout_s", timeout_s)), timeout_s)
    if "command" in c or "tests" in c:
        argv = list(c["command"]) if "command" in c else list(contract.test_command)
        if "junit_report" in c or is_pytest(argv) or is_unittest(argv):
            return _tests(argv, timeout, sandbox, cand, c.get("junit_report"))
        return _command(argv, timeout, sandbox, cand)
    if "changed_paths" in c:
        allow, deny = c["changed_paths"].get("allow"), c["changed_paths"].get("deny", [])
        bad = [p for p in cand.paths if (allow is not None and not globs.match_any(allow, p))
               or globs.match_any(deny, p)]  # fmt: skip
        return not bad, ("paths out of scope: " + ", ".join(bad)) if bad else "all changed paths in scope"
    if "max_files_changed" in c:
        n, cap = len(cand.changes), c["max_files_changed"]
        return n <= cap, f"{n} files changed (at most {cap})"
    if "protected_unchanged" in c:
        hits = [p for p in cand.paths if globs.match_any(contract.protected, p)]
        return not hits, ("protected paths changed: " + ", ".join(hits)) if hits else "no protected path changed"
    if "no_secrets" in c:
        found = sorted({p for p, line in cand.added_lines if looks_secret(line) or ASSIGNED_SECRET.search(line)})
        return not found, ("credential-looking strings added in: " + ", ".join(found)) if found else "none found"
    raise ValueError(f"unknown check {inv.check!r}")  # pragma: no cover - the schema forbids it


def evaluate(
    contract: Contract,
    cand: Candidate,
    sandbox: Sandbox | None,
    *,
    timeout_s: float = 600.0,
    on_check: Callable[[CheckResult], None] | None = None,
) -> Verdict:
    verdict = Verdict()
    ran = False
    for inv in contract.invariants:
        start = time.monotonic()
        if "command" in inv.check or "tests" in inv.check:
            if ran and (cand.root / ".git").exists():  # what an earlier command wrote never reaches this one
                reset(cand.root)
            ran = True
        passed, detail = check_one(inv, contract, cand, sandbox, timeout_s)
        result = CheckResult(inv.id, inv.kind, passed, detail, round(time.monotonic() - start, 3))
        verdict.checks.append(result)
        if on_check:
            on_check(result)
    return verdict
