"""An eval of a person's own repository (`repo: {git: PATH}`, a local path): each attempt's clone is shown
in the sandbox at PATH, as a run's worktree is shown at its checkout's path, so the repository's
virtual environment and its editable install (a `.pth` naming PATH/src) give the attempt's code, not
the person's, and the person's checkout stays out of sight and untouched."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentic.git.cmd import git
from tests.conftest import CONTRACT, FINISH, cli, commit_initial, write

BUGGY = "def average(values):\n    return sum(values) / (len(values) - 1) if values else 0.0\n"
TESTS = """\
import unittest

import calc


class TestCalc(unittest.TestCase):
    def test_average(self):
        self.assertEqual(calc.average([2, 4, 6]), 4)

    def test_empty(self):
        self.assertEqual(calc.average([]), 0.0)
"""
FIX = {"name": "edit_file", "arguments": {"path": "src/calc/__init__.py", "old_text": "(len(values) - 1)",
                                          "new_text": "len(values)"}}  # fmt: skip
SHOW = {"name": "run_command", "arguments": {"command": ".venv/bin/python -m unittest discover -s tests -t ."}}


def src_layout_project(root: Path) -> Path:
    """A src layout whose tests import the package through an editable install in its own .venv."""
    contract: dict[str, Any] = copy.deepcopy(CONTRACT)
    contract["test_command"] = [".venv/bin/python", "-m", "unittest", "discover", "-s", "tests", "-t", "."]
    contract["tools"]["edit_file"]["allow"] = ["src/**"]
    contract["tools"]["run_command"]["allow"] = [".venv/bin/python -m unittest *"]
    write(root / "src" / "calc" / "__init__.py", BUGGY)
    write(root / "tests" / "__init__.py", "")
    write(root / "tests" / "test_calc.py", TESTS)
    write(root / ".gitignore", ".venv/\n*.log\nevals/\n")
    write(root / "policies" / "contract.yaml", yaml.safe_dump(contract, sort_keys=False))
    commit_initial(root)
    venv = root / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    (site / "__editable__.calc-0.pth").write_text(f"{os.path.realpath(root)}/src\n")  # as setuptools writes it
    return root


@pytest.mark.parametrize("workdir", ["own", "inside the repository"])
def test_an_attempt_on_a_local_repository_imports_its_own_code_at_the_repositorys_path(tmp_path: Path,
                                                                                       workdir: str) -> None:  # fmt: skip
    source = src_layout_project(tmp_path / "project")
    where = os.path.realpath(source)
    (source / "person.log").write_text("the person's, ignored\n")
    git(["branch", "private"], source)
    check = (f"import calc, os, subprocess; assert calc.__file__ == {where + '/src/calc/__init__.py'!r}; "
             "assert calc.average([1, 2]) == 1.5; assert os.getcwd() == " + repr(where) + "; "
             "assert not os.path.exists('person.log'); "  # the person's files stay out of sight
             "branches = subprocess.run(['git', 'branch', '-a'], capture_output=True, text=True).stdout; "
             "assert 'private' not in branches, branches")  # fmt: skip
    suite = tmp_path / "suite"
    write(suite / "scripts" / "fix.yaml", yaml.safe_dump([{"tool_calls": [SHOW]}, {"tool_calls": [FIX]},
                                                         {"tool_calls": [FINISH]}]))  # fmt: skip
    write(suite / "fix.yaml", yaml.safe_dump({
        "id": "fix", "task": "Fix average().", "repo": {"git": "../project"}, "model": "script:scripts/fix.yaml",
        "checks": {"fail_to_pass": ["tests.test_calc.TestCalc.test_average"],
                   "pass_to_pass": ["tests.test_calc.TestCalc.test_empty"],
                   "command": [".venv/bin/python", "-c", check]},
    }, sort_keys=False))  # fmt: skip
    out = tmp_path / "result.json"
    kept = ["--workdir", str(source / "evals")] if workdir != "own" else []  # the clones in the repository
    done = cli("eval", str(suite), "--json", str(out), *kept, cwd=tmp_path)
    result = json.loads(out.read_text())
    attempt = result["scenarios"][0]["results"][0]
    assert attempt["verdict"] == "pass", done.stdout + done.stderr + json.dumps(attempt)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (source / "src" / "calc" / "__init__.py").read_text() == BUGGY  # the person's checkout untouched
    assert git(["status", "--porcelain"], source) == ""
