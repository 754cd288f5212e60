"""The gate: the contract's invariants evaluated on a candidate change. The harness decides "done".

A candidate is a directory where commands run plus what changed relative to the base. Each
invariant yields a CheckResult; the verdict passes only when every check passes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentic import globs, paths
from agentic.contract import Contract, Invariant, is_pytest, is_unittest
from agentic.redact import looks_secret
from agentic.sandbox import Sandbox
from agentic.tools.base import ToolFailure

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


@dataclass
class Totals:
    """What a test run's report says."""

    tests: int
    failures: int
    errors: int
    skipped: int




def read_junit(path: Path) -> Totals | None:
    """Totals of a JUnit XML report, or None when it is missing or unreadable."""
    try:
        return parse_junit(path.read_bytes())
    except OSError:
        return None


def parse_junit(data: bytes) -> Totals | None:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    if not suites:
        return None
    total = Totals(0, 0, 0, 0)
    for suite in suites:
        for field_name in ("tests", "failures", "errors", "skipped"):
            try:
                value = int(suite.get(field_name, "0") or 0)
            except ValueError:
                return None
            setattr(total, field_name, getattr(total, field_name) + value)
    return total


# `python -m unittest ARGS` run as `python -c UNITTEST MODE REPORT ARGS`: the same test program,
# with a runner that writes its totals to REPORT (mode "run"), or the number of tests it would run
# without running them (mode "collect").
UNITTEST = """
import json, sys, unittest
mode, report, args = sys.argv[1], sys.argv[2], sys.argv[3:]
def write(data):
    with open(report, "w") as fh:
        json.dump(data, fh)
class Runner(unittest.TextTestRunner):
    def run(self, test):
        result = super().run(test)
        write({"tests": result.testsRun, "failures": len(result.failures) + len(result.unexpectedSuccesses),
               "errors": len(result.errors), "skipped": len(result.skipped)})
        return result
class Program(unittest.TestProgram):
    def runTests(self):
        if mode == "collect":
            write({"collected": self.test.countTestCases()})
            sys.exit(0)
        super().runTests()
Program(module=None, argv=["python -m unittest", *args], testRunner=Runner)
"""


def unittest_argv(argv: list[str], mode: str, report: Path | str) -> list[str]:
    return [argv[0], "-c", UNITTEST, mode, str(report), *argv[3:]]


def read_json_report(path: Path) -> dict[str, int] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not all(isinstance(v, int) for v in data.values()):
        return None
    return data


def report_dir(root: Path) -> Path:
    """A fresh directory, named by the harness, where a test run writes its report."""
    path = root / f".agentic-report-{uuid.uuid4().hex}"
    path.mkdir()
    path.chmod(0o777)  # the sandboxed command may run as an unprivileged user
    return path


def seen(sandbox: Sandbox, root: Path, path: Path) -> str:
    """`path` (under the checkout `root`) as the sandboxed command sees it: the sandbox may show the
    checkout at the repository's own path (BubblewrapSandbox.where)."""
    where = getattr(sandbox, "where", None)
    if not where:
        return str(path)
    return os.path.normpath(os.path.join(where, os.path.relpath(os.path.realpath(path), os.path.realpath(root))))


def count_tests(argv: list[str], sandbox: Sandbox, root: Path, timeout_s: float) -> int | None:
    """How many tests `argv` (pytest or unittest) collects in `root`, without running them."""
    if is_pytest(argv):
        return count_collected(sandbox.run([*argv, "--collect-only"], timeout_s=timeout_s).output)
    if is_unittest(argv):
        report = report_dir(root) / "collect.json"
        sandbox.run(unittest_argv(argv, "collect", seen(sandbox, root, report)), timeout_s=timeout_s)
        data = read_json_report(report)
        return data.get("collected") if data else None
    return None


COLLECTED_PER_FILE = re.compile(r"^(\S.*): (\d+)$")


