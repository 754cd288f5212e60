"""The hooks of docs/howto/pre-commit.md with the real `pre-commit` package: a person's commit that adds
a test and changes pyproject.toml goes through under the shipped preset; one whose tests fail is
stopped by the gate (issue 16, points 5 and 7)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write

pytest.importorskip("pre_commit")

CONFIG = """\
repos:
  - repo: local
    hooks:
      - id: agentic-contract-check
        name: agentic contract check
        entry: agentic contract check
        language: system
        files: '(^|/)(policies/contract\\.ya?ml|\\.agentic\\.ya?ml)$'
        pass_filenames: false
      - id: agentic-gate
        name: agentic gate
        entry: agentic gate --staged
        language: system
        pass_filenames: false
        always_run: true
        require_serial: true
"""
FIXED = "def average(values):\n    if not values:\n        return 0.0\n    return sum(values) / len(values)\n"
NEW_TEST = ("import unittest\nfrom calc import average\n\n\nclass TestMore(unittest.TestCase):\n"
            "    def test_one(self):\n        self.assertEqual(average([3]), 3)\n")  # fmt: skip


def person(repo: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """git as the person runs it: their identity, their hooks, `agentic` on PATH (this interpreter's)."""
    launcher = tmp_path / "bin"
    launcher.mkdir(exist_ok=True)
    if not (launcher / "agentic").exists():
        (launcher / "agentic").symlink_to(Path(sys.executable).parent / "agentic")
    env = {**os.environ, "PATH": f"{launcher}{os.pathsep}{os.environ['PATH']}", "PRE_COMMIT_HOME": str(tmp_path / "pc"),
           "GIT_AUTHOR_NAME": "P", "GIT_AUTHOR_EMAIL": "p@example.invalid", "GIT_COMMITTER_NAME": "P",
           "GIT_COMMITTER_EMAIL": "p@example.invalid"}  # fmt: skip
    return subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.proof
def test_a_person_commits_a_new_test_through_the_hooks(repo: Path, tmp_path: Path) -> None:
    if not (Path(sys.executable).parent / "agentic").exists():
        pytest.skip("agentic is not installed beside this interpreter")
    (repo / "policies" / "contract.yaml").unlink()  # the shipped `default` preset
    write(repo / ".pre-commit-config.yaml", CONFIG)
    assert person(repo, tmp_path, "git", "add", "--all").returncode == 0
    assert person(repo, tmp_path, "git", "commit", "-q", "-m", "hooks, default preset").returncode == 0
    installed = person(repo, tmp_path, sys.executable, "-m", "pre_commit", "install")
    assert installed.returncode == 0, installed.stdout + installed.stderr

    (repo / "calc.py").write_text(FIXED)
    write(repo / "tests" / "test_more.py", NEW_TEST)
    write(repo / "pyproject.toml", '[tool.pytest.ini_options]\naddopts = "-q"\n')
    person(repo, tmp_path, "git", "add", "--all")
    done = person(repo, tmp_path, "git", "commit", "-m", "fix the average; a test; pytest options")
    assert done.returncode == 0, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert "agentic gate" in said and "Passed" in said, said

    (repo / "calc.py").write_text(FIXED.replace("len(values)", "(len(values) + 1)"))
    person(repo, tmp_path, "git", "add", "calc.py")
    broken = person(repo, tmp_path, "git", "commit", "-m", "break it")
    said = broken.stdout + broken.stderr
    assert broken.returncode != 0 and "✗ tests-pass" in said and "Failed" in said, said
