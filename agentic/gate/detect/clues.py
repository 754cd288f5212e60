"""The evidence: every file that says how the tests run (pytest's configuration, tox, nox, make, package.json,
Cargo.toml, go.mod, runtests.py, manage.py, the test files, the requirements), read into clues."""

from __future__ import annotations

import configparser
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .findings import EXPLICIT, HINT, SUPPORT, Clue, Evidence

MAKEFILES = ("GNUmakefile", "makefile", "Makefile")
MAKE_TEST_TARGET = re.compile(r"^test\s*::?(?!=)(.*)$", re.MULTILINE)
NPM_DEFAULT_TEST = "no test specified"  # what `npm init` writes: a test script that always fails
MAX_TEST_FILES = 60

# What a command line runs, in this order: `coverage run -m pytest` is pytest, `tox -e py` is tox.
RUNS = (
    ("pytest", re.compile(r"(?<![\w./-])(?:py\.test|pytest)(?![\w-])")),
    ("unittest", re.compile(r"-m\s+unittest\b|(?<![\w./-])unittest\s+discover\b")),
    ("django", re.compile(r"\bmanage\.py\s+test\b")),
    ("runtests", re.compile(r"\bruntests\.py\b")),
    ("cargo", re.compile(r"\bcargo\s+test\b")),
    ("go", re.compile(r"\bgo\s+test\b")),
    ("npm", re.compile(r"\b(?:npm|yarn|pnpm)\s+(?:run\s+)?test\b")),
    ("tox", re.compile(r"(?<![\w./-])tox(?![\w.-])")),
    ("nox", re.compile(r"(?<![\w./-])nox(?![\w.-])")),
)  # fmt: skip
PYTEST_REQUIREMENT = re.compile(r"^\s*pytest(?![\w.])", re.MULTILINE)
IMPORTS_PYTEST = re.compile(r"^\s*(?:import pytest\b|from pytest\b)|@pytest\.", re.MULTILINE)
TESTCASE = re.compile(r"\bTestCase\b")


def runs(text: str) -> str | None:
    """The runner a command line runs (pytest, unittest, tox, …), or None for anything else."""
    return next((name for name, pattern in RUNS if pattern.search(text)), None)


def _read(path: Path, limit: int = 200_000) -> str | None:
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            return f.read(limit)
    except OSError:
        return None


def _ini(text: str) -> configparser.ConfigParser | None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    return parser


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> Iterator[str]:
    """Every string and key in a TOML value: the names of requirements however a tool lists them."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _tox_commands(parser: configparser.ConfigParser, source: str) -> list[Clue]:
    """A clue per runner that tox's test environments run, with the first line that runs it."""
    clues: dict[str, Clue] = {}
    for section in parser.sections():
        if section != "testenv" and not section.startswith("testenv:"):
            continue
        for line in parser.get(section, "commands", fallback="").splitlines():
            line = line.strip().lstrip("-").strip()
            runner = runs(line) if line else None
            if runner is not None and runner not in clues:
                clues[runner] = Clue(runner, Evidence(f"{source} [{section}] commands", f"`{line}`", EXPLICIT))
    return list(clues.values())


def _pyproject(root: Path) -> list[Clue]:
    text = _read(root / "pyproject.toml")
    if text is None:
        return []
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return []
    tool = _table(data, "tool")
    clues = []
    if isinstance(tool.get("pytest"), dict):
        section = "[tool.pytest.ini_options]" if "ini_options" in tool["pytest"] else "[tool.pytest]"
        clues.append(Clue("pytest", Evidence(f"pyproject.toml {section}", "pytest's configuration", EXPLICIT)))
    groups = [_table(data, "project").get("optional-dependencies"), data.get("dependency-groups"), tool.get("poetry"),
              _table(tool, "pdm").get("dev-dependencies"), _table(tool, "hatch").get("envs")]  # fmt: skip
    if any(PYTEST_REQUIREMENT.match(s) for s in _strings(groups)):
        clues.append(Clue("pytest", Evidence("pyproject.toml", "names pytest (dependencies or scripts)", SUPPORT)))
    legacy = _table(tool, "tox").get("legacy_tox_ini")
    if isinstance(legacy, str) and (parser := _ini(legacy)) is not None:
        clues.extend(_tox_commands(parser, "pyproject.toml [tool.tox]"))
    return clues


