"""Test-command detection from all the evidence (agentic/gate/detect/): each source, the weighing, the
check that a runner starts in the project's environment, and what `agentic init` says or asks when
the evidence disagrees. Real repositories in temp dirs; the interpreter checks run real subprocesses
against a `python` on PATH that is the suite's (tests/hermetic.py), and a checkout's .venv without pytest."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from agentic.cli import init
from agentic.gate import detect
from agentic.gate.detect import start
from agentic.policy.contract import load_contract
from tests import hermetic
from tests.cli.test_init import new_repo
from tests.conftest import cli

PYTEST = ("python", "-m", "pytest", "-q")
UNITTEST = ("python", "-m", "unittest")
TESTCASE = "import unittest\n\n\nclass T(unittest.TestCase):\n    def test_x(self):\n        pass\n"
PYTEST_STYLE = "import pytest\n\n\ndef test_x():\n    assert True\n"
# more-itertools' shape: unittest named by tox.ini and the Makefile, no pytest configuration anywhere
MORE_ITERTOOLS = {
    "pyproject.toml": "[project]\nname = 'more-itertools'\n\n[tool.black]\nline-length = 79\n",
    "setup.cfg": "[flake8]\nignore = E203\n\n[mypy]\ncheck_untyped_defs = true\n",
    "tox.ini": "[tox]\nenvlist = py{38,312}\n\n[testenv]\ncommands = {envpython} -m unittest -v {posargs}\n",
    "Makefile": ".PHONY: check\ncheck:\n\tflake8 .\n\n.PHONY: test\ntest:\n\tpython3 -m unittest -v ${tests}\n",
    "more_itertools/__init__.py": "",
    "tests/__init__.py": "",
    "tests/test_more.py": TESTCASE,
}


@pytest.fixture(autouse=True)
def python_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """`python` on PATH is the suite's (pytest importable, no other plugin: tests/hermetic.py), whatever
    the machine's PATH holds."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "python"
    wrapper.write_text(f'#!/bin/sh\nexec {hermetic.python()} "$@"\n')
    wrapper.chmod(0o755)
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    monkeypatch.setenv("PATH", path)
    return path


def venv_without_pytest(root: Path, name: str = ".venv", packages: tuple[str, ...] = ()) -> Path:
    """A checkout's virtual environment as `python -m venv --without-pip` makes it: the base interpreter,
    none of the system's site-packages, so only the standard library and `packages` (empty) import."""
    base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    (root / name / "bin").mkdir(parents=True)
    (root / name / "pyvenv.cfg").write_text(f"home = {os.path.dirname(base)}\ninclude-system-site-packages = false\n")
    (root / name / "bin" / "python").symlink_to(base)
    site = root / name / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    for package in packages:
        (site / package).mkdir(parents=True)
        (site / package / "__init__.py").write_text("__version__ = '5.0'\n")
    return root / name / "bin" / "python"


def sources(candidate: detect.Candidate | None) -> list[str]:
    assert candidate is not None
    return [e.source for e in candidate.evidence]


