"""The gate: the contract's invariants evaluated on a candidate change. The harness decides "done".

A candidate is a directory where commands run plus what changed relative to the base. Each
invariant yields a CheckResult; the verdict passes only when every check passes.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentic import globs
from agentic.contract import Contract, Invariant
from agentic.redact import looks_secret
from agentic.sandbox import Sandbox

ASSIGNED_SECRET = re.compile(
    r"""(?i)(api[_-]?key|secret|token|passw(or)?d|private[_-]?key)\s*[:=]\s*['"][^'"\s]{12,}['"]"""
)
MAX_CHECK_OUTPUT = 4000


@dataclass
class Candidate:
    root: Path  # where command checks run: a clean checkout of the candidate tree
    changes: list[tuple[str, str]]  # (A/M/D/T, path)
    added_lines: list[tuple[str, str]]  # (path, line)
    # the number of tests the base commit collects with a given pytest argv (None: unknown)
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


def is_pytest(argv: list[str]) -> bool:
    """`pytest …`, `py.test …` or `python -m pytest …`."""
    if not argv:
        return False
    program = Path(argv[0]).name
    if program in ("pytest", "py.test"):
        return True
    return program.startswith("python") and argv[1:3] == ["-m", "pytest"]


@dataclass
class JUnitReport:
    tests: int
    failures: int
    errors: int
    skipped: int


def read_junit(path: Path) -> JUnitReport | None:
    """Totals of a JUnit XML report, or None when it is missing or unreadable."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    if not suites:
        return None
    total = JUnitReport(0, 0, 0, 0)
    for suite in suites:
        for field_name in ("tests", "failures", "errors", "skipped"):
            value = int(suite.get(field_name, "0") or 0)
            setattr(total, field_name, getattr(total, field_name) + value)
    return total


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
    return result.ok, _trim(f"$ {' '.join(argv)}\n{result.output}[{result.summary()}]")


def _pytest(argv: list[str], timeout_s: float, sandbox: Sandbox | None, cand: Candidate) -> tuple[bool, str]:
    """Run pytest with a JUnit report the harness names and reads: the exit status alone never passes.

    Fails when the report is missing (the process died early or exited on its own), shows failures
    or errors, or ran fewer tests than the base commit collects.
    """
    if sandbox is None:
        return False, "commands cannot run: no sandbox is available"
    report_dir = cand.root / f".agentic-report-{uuid.uuid4().hex}"
    report_dir.mkdir()
    report_dir.chmod(0o777)  # the sandboxed command may run as an unprivileged user
    report = report_dir / "junit.xml"
    full = [*argv, f"--junitxml={report}", "-o", "junit_family=xunit2"]
    result = sandbox.run(full, timeout_s=timeout_s)
    shown = f"$ {' '.join(argv)}\n{result.output}[{result.summary()}]"
    summary = read_junit(report)
    if summary is None:
        return False, _trim(f"{shown}\nno test report was written: the test run did not complete")
    ran = summary.tests - summary.skipped
    facts = f"report: {summary.tests} tests, {summary.failures} failures, {summary.errors} errors, {summary.skipped} skipped"
    if summary.failures or summary.errors or not result.ok:
        return False, _trim(f"{shown}\n{facts}")
    base = cand.baseline(list(argv)) if cand.baseline is not None else None
    if base is not None and summary.tests < base:
        return False, _trim(f"{shown}\n{facts}\nthe base commit collects {base} tests: {base - summary.tests} went missing")
    if ran == 0 and summary.tests == 0:
        return False, _trim(f"{shown}\n{facts}\nno test ran")
    return True, _trim(f"{shown}\n{facts}" + (f" (base collects {base})" if base is not None else ""))


def check_one(
    inv: Invariant, contract: Contract, cand: Candidate, sandbox: Sandbox | None, timeout_s: float
) -> tuple[bool, str]:
    c = inv.check
    timeout = min(float(c.get("timeout_s", timeout_s)), timeout_s)
    if "command" in c or "tests" in c:
        argv = list(c["command"]) if "command" in c else list(contract.test_command)
        if is_pytest(argv):
            return _pytest(argv, timeout, sandbox, cand)
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
