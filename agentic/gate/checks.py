"""The gate: the contract's invariants evaluated on a candidate change. The harness decides "done".

A candidate is a directory where commands run plus what changed relative to the base. Each
invariant yields a CheckResult; the verdict passes only when every check passes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentic.gate import pins
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
    # what the base commit's run of a pytest argv read for its configuration (agentic.gate.Baseline)
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


@dataclass
class Totals:
    """What a test run's report says."""

    tests: int
    failures: int
    errors: int
    skipped: int




REPORT_MAX_BYTES = 64 * 1024 * 1024


def read_report(path: Path, max_bytes: int = REPORT_MAX_BYTES) -> bytes | None:
    """A report the tested process wrote, or None: only a regular file no larger than max_bytes is
    read, never through a link, never blocking (the code under test may swap it for a FIFO, a
    device, a link to /dev/zero or a huge file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        data = fh.read(max_bytes + 1)
    return data if len(data) <= max_bytes else None


def read_junit(path: Path) -> Totals | None:
    """Totals of a JUnit XML report, or None when it is missing or unreadable."""
    data = read_report(path)
    return parse_junit(data) if data is not None else None


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


@dataclass(frozen=True)
class Baseline:
    """What a test command does in the base commit's checkout: how many tests it collects and, for
    pytest, the configuration file it reads and its rootdir (relative to the checkout; "" for none)."""

    collected: int | None
    configfile: str | None = None
    rootdir: str | None = None

    def facts(self) -> dict[str, str]:
        if self.configfile is None:
            return {}
        return {"configfile": self.configfile, "rootdir": self.rootdir or "."}


# Run first by the gate's Python programs (pytest's and unittest's): the standard library and the
# runner's own distributions (pytest, its requirements and installed plugins) are imported from where
# they are installed, never from the checkout, so a `pytest.py`, `unittest/` or `json.py` the change
# adds cannot stand in for the runner or the modules it writes its report with.
GUARD = """
import os, sys
def _agentic_write(report, data):
    # a fresh file renamed over the report: whatever the tests left at its name (a FIFO, a link to
    # a device, a huge file) is replaced, never opened
    import json, tempfile
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(report) or ".", prefix=".report-")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.chmod(tmp, 0o644)
    os.replace(tmp, report)
def _agentic_guard(runner):
    import importlib.machinery as machinery
    here = os.path.realpath(os.getcwd())
    def inside(entry):
        if not isinstance(entry, str):
            return False
        real = os.path.realpath(entry or os.curdir)
        return real == here or real.startswith(here + os.sep)
    names = set(getattr(sys, "stdlib_module_names", ())) - {"test"}
    if not names:
        import sysconfig
        for key in ("stdlib", "platstdlib"):
            folder = sysconfig.get_paths().get(key)
            for name in (os.listdir(folder) if folder and os.path.isdir(folder) else ()):
                names.add(name[:-3] if name.endswith(".py") else name)
        names.add("lib-dynload")
    class Guard:
        @classmethod
        def find_spec(cls, name, path=None, target=None):
            if path is not None or name not in names:
                return None
            spec = machinery.PathFinder.find_spec(name, [p for p in sys.path if not inside(p)])
            if spec is None:
                raise ModuleNotFoundError("No module named %r outside the checkout (the gate)" % name, name=name)
            return spec
    at = next((i for i, f in enumerate(sys.meta_path) if f is machinery.PathFinder), len(sys.meta_path))
    sys.meta_path.insert(at, Guard)
    if not runner:
        return
    import importlib.metadata as metadata, re
    def top_level(dist):
        found = set()
        for file in dist.files or ():
            top = file.parts[0] if file.parts else ""
            top = top[:-3] if top.endswith(".py") else top
            if top and "." not in top and top != "__pycache__":
                found.add(top)
        return found
    def located_outside(dist):
        where = getattr(dist, "_path", None)
        return where is None or not inside(str(where))
    def editable(dist):
        return '"editable": true' in (dist.read_text("direct_url.json") or "")
    todo, done = [runner], set()
    try:
        plugins = metadata.entry_points(group="pytest11")
    except TypeError:
        plugins = metadata.entry_points().get("pytest11", [])
    for ep in plugins:
        dist = getattr(ep, "dist", None)
        if dist is not None and located_outside(dist) and not editable(dist):
            todo.append(dist.metadata["Name"])
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in done:
            continue
        done.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if not located_outside(dist) or editable(dist):
            continue
        names.update(top_level(dist))
        for req in dist.requires or ():
            if "extra ==" not in req:
                match = re.match(r"[A-Za-z0-9._-]+", req)
                if match:
                    todo.append(match.group(0))