def count_collected(output: str) -> int | None:
    """Tests listed by `pytest --collect-only`: node ids (-q) or `file: N` lines (-qq)."""
    lines = output.splitlines()
    ids = [line for line in lines if "::" in line and not line.startswith((" ", "<"))]
    if ids:
        return len(ids)
    per_file = [int(m.group(2)) for line in lines if (m := COLLECTED_PER_FILE.match(line))]
    if per_file:
        return sum(per_file)
    return 0 if "no tests collected" in output or "0 tests collected" in output else None


def _command(argv: list[str], timeout_s: float, sandbox: Sandbox | None) -> tuple[bool, str]:
    if sandbox is None:
        return False, "commands cannot run: no sandbox is available"
    result = sandbox.run(list(argv), timeout_s=timeout_s)
    return result.ok, _trim(f"$ {' '.join(argv)}\n{result.output}[{result.summary()}; judged by its exit status: "
                            "name its junit_report in the contract to have the verdict read from a report]")


def _tests(argv: list[str], timeout_s: float, sandbox: Sandbox | None, cand: Candidate,
           junit: str | None = None) -> tuple[bool, str]:  # fmt: skip
    """Run tests with a report the harness reads: the exit status alone never passes.

    pytest and unittest get a report in a directory the harness names; another runner writes the
    JUnit file the contract names (`junit_report`), removed before the run so only a fresh one
    counts. Fails when the report is missing (the process died early or exited on its own), shows
    failures or errors, ran no test, or ran fewer tests than the base commit collects.
    """
    if sandbox is None:
        return False, "commands cannot run: no sandbox is available"
    if junit is not None:
        with contextlib.suppress(ToolFailure):
            paths.delete(cand.root, junit)
        result = sandbox.run(list(argv), timeout_s=timeout_s)
        summary = _junit_in(cand.root, junit)
    elif is_pytest(argv):
        report = report_dir(cand.root) / "junit.xml"
        result = sandbox.run([*argv, f"--junitxml={seen(sandbox, cand.root, report)}", "-o", "junit_family=xunit2"],
                             timeout_s=timeout_s)  # fmt: skip
        summary = read_junit(report)
    else:
        report = report_dir(cand.root) / "report.json"
        result = sandbox.run(unittest_argv(argv, "run", seen(sandbox, cand.root, report)), timeout_s=timeout_s)
        data = read_json_report(report)
        keys = ("tests", "failures", "errors", "skipped")
        summary = Totals(*(data[k] for k in keys)) if data and all(k in data for k in keys) else None
    shown = f"$ {' '.join(argv)}\n{result.output}[{result.summary()}]"
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
    return True, _trim(f"{shown}\n{facts}" + (f" (base collects {base})" if base is not None else ""))


def _junit_in(root: Path, rel: str) -> Totals | None:
    """The JUnit report a command wrote at `rel` in the candidate, read without following links."""
    try:
        return parse_junit(paths.read_bytes(root, rel, 64 * 1024 * 1024))
    except ToolFailure:
        return None


def check_one(
    inv: Invariant, contract: Contract, cand: Candidate, sandbox: Sandbox | None, timeout_s: float
) -> tuple[bool, str]:
    c = inv.check
    timeout = min(float(c.get("timeout_s", timeout_s)), timeout_s)
    if "command" in c or "tests" in c:
        argv = list(c["command"]) if "command" in c else list(contract.test_command)
        if "junit_report" in c or is_pytest(argv) or is_unittest(argv):
            return _tests(argv, timeout, sandbox, cand, c.get("junit_report"))
        return _command(argv, timeout, sandbox)
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
    for inv in contract.invariants:
        start = time.monotonic()
        passed, detail = check_one(inv, contract, cand, sandbox, timeout_s)
        result = CheckResult(inv.id, inv.kind, passed, detail, round(time.monotonic() - start, 3))
        verdict.checks.append(result)
        if on_check:
            on_check(result)
    return verdict