SOURCES = {
    "pyproject pytest config": ({"pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-q'\n"}, PYTEST,
                                "pyproject.toml [tool.pytest.ini_options]"),
    "setup.cfg pytest config": ({"setup.cfg": "[tool:pytest]\ntestpaths = tests\n"}, PYTEST, "setup.cfg [tool:pytest]"),
    "pytest.ini": ({"pytest.ini": "[pytest]\n"}, PYTEST, "pytest.ini"),
    "tox.ini [pytest]": ({"tox.ini": "[pytest]\naddopts = -q\n"}, PYTEST, "tox.ini [pytest]"),
    "tests/conftest.py": ({"tests/conftest.py": ""}, PYTEST, "tests/conftest.py"),
    "tox commands pytest": ({"tox.ini": "[testenv]\ndeps = pytest\ncommands =\n    pytest {posargs}\n"}, PYTEST,
                            "tox.ini [testenv] commands"),
    "tox commands unittest": ({"tox.ini": "[testenv:py]\ncommands = python -m unittest discover\n"}, UNITTEST,
                              "tox.ini [testenv:py] commands"),
    "legacy tox in pyproject": ({"pyproject.toml": "[tool.tox]\nlegacy_tox_ini = '''\n[testenv]\ncommands = "
                                 "python -m unittest\n'''\n"}, UNITTEST, "pyproject.toml [tool.tox] [testenv] commands"),
    "noxfile unittest": ({"noxfile.py": "import nox\n\n@nox.session\ndef tests(session):\n    session.install('.')\n"
                          "    session.run('python', '-m', 'unittest', 'discover', '-v')\n"}, UNITTEST, "noxfile.py"),
    "noxfile pytest": ({"noxfile.py": "@nox.session\ndef t(session):\n    session.run(\"pytest\", *session.posargs)\n"},
                       PYTEST, "noxfile.py"),
    "Makefile unittest": ({"Makefile": "test:\n\t@python -m unittest discover -s tests\n"}, UNITTEST,
                          "Makefile test target"),
    "Makefile prerequisite": ({"Makefile": "test: unit\n\nunit:\n\t$(PYTHON) -m pytest tests\n"}, PYTEST,
                              "Makefile test target"),
    "Makefile own recipe": ({"Makefile": "test:\n\t./run-tests.sh\n"}, ("make", "test"), "Makefile test target"),
    "package.json": ({"package.json": json.dumps({"scripts": {"test": "vitest run"}})}, ("npm", "test"),
                     "package.json scripts.test"),
    "runtests.py": ({"runtests.py": "import sys\nimport unittest\n"}, ("python", "runtests.py"), "runtests.py"),
    "requirements": ({"requirements/dev.txt": "black\npytest>=8\n", "tests/test_a.py": ""}, PYTEST,
                     "requirements/dev.txt"),
    "pyproject dependency group": ({"pyproject.toml": "[dependency-groups]\ndev = ['pytest-cov', 'ruff']\n"}, PYTEST,
                                   "pyproject.toml"),
    "top-level test file": ({"test_thing.py": "def test_x():\n    pass\n"}, PYTEST, "test_thing.py"),
    "tests import pytest": ({"tests/test_a.py": PYTEST_STYLE}, PYTEST, "tests/test_a.py"),
    "unittest-style tests": ({"tests/test_a.py": TESTCASE}, PYTEST, "tests/"),  # pytest runs them too
}  # fmt: skip


@pytest.mark.parametrize("kind", list(SOURCES))
def test_each_source_of_evidence(tmp_path: Path, kind: str) -> None:
    files, argv, source = SOURCES[kind]
    findings = detect.detect(new_repo(tmp_path / "r", files))
    chosen = findings.chosen
    assert chosen is not None and chosen.argv == argv, [c.text for c in findings.candidates]
    assert source in sources(chosen) and chosen.start.ok, chosen


def test_the_runner_a_command_line_runs() -> None:
    assert detect.runs("{envpython} -m unittest -v {posargs}") == "unittest"
    assert detect.runs("coverage run -m pytest --cov") == "pytest"
    assert detect.runs("py.test -x") == "pytest"
    assert detect.runs("pip install pytest-cov") is None  # a plugin's name is not the runner
    assert detect.runs("tox -e py312") == "tox"
    assert detect.runs("python manage.py test app") == "django"
    assert detect.runs("sphinx-build docs out") is None


def test_more_itertools_chooses_unittest_even_with_pytest_installed(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "mi", MORE_ITERTOOLS)
    findings = detect.detect(repo)
    assert findings.chosen is not None and findings.chosen.argv == UNITTEST
    assert sources(findings.chosen)[:2] == ["tox.ini [testenv] commands", "Makefile test target"]
    pytest_candidate = next(c for c in findings.candidates if c.argv == PYTEST)
    assert pytest_candidate.start.ok and not pytest_candidate.supported  # only a Python project's tests
    assert not findings.disputed


def test_more_itertools_without_pytest_in_its_venv_explained_under_yes(tmp_path: Path, python_on_path: str) -> None:
    repo = new_repo(tmp_path / "mi", MORE_ITERTOOLS)
    venv_without_pytest(repo)
    findings = detect.detect(repo)
    assert findings.python.command == ".venv/bin/python"
    assert [c.argv for c in findings.candidates] == [(".venv/bin/python", "-m", "unittest"),
                                                     (".venv/bin/python", "-m", "pytest", "-q"), ("make", "test")]  # fmt: skip
    chosen, alternative = findings.candidates[:2]
    assert chosen.start.ok and not alternative.start.ok
    assert "pytest is not importable by .venv/bin/python" in alternative.start.detail

    done = cli("init", "--yes", cwd=repo, env={"PATH": python_on_path})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "test command: .venv/bin/python -m unittest, from tox.ini [testenv] commands" in out
    assert "Makefile test target: runs `python3 -m unittest -v ${tests}`" in out
    assert "not chosen:" in out and "cannot start: pytest is not importable" in out
    assert "--test-command" in out and "policies/contract.yaml" in out
    contract = load_contract("policies/contract.yaml", repo)
    assert contract.test_command == (".venv/bin/python", "-m", "unittest")
    assert next(inv for inv in contract.invariants if inv.id == "tests-pass").check == {"tests": True}