def _setup_cfg(root: Path) -> list[Clue]:
    text = _read(root / "setup.cfg")
    parser = _ini(text) if text is not None else None
    if parser is None:
        return []
    clues = []
    if parser.has_section("tool:pytest"):
        clues.append(Clue("pytest", Evidence("setup.cfg [tool:pytest]", "pytest's configuration", EXPLICIT)))
    extras = [parser.get("options", "tests_require", fallback="")]
    if parser.has_section("options.extras_require"):
        extras.extend(value for _, value in parser.items("options.extras_require"))
    if any(PYTEST_REQUIREMENT.search(value) for value in extras):
        clues.append(Clue("pytest", Evidence("setup.cfg [options]", "lists pytest among its requirements", SUPPORT)))
    return clues


def _pytest_files(root: Path) -> list[Clue]:
    clues = []
    if (root / "pytest.ini").is_file():
        clues.append(Clue("pytest", Evidence("pytest.ini", "pytest's configuration", EXPLICIT)))
    conftest = next((rel for rel in ("conftest.py", "tests/conftest.py", "test/conftest.py")
                     if (root / rel).is_file()), None)  # fmt: skip
    if conftest is not None:
        clues.append(Clue("pytest", Evidence(conftest, "pytest fixtures", EXPLICIT)))
    setup_py = _read(root / "setup.py")
    if setup_py is not None and re.search(r"[\"']pytest(?![\w.])", setup_py):
        clues.append(Clue("pytest", Evidence("setup.py", "names pytest among its requirements", SUPPORT)))
    return clues


def _tox(root: Path) -> list[Clue]:
    text = _read(root / "tox.ini")
    parser = _ini(text) if text is not None else None
    if parser is None:
        return []
    clues = _tox_commands(parser, "tox.ini")
    if parser.has_section("pytest"):
        clues.append(Clue("pytest", Evidence("tox.ini [pytest]", "pytest's configuration", EXPLICIT)))
    return clues


def _nox(root: Path) -> list[Clue]:
    text = _read(root / "noxfile.py")
    if text is None:
        return []
    clues: dict[str, Clue] = {}
    for call in re.finditer(r"session\.run\(([^)]*)\)", text):
        words = re.findall(r"[\"']([^\"']*)[\"']", call.group(1))
        runner = runs(" ".join(words))
        if runner is not None and runner not in clues:
            shown = ", ".join(json.dumps(w) for w in words[:4]) + (", …" if len(words) > 4 else "")
            clues[runner] = Clue(runner, Evidence("noxfile.py", f"session.run({shown})", EXPLICIT))
    return list(clues.values())


def _make_recipe(text: str, target: str) -> tuple[list[str], list[str]]:
    """The recipe lines of `target` and its prerequisites, from a Makefile's text."""
    found = re.search(rf"^{re.escape(target)}\s*::?(?!=)(.*)$", text, re.MULTILINE)
    if found is None:
        return [], []
    prerequisites, _, inline = found.group(1).partition(";")
    lines = [inline.strip()] if inline.strip() else []
    for line in text[found.end() + 1 :].splitlines():
        if line.startswith("\t"):
            lines.append(line.strip().lstrip("@-+").strip())
        elif line.strip() and not line.lstrip().startswith("#"):
            break
    return [line for line in lines if line], prerequisites.split()


def _make(root: Path) -> list[Clue]:
    for name in MAKEFILES:
        text = _read(root / name)
        if text is None or not MAKE_TEST_TARGET.search(text):
            continue
        recipe, prerequisites = _make_recipe(text, "test")
        for dep in prerequisites if not any(runs(line) for line in recipe) else ():
            recipe.extend(_make_recipe(text, dep)[0])  # `test: unit` runs unit's recipe
        line = next((line for line in recipe if runs(line)), None)
        runner = runs(line) if line else None
        make = ("make", "test")
        if runner is None:
            return [Clue("make", Evidence(f"{name} test target", "runs its own recipe", EXPLICIT), make)]
        says = f"runs `{line}`"
        clues = [Clue(runner, Evidence(f"{name} test target", says, HINT), make)]
        if runner not in ("tox", "nox"):  # tox and nox install dependencies: the network, not the sandbox
            clues.append(Clue(runner, Evidence(f"{name} test target", says, EXPLICIT)))
        return clues
    return []


