"""Which of a scenario's named tests pass: one sandboxed run of the contract's test command (pytest
with a JUnit report, or unittest through a small reporting runner) and each id's outcome in it."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from agentic.eval.scenarios import Checks
from agentic.gate.checks import report_dir, seen
from agentic.policy.contract import Contract, is_pytest, is_unittest
from agentic.sandbox import Sandbox

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


def run_test_ids(test_command: tuple[str, ...], ids: tuple[str, ...], root: Path, sandbox: Sandbox,
                 timeout_s: float) -> dict[str, str]:  # fmt: skip
    """Each test id's outcome in the checkout `root`, from one sandboxed test run and its report."""
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