def test_a_pytest_only_project_whose_venv_lacks_pytest_keeps_pytest_and_says_so(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "r", {"pytest.ini": "[pytest]\n", "tests/test_a.py": PYTEST_STYLE})
    venv_without_pytest(repo, "venv")
    findings = detect.detect(repo)
    assert [c.argv for c in findings.candidates] == [("venv/bin/python", "-m", "pytest", "-q")]
    assert findings.chosen is findings.candidates[0] and findings.unclear  # nothing else could run them
    lines = findings.explain()
    assert "cannot start: pytest is not importable by venv/bin/python (the checkout's venv)" in lines[1]
    assert "--test-command" in lines[-1]


def test_unittest_style_tests_fall_back_to_unittest_when_pytest_cannot_start(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "r", {"pyproject.toml": "[project]\nname = 'x'\n", "tests/test_a.py": TESTCASE})
    venv_without_pytest(repo)
    findings = detect.detect(repo)
    assert findings.candidates[0].argv[2] == "pytest" and not findings.candidates[0].start.ok
    assert findings.chosen is not None and findings.chosen.argv == (".venv/bin/python", "-m", "unittest")
    assert findings.unclear and not findings.disputed


def test_an_activated_venv_is_python_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = new_repo(tmp_path / "r", {"pytest.ini": "[pytest]\n"})
    venv_without_pytest(repo)
    monkeypatch.setenv("PATH", f"{repo / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}")
    python = detect.project_python(repo)
    assert python.command == "python" and "activated .venv" in python.origin


def test_a_program_not_on_path_cannot_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"package.json": json.dumps({"scripts": {"test": "jest"}}), "pyproject.toml": "", "tests/test_a.py": ""}
    repo = new_repo(tmp_path / "r", files)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # only `python`: no npm
    findings = detect.detect(repo)
    npm = findings.candidates[0]
    assert npm.argv == ("npm", "test") and not npm.start.ok and npm.start.detail == "npm is not on PATH"
    assert findings.chosen is not None and findings.chosen.argv == PYTEST  # the one that starts
    assert findings.unclear


def test_no_python_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = new_repo(tmp_path / "r", {"pytest.ini": "[pytest]\n"})
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    findings = detect.detect(repo)
    assert findings.python.path is None
    assert findings.chosen is not None and not findings.chosen.start.ok
    assert "no python or python3 on PATH" in findings.chosen.start.detail


def test_disagreement_is_explained_under_yes(tmp_path: Path, python_on_path: str) -> None:
    files = {"pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-q'\n",
             "Makefile": "test:\n\tpython -m unittest discover -s tests\n", "tests/test_a.py": TESTCASE}  # fmt: skip
    repo = new_repo(tmp_path / "r", files)
    findings = detect.detect(repo)
    assert findings.disputed and findings.chosen is not None and findings.chosen.argv == PYTEST
    done = cli("init", "--yes", cwd=repo, env={"PATH": python_on_path})
    assert done.returncode == 0, done.stderr
    assert "test command: python -m pytest -q, from pyproject.toml [tool.pytest.ini_options]" in done.stdout
    assert "python -m unittest, from Makefile test target: runs `python -m unittest discover -s tests`" in done.stdout
    assert load_contract("policies/contract.yaml", repo).test_command == PYTEST


def test_manage_py_is_django_tried_with_an_import_of_django(tmp_path: Path) -> None:
    files = {"manage.py": "import os\nfrom django.core.management import execute_from_command_line\n",
             "pyproject.toml": "[project]\nname = 'site'\n", "app/tests.py": "from django.test import TestCase\n"}  # fmt: skip
    repo = new_repo(tmp_path / "r", files)
    venv_without_pytest(repo, packages=("django",))
    findings = detect.detect(repo)
    chosen = findings.chosen
    assert chosen is not None and chosen.argv == (".venv/bin/python", "manage.py", "test") and chosen.runner == "django"
    assert chosen.start.detail == "django 5.0 importable by .venv/bin/python (the checkout's .venv)"
    assert not findings.disputed  # the pytest candidate only has a Python project for it