def _npm(root: Path) -> list[Clue]:
    try:
        data = json.loads((root / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    scripts = data.get("scripts") if isinstance(data, dict) else None
    test = scripts.get("test") if isinstance(scripts, dict) else None
    if not isinstance(test, str) or not test.strip() or NPM_DEFAULT_TEST in test:
        return []
    return [Clue("npm", Evidence("package.json scripts.test", f"`{test.strip()[:80]}`", EXPLICIT))]


def _manifests(root: Path) -> list[Clue]:
    clues = []
    if (root / "Cargo.toml").is_file():
        clues.append(Clue("cargo", Evidence("Cargo.toml", "a Rust package", EXPLICIT)))
    if (root / "go.mod").is_file():
        clues.append(Clue("go", Evidence("go.mod", "a Go module", EXPLICIT)))
    return clues


def _scripts(root: Path) -> list[Clue]:
    """runtests.py (`python runtests.py`) and Django's manage.py (`python manage.py test`)."""
    clues = []
    runtests = _read(root / "runtests.py")
    if runtests is not None:
        runner = "pytest" if re.search(r"\bpytest\b", runtests) else "runtests"
        says = "the project's test script" + (", which runs pytest" if runner == "pytest" else "")
        clues.append(Clue(runner, Evidence("runtests.py", says, EXPLICIT), ("runtests.py",)))
    manage = _read(root / "manage.py")
    if manage is not None and "django" in manage.lower():
        clues.append(Clue("django", Evidence("manage.py", "a Django project (`manage.py test`)", EXPLICIT)))
    return clues


def _requirements(root: Path) -> list[Clue]:
    files = sorted({*root.glob("*requirements*.txt"), *root.glob("*requirements*.in"),
                    *root.glob("requirements/*.txt"), *root.glob("requirements/*.in")})  # fmt: skip
    for path in files:
        text = _read(path)
        if text is not None and PYTEST_REQUIREMENT.search(text):
            rel = path.relative_to(root).as_posix()
            return [Clue("pytest", Evidence(rel, "lists pytest", SUPPORT))]
    return []


def test_files(root: Path) -> list[Path]:
    """Python test files at the top level and under tests/ or test/ (a bounded number)."""
    found = [*sorted(root.glob("test_*.py")), *sorted(root.glob("*_test.py"))]
    for folder in ("tests", "test"):
        if (root / folder).is_dir():
            found.extend(p for p in sorted((root / folder).rglob("*.py")) if p.name.startswith("test"))
    return found[:MAX_TEST_FILES]


def _python_tests(root: Path) -> list[Clue]:
    """A Python project with tests (the runner unsaid), and what the test files themselves use."""
    markers = [n for n in ("pyproject.toml", "setup.cfg", "setup.py", "tox.ini") if (root / n).is_file()]
    clues = []
    if markers:
        clues.append(Clue("pytest", Evidence(", ".join(markers), "a Python project", HINT)))
    top = sorted(p.name for p in root.glob("test_*.py"))
    if top:
        clues.append(Clue("pytest", Evidence(top[0], "a test file at the top level", HINT)))
    folder = next((f for f in ("tests", "test") if (root / f).is_dir() and any((root / f).rglob("*.py"))), None)
    if folder is not None:
        clues.append(Clue("pytest", Evidence(f"{folder}/", "holds Python files", HINT)))
    return clues + _test_styles(root)


def _test_styles(root: Path) -> list[Clue]:
    texts = [(p, _read(p, 100_000) or "") for p in test_files(root)]
    uses_pytest = next((p for p, text in texts if IMPORTS_PYTEST.search(text)), None)
    if uses_pytest is not None:
        rel = uses_pytest.relative_to(root).as_posix()
        return [Clue("pytest", Evidence(rel, "imports pytest", SUPPORT))]
    cases = [p for p, text in texts if TESTCASE.search(text)]
    if cases:
        rel = cases[0].relative_to(root).as_posix()
        more = f" (and {len(cases) - 1} more)" if len(cases) > 1 else ""
        return [Clue("unittest", Evidence(f"{rel}{more}", "unittest.TestCase classes, no pytest", HINT))]
    return []


COLLECTORS = (_pytest_files, _pyproject, _setup_cfg, _tox, _nox, _scripts, _npm, _manifests, _make,
              _requirements, _python_tests)  # fmt: skip


def clues(root: Path) -> list[Clue]:
    """Every piece of evidence in the repository, in a fixed order (Python's first, then the others)."""
    return [clue for collect in COLLECTORS for clue in collect(root)]
