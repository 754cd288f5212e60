"""How many tests a test command collects in a checkout without running them, and what pytest reads
there for its configuration: the base commit's figures the gate holds a candidate to."""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentic.gate.programs import PYTEST, pytest_program, unittest_argv
from agentic.gate.reports import read_json_object, report_dir, seen
from agentic.policy.contract import is_pytest, is_unittest
from agentic.sandbox import Sandbox


@dataclass(frozen=True)
class Baseline:
    """What a test command does in the base commit's checkout: how many tests it collects and, for
    pytest, the configuration file it reads and its rootdir (relative to the checkout; "" for none)."""

    collected: int | None
    configfile: str | None = None
    rootdir: str | None = None
    modules: Mapping[str, str] = field(default_factory=dict, compare=False)  # probed: name -> where imported
    seen_at: str = ""  # the checkout's path as the collecting sandbox showed it (where `modules` should be)

    def facts(self) -> dict[str, str]:
        if self.configfile is None:
            return {}
        return {"configfile": self.configfile, "rootdir": self.rootdir or "."}


class Remembered:
    """Base-commit baselines already taken in this process, by (the base's tree, argv, sandbox
    identity): the repeats of an eval and the runs of a long-lived worker start from one commit (or
    from commits of one tree), and each would otherwise check it out and collect its tests again.
    Only counts that were read are kept (a timeout is asked again); the oldest go past `size`. Safe
    across threads."""

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self._found: OrderedDict[tuple[str, tuple[str, ...], str], Baseline] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, tuple[str, ...], str]) -> Baseline | None:
        with self._lock:
            found = self._found.get(key)
            if found is not None:
                self._found.move_to_end(key)
            return found

    def clear(self) -> None:
        with self._lock:
            self._found.clear()

    def put(self, key: tuple[str, tuple[str, ...], str], baseline: Baseline) -> None:
        if baseline.collected is None:
            return
        with self._lock:
            self._found[key] = baseline
            self._found.move_to_end(key)
            while len(self._found) > self.size:
                self._found.popitem(last=False)


REMEMBERED = Remembered()


def count_tests(argv: list[str], sandbox: Sandbox, root: Path, timeout_s: float, probe: Sequence[str] = ()) -> Baseline:
    """How many tests `argv` (pytest or unittest) collects in `root`, without running them; for pytest
    also the configuration file it reads there and its rootdir (what agentic.gate.checks pins); and
    where the top-level modules `probe` names were imported from by then."""
    mode = f"collect:{','.join(probe)}" if probe else "collect"
    if is_pytest(argv):
        program = pytest_program(argv)
        if program is None:
            return Baseline(count_collected(sandbox.run([*argv, "--collect-only"], timeout_s=timeout_s).output))
        python, args = program
        report = report_dir(root) / "collect.json"
        sandbox.run([python, "-c", PYTEST, mode, seen(sandbox, root, report), *args], timeout_s=timeout_s)
        data = read_json_object(report)
        if data is None or not isinstance(data.get("collected"), int):
            return Baseline(None)
        top = seen(sandbox, root, root)
        return Baseline(data["collected"], _relative(str(data.get("configfile") or ""), top),
                        _relative(str(data.get("rootdir") or ""), top) or ".", _modules(data), top)  # fmt: skip
    if is_unittest(argv):
        report = report_dir(root) / "collect.json"
        sandbox.run(unittest_argv(argv, mode, seen(sandbox, root, report)), timeout_s=timeout_s)
        data = read_json_object(report) or {}
        collected = data.get("collected")
        return Baseline(collected if isinstance(collected, int) and not isinstance(collected, bool) else None,
                        modules=_modules(data), seen_at=seen(sandbox, root, root))  # fmt: skip
    return Baseline(None)


SOURCE_DIRS = ("src", "lib", "python")  # where a src layout keeps its packages


def src_packages(root: Path) -> list[str]:
    """The top-level packages and modules of a src layout (src/, lib/, python/) in a checkout: what its
    tests must import from the checkout (a flat layout's come from its root, first on the path)."""
    found = []
    for base in SOURCE_DIRS:
        if (root / base).is_dir() and not (root / base).is_symlink():
            found += [p.name if p.is_dir() else p.stem for p in sorted((root / base).iterdir())
                      if ((p / "__init__.py").is_file() or (p.suffix == ".py" and p.stem != "conftest"))
                      and p.name.removesuffix(".py").isidentifier()]  # fmt: skip
    return list(dict.fromkeys(found))[:20]


def imported_elsewhere(facts: Baseline) -> dict[str, str]:
    """The probed modules the tests imported from somewhere other than the checkout, each with why:
    an installed copy (site-packages: `pip install .`, not editable), or another directory (an editable
    install of another checkout): what a test run there never exercises of a change."""
    found = {}
    for name, path in facts.modules.items():
        if path and {"site-packages", "dist-packages"} & set(Path(path).parts):
            found[name] = f"an installed copy ({path})"
        elif path and facts.seen_at and os.path.isabs(path) and os.path.commonpath([path, facts.seen_at]) != facts.seen_at:
            found[name] = f"another directory ({path}: an editable install of another checkout?)"
    return found


def _modules(data: dict[str, Any]) -> dict[str, str]:
    found = data.get("modules")
    return {str(k): v for k, v in found.items() if isinstance(v, str)} if isinstance(found, dict) else {}


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