def test_the_check_never_imports_the_checkout_own_code(tmp_path: Path) -> None:
    files = {"manage.py": "import django\n", "django/__init__.py": "open('ran', 'w').close()\n"}
    repo = new_repo(tmp_path / "r", files)
    venv_without_pytest(repo)  # no django installed, whatever this machine has
    findings = detect.detect(repo)
    assert findings.chosen is not None and not findings.chosen.start.ok
    assert "django is not importable by .venv/bin/python" in findings.chosen.start.detail
    assert not (repo / "ran").exists()


def test_django_with_pytest_django_is_disputed(tmp_path: Path) -> None:
    files = {"manage.py": "import django\n", "pytest.ini": "[pytest]\nDJANGO_SETTINGS_MODULE = s\n",
             "requirements-dev.txt": "pytest-django\n"}  # fmt: skip
    findings = detect.detect(new_repo(tmp_path / "r", files))
    assert findings.disputed
    assert [c.argv for c in findings.candidates] == [PYTEST, ("python", "manage.py", "test")]


def test_runtests_that_runs_pytest_is_pytest(tmp_path: Path) -> None:
    files = {"runtests.py": "import pytest\nraise SystemExit(pytest.main())\n", "setup.cfg": "[tool:pytest]\n"}
    findings = detect.detect(new_repo(tmp_path / "r", files))
    assert [c.argv for c in findings.candidates] == [PYTEST, ("python", "runtests.py")]
    assert {c.runner for c in findings.candidates} == {"pytest"} and not findings.disputed


def test_test_command_overrides_the_detection(tmp_path: Path, python_on_path: str) -> None:
    repo = new_repo(tmp_path / "mi", MORE_ITERTOOLS)
    done = cli("init", "--yes", "--test-command", "python -m pytest -x", cwd=repo, env={"PATH": python_on_path})
    assert done.returncode == 0, done.stderr
    assert "not chosen" not in done.stdout and "from tox.ini" not in done.stdout  # nothing was detected
    data = yaml.safe_load((repo / "policies" / "contract.yaml").read_text())
    assert data["test_command"] == ["python", "-m", "pytest", "-x"]


def test_the_prompt_shows_the_candidates_and_takes_a_number(tmp_path: Path) -> None:
    files = {"pyproject.toml": "[tool.pytest.ini_options]\n", "Makefile": "test:\n\tpython -m unittest\n"}
    repo = new_repo(tmp_path / "r", files)
    given = init.choices_from_flags(repo, require_tests=False)
    console = Console(file=io.StringIO(), width=200)
    chosen = init.prompt_choices(repo, given, console, stream=io.StringIO("2\n"), ask_preset=False, ask_model=False)
    assert chosen.test_command == UNITTEST and chosen.detection is not None
    assert chosen.detection.reason == "Makefile test target"
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "the evidence disagrees" in shown
    assert "1. python -m pytest -q (default): starts" in shown and "2. python -m unittest: starts" in shown
    assert "pyproject.toml [tool.pytest.ini_options]: pytest's configuration" in shown

    typed = init.prompt_choices(repo, given, console, stream=io.StringIO("python -m unittest\n"), ask_preset=False,
                                ask_model=False)  # fmt: skip
    assert typed.detection is not None and typed.detection.argv == UNITTEST  # typed, and still a candidate


def test_a_single_startable_candidate_asks_as_before(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "r", {"pytest.ini": "[pytest]\n"})
    given = init.choices_from_flags(repo, require_tests=False)
    console = Console(file=io.StringIO(), width=200)
    chosen = init.prompt_choices(repo, given, console, stream=io.StringIO("\n"), ask_preset=False, ask_model=False)
    assert chosen.test_command == PYTEST
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "detected from pytest.ini" in shown and "1." not in shown
    assert init.explain_detection(given) == ["test command: python -m pytest -q, from pytest.ini",
                                             f"  starts: {given.detection.start.detail}"]  # type: ignore[union-attr]  # fmt: skip


def test_a_test_script_is_protected_and_judged_by_its_exit_status(tmp_path: Path, python_on_path: str) -> None:
    repo = new_repo(tmp_path / "r", {"runtests.py": "import unittest\nunittest.main(module=None)\n"})
    done = cli("init", "--yes", cwd=repo, env={"PATH": python_on_path})
    assert done.returncode == 0, done.stderr
    contract = load_contract("policies/contract.yaml", repo)
    assert contract.test_command == ("python", "runtests.py") and "runtests.py" in contract.protected
    assert next(inv for inv in contract.invariants if inv.id == "tests-pass").check == {"command": ["python", "runtests.py"]}