"""

# `pytest ARGS` run as `python -c PYTEST MODE REPORT ARGS`: pytest behind the guard; in mode "collect"
# it writes to REPORT how many tests it collects, the configuration file it read and its rootdir.
PYTEST = GUARD + """
mode, report, args = sys.argv[1], sys.argv[2], sys.argv[3:]
_agentic_guard("pytest")
import json
import pytest
class _Probe:
    def pytest_collection_finish(self, session):
        config = session.config
        inipath = getattr(config, "inipath", None) or getattr(config, "inifile", None)
        rootpath = getattr(config, "rootpath", None) or getattr(config, "rootdir", None)
        _agentic_write(report, {"collected": len(session.items), "configfile": str(inipath) if inipath else "",
                                "rootdir": str(rootpath) if rootpath else ""})
if mode == "collect":
    sys.exit(pytest.main([*args, "--collect-only", "-q"], plugins=[_Probe()]))
sys.exit(pytest.main(args))
"""


def pytest_program(argv: list[str]) -> tuple[str, list[str]] | None:
    """The Python that runs a pytest argv and pytest's own arguments, for the gate's program; None
    when the interpreter cannot be told (a `pytest` script whose first line names no Python)."""
    if Path(argv[0]).name.startswith("python"):
        return argv[0], list(argv[3:])
    script = shutil.which(argv[0], path=os.environ.get("PATH") or "/usr/local/bin:/usr/bin:/bin")
    try:
        with open(script or "", "rb") as fh:
            first = fh.readline(512).decode("utf-8", "replace")
    except OSError:
        return None
    words = first[2:].split() if first.startswith("#!") else []
    if words[:1] == ["/usr/bin/env"]:
        words = words[1:]
    if words and Path(words[0]).name.startswith("python") and len(words) == 1:
        return words[0], list(argv[1:])
    return None


# `python -m unittest ARGS` run as `python -c UNITTEST MODE REPORT ARGS`: the same test program,
# with a runner that writes its totals to REPORT (mode "run"), or the number of tests it would run
# without running them (mode "collect").
UNITTEST = GUARD + """
_agentic_guard("")
import json, sys, unittest
mode, report, args = sys.argv[1], sys.argv[2], sys.argv[3:]
def write(data):
    _agentic_write(report, data)
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
    raw = read_report(path)
    try:
        data = json.loads(raw.decode("utf-8")) if raw is not None else None
    except (ValueError, RecursionError):
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


def count_tests(argv: list[str], sandbox: Sandbox, root: Path, timeout_s: float) -> Baseline:
    """How many tests `argv` (pytest or unittest) collects in `root`, without running them; for pytest
    also the configuration file it reads there and its rootdir (what the gate pins: _pinned_pytest)."""
    if is_pytest(argv):
        program = pytest_program(argv)
        if program is None:
            return Baseline(count_collected(sandbox.run([*argv, "--collect-only"], timeout_s=timeout_s).output))
        python, args = program
        report = report_dir(root) / "collect.json"
        sandbox.run([python, "-c", PYTEST, "collect", seen(sandbox, root, report), *args], timeout_s=timeout_s)
        raw = read_report(report)
        try:
            data = json.loads(raw.decode("utf-8")) if raw is not None else None
        except (ValueError, RecursionError):
            return Baseline(None)
        if not isinstance(data, dict) or not isinstance(data.get("collected"), int):
            return Baseline(None)
        top = seen(sandbox, root, root)
        return Baseline(data["collected"], _relative(str(data.get("configfile") or ""), top),
                        _relative(str(data.get("rootdir") or ""), top) or ".")  # fmt: skip
    if is_unittest(argv):
        report = report_dir(root) / "collect.json"
        sandbox.run(unittest_argv(argv, "collect", seen(sandbox, root, report)), timeout_s=timeout_s)
        data = read_json_report(report)
        return Baseline(data.get("collected") if data else None)
    return Baseline(None)


def _relative(path: str, top: str) -> str:
    """`path` relative to the checkout `top`; "" when it is empty or outside the checkout."""
    if not path:
        return ""
    rel = os.path.relpath(os.path.normpath(path), top)
    return "" if rel == ".." or rel.startswith("../") or os.path.isabs(rel) else rel


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


def _pin(argv: list[str], cand: Candidate, extra: list[str] | None = None) -> tuple[list[str] | None, str]:
    """Pin `argv`'s runner configuration from the base commit in the checkout (agentic.pins): the
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
