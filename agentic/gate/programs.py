"""The Python programs the gate runs pytest and unittest with: the runner imported from where it is
installed (never from the checkout), and a report written where the harness asks."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# Run first by the gate's Python programs (pytest's and unittest's): the standard library and the
# runner's own distributions (pytest, its requirements and installed plugins) are imported from where
# they are installed, never from the checkout, so a `pytest.py`, `unittest/` or `json.py` the change
# adds cannot stand in for the runner or the modules it writes its report with.
GUARD = """
import os, sys
def _agentic_write(report, data):
    # a fresh file renamed over the report: whatever the tests left at its name (a FIFO, a link to
    # a device, a huge file) is replaced, never opened. Made as tempfile.mkstemp makes one (a new
    # random name, O_EXCL, no link followed), without tempfile's imports (random, shutil: about 5 ms
    # of every test run the gate makes)
    import json
    while True:
        tmp = os.path.join(os.path.dirname(report) or ".", ".report-" + os.urandom(8).hex())
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            break
        except FileExistsError:
            continue
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.chmod(tmp, 0o644)
    os.replace(tmp, report)
def _agentic_modules(names):
    # where each of these top-level modules was imported from, once the tests were collected (doctor:
    # the project's packages from the checkout, not from an installed copy); "" when not imported
    found = {}
    for name in names:
        try:
            path = getattr(sys.modules.get(name), "__file__", None)
        except Exception:
            path = None
        found[name] = path if isinstance(path, str) else ""
    return found
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
    seen = {}  # sys.path (as a tuple) -> its entries outside the checkout: realpath once, not per import
    def outside():
        try:
            key = tuple(sys.path)
            hash(key)
        except TypeError:
            return [p for p in sys.path if not inside(p)]
        if key not in seen:
            seen[key] = [p for p in key if not inside(p)]
        return seen[key]
    class Guard:
        @classmethod
        def find_spec(cls, name, path=None, target=None):
            if path is not None or name not in names:
                return None
            spec = machinery.PathFinder.find_spec(name, outside())
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
# it writes to REPORT how many tests it collects, the configuration file it read and its rootdir, and
# in mode "collect:NAME,NAME" also where those top-level modules were imported from.
PYTEST = GUARD + """
mode, report, args = sys.argv[1], sys.argv[2], sys.argv[3:]
mode, _, probed = mode.partition(":")
_agentic_guard("pytest")
import json
import pytest
class _Probe:
    def pytest_collection_finish(self, session):
        config = session.config
        inipath = getattr(config, "inipath", None) or getattr(config, "inifile", None)
        rootpath = getattr(config, "rootpath", None) or getattr(config, "rootdir", None)
        _agentic_write(report, {"collected": len(session.items), "configfile": str(inipath) if inipath else "",
                                "rootdir": str(rootpath) if rootpath else "",
                                "modules": _agentic_modules([n for n in probed.split(",") if n])})
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
mode, _, probed = mode.partition(":")
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
            write({"collected": self.test.countTestCases(),
                   "modules": _agentic_modules([n for n in probed.split(",") if n])})
            sys.exit(0)
        super().runTests()
Program(module=None, argv=["python -m unittest", *args], testRunner=Runner)
"""


def unittest_argv(argv: list[str], mode: str, report: Path | str) -> list[str]:
    return [argv[0], "-c", UNITTEST, mode, str(report), *argv[3:]]