def test_the_reason_names_each_file_once_as_its_weightiest_evidence_does(tmp_path: Path, python_on_path: str) -> None:
    """As humanize 4.17 lays itself out: pytest 9's `[tool.pytest]` table, pytest among the extras of
    the same pyproject.toml, tox, a requirements file: the contract's header says each file once."""
    files = {"pyproject.toml": "[project]\nname = 'p'\noptional-dependencies.tests = ['pytest>=9']\n\n"
                               "[tool.pytest]\naddopts = ['-q']\n",
             "tox.ini": "[testenv]\ncommands =\n    {envpython} -m pytest {posargs}\n",
             "requirements-dev.txt": "pytest\n", "tests/test_a.py": "import pytest\n"}  # fmt: skip
    repo = new_repo(tmp_path / "r", files)
    chosen = detect.detect(repo).chosen
    assert chosen is not None and chosen.argv == PYTEST
    assert chosen.reason.split(", ")[:3] == ["pyproject.toml [tool.pytest]", "tox.ini [testenv] commands",
                                             "requirements-dev.txt"], chosen.reason  # fmt: skip
    assert chosen.reason.count("pyproject.toml") == 1 and chosen.reason.count("tox.ini") == 1, chosen.reason


def test_poetry_names_its_environment_as_agentic_finds_it() -> None:
    """What Poetry 2.5.1 made for a project named `Calc_Proj.x` in /tmp/rp/poetproj (`poetry env info -p`:
    ~/.cache/pypoetry/virtualenvs/calc-proj-x-nwkRQWFf-py3.11)."""
    assert start.poetry_env_name("Calc_Proj.x", "/tmp/rp/poetproj") == "calc-proj-x-nwkRQWFf"


def test_a_pipenv_environment_is_found_where_pipenv_keeps_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "my project"
    repo.mkdir()
    (repo / "Pipfile").write_text("[dev-packages]\npytest = '*'\n")
    monkeypatch.setenv("WORKON_HOME", str(tmp_path / "envs"))
    assert start.pipenv_env(repo) is None
    env = tmp_path / "envs" / start.pipenv_env_name(os.path.realpath(repo))
    assert env.name.startswith("my_project-")
    subprocess.run([hermetic.python(), "-m", "venv", "--without-pip", str(env)], check=True)
    assert start.pipenv_env(repo) == env
    assert start.project_python(repo).command == str(env / "bin" / "python")


def test_pipenv_names_its_environment_as_agentic_finds_it() -> None:
    """What Pipenv made for /tmp/rp/pipproj/Pipfile (`pipenv --venv`: ~/.local/share/virtualenvs/pipproj-3gbe0CEL)."""
    assert start.pipenv_env_name("/tmp/rp/pipproj") == "pipproj-3gbe0CEL"


def test_the_environment_poetry_keeps_under_the_home_runs_the_tests(tmp_path: Path, python_on_path: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A Poetry project whose environment lives in Poetry's cache (its default), not in the checkout:
    init names its interpreter by path, and the gate runs it in the sandbox (which shows it read-only)."""
    files = {"pyproject.toml": "[project]\nname = 'calc-proj'\nversion = '0.1.0'\n\n[tool.poetry]\npackage-mode = false\n",
             "tests/test_a.py": TESTCASE}  # fmt: skip
    repo = new_repo(tmp_path / "r", files)
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    envs = cache / "pypoetry" / "virtualenvs"
    for version in ("3.9", "3.11"):  # an older one left behind: the newest Python's is taken
        env = envs / f"{start.poetry_env_name('calc-proj', os.path.realpath(repo))}-py{version}"
        subprocess.run([hermetic.python(), "-m", "venv", "--without-pip", str(env)], check=True)
        site = next(env.glob("lib/python*/site-packages"))  # pytest as the suite's own Python has it, nothing else
        suite = Path(hermetic.python()).parent.parent
        (site / "suite.pth").write_text(f"{next(suite.glob('lib/python*/site-packages'))}\n")
    chosen = detect.detect(repo).chosen
    assert chosen is not None and chosen.argv == (str(env / "bin" / "python"), "-m", "pytest", "-q"), chosen
    assert chosen.start.ok and "the environment Poetry made for the checkout" in chosen.start.detail
    done = cli("init", "--yes", cwd=repo, env={"PATH": python_on_path, "XDG_CACHE_HOME": str(cache)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert load_contract("policies/contract.yaml", repo).test_command == chosen.argv
    gate = cli("gate", cwd=repo, env={"PATH": python_on_path})
    assert gate.returncode == 0 and "✓ tests-pass" in gate.stdout, gate.stdout + gate.stderr
