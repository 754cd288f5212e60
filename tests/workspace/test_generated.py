"""Files the build generates and git ignores (agentic.workspace.generated): a project laid out as
hatch-vcs or setuptools-scm lay one out, whose package imports a version file the build writes into
src/ and .gitignore leaves out (humanize 4.17, pytest, pluggy...). A clean checkout lacks it, so the
run's worktree and the gate's checkouts get the person's copy when the contract lists it."""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentic.errors import ConfigError
from agentic.eval.driver import EvalRequest, chosen_scenarios, plan_eval, run_eval
from agentic.eval.runner import Options
from agentic.git.cmd import git
from agentic.journal.tape import Tape
from agentic.policy.contract import load_contract
from agentic.workspace import Workspace, generated, version_files
from tests import inproc
from tests.conftest import CONTRACT, FINISH, cli, commit_initial, write

VERSION = "__version__ = version = '1.2.3'\n"
PYPROJECT = """\
[project]
name = "pkg"
dynamic = ["version"]

[tool.hatch.build.hooks.vcs]
version-file = "src/pkg/_version.py"
"""
PACKAGE = "from ._version import __version__\n\n\ndef double(x):\n    return x * 2\n"
TESTS = """\
import unittest

import pkg


class TestPkg(unittest.TestCase):
    def test_version(self):
        self.assertEqual(pkg.__version__, "1.2.3")

    def test_double(self):
        self.assertEqual(pkg.double(2), 4)
"""
EDIT = {"name": "edit_file", "arguments": {"path": "src/pkg/__init__.py", "old_text": "return x * 2",
                                           "new_text": "return x + x"}}  # fmt: skip
# the agent rewrites the version file in its worktree: ignored, so never part of the change, and the
# gate's checkout gets the person's copy, not this one
BREAK = {"name": "run_command", "arguments": {"command": "echo 'broken =' >> src/pkg/_version.py"}}


def contract(**extra: Any) -> dict[str, Any]:
    doc = copy.deepcopy(CONTRACT)
    doc["env"] = {"PYTHONPATH": "src"}
    doc["tools"]["run_command"]["allow"] = ["echo *"]
    return {**doc, **extra}


def project(root: Path, listed: bool = True) -> Path:
    """The project as the person has it: committed, then built (the version file written, ignored)."""
    write(root / "pyproject.toml", PYPROJECT)
    write(root / ".gitignore", "src/*/_version.py\n__pycache__/\n")
    write(root / "src" / "pkg" / "__init__.py", PACKAGE)
    write(root / "tests" / "__init__.py", "")
    write(root / "tests" / "test_pkg.py", TESTS)
    doc = contract(generated=["src/pkg/_version.py"]) if listed else contract()
    write(root / "policies" / "contract.yaml", yaml.safe_dump(doc, sort_keys=False))
    commit_initial(root)
    write(root / "src" / "pkg" / "_version.py", VERSION)  # what `pip install -e .` writes
    return root


def test_a_run_and_the_gate_get_the_persons_version_file_and_never_commit_it(tmp_path: Path) -> None:
    repo = project(tmp_path / "repo")
    outcome = inproc.run(repo, [{"tool_calls": [BREAK]}, {"tool_calls": [EDIT]}, {"tool_calls": [FINISH]}])
    assert outcome.status == "accepted", outcome.reason
    committed = git(["show", "--name-only", "--format=", outcome.commit or ""], repo).split()
    assert committed == ["src/pkg/__init__.py"]
    [start] = inproc.records(outcome, "run.start")
    assert start["generated"] == [["src/pkg/_version.py", hashlib.sha256(VERSION.encode()).hexdigest()]]
    assert Tape.read(outcome.journal).start.generated == start["generated"]
    assert (repo / "src" / "pkg" / "_version.py").read_text() == VERSION  # the person's copy, untouched


def test_without_the_listing_the_gate_fails_and_doctor_names_the_file(tmp_path: Path) -> None:
    repo = project(tmp_path / "repo", listed=False)
    report = tmp_path / "gate.json"
    done = cli("gate", "--json", str(report), cwd=repo)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "No module named 'pkg._version'" in json.dumps(json.loads(report.read_text()))
    doctor = cli("doctor", "--json", cwd=repo)
    [tests] = [c for c in map(json.loads, doctor.stdout.splitlines()) if c["name"] == "test command"]
    assert not tests["ok"] and "module pkg._version is missing" in tests["detail"], tests
    assert "src/pkg/_version.py is in your checkout but git ignores it" in tests["fix"], tests
    assert "`generated:`" in tests["fix"], tests


def test_init_lists_the_version_file_the_build_writes_and_the_gate_then_passes(tmp_path: Path) -> None:
    repo = project(tmp_path / "repo", listed=False)
    (repo / "policies" / "contract.yaml").unlink()
    git(["commit", "--quiet", "-am", "no contract yet"], repo)
    done = cli("init", "--yes", "--test-command", "python -m unittest discover -s tests -t .", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "generated: src/pkg/_version.py" in done.stdout
    text = (repo / "policies" / "contract.yaml").read_text()
    assert load_contract("policies/contract.yaml", repo).generated == ("src/pkg/_version.py",), text
    with open(repo / "policies" / "contract.yaml", "a", encoding="utf-8") as fh:  # the layout's import path
        fh.write("env: {PYTHONPATH: src}\n")
    assert cli("gate", cwd=repo).returncode == 0


@pytest.mark.parametrize(("table", "expected"), [
    ('[tool.setuptools_scm]\nwrite_to = "src/a/_version.py"\n', ["src/a/_version.py"]),
    ('[tool.setuptools_scm]\nversion_file = "a/version.py"\n', ["a/version.py"]),
    ('[tool.hatch.build.hooks.vcs]\nversion-file = "src/b/_v.py"\n', ["src/b/_v.py"]),
    ('[tool.versioningit.write]\nfile = "src/c/_version.py"\n', ["src/c/_version.py"]),
    ('[tool.setuptools_scm]\n', []),
    ('not toml [', []),
])  # fmt: skip
def test_version_files_are_read_from_pyproject(tmp_path: Path, table: str, expected: list[str]) -> None:
    (tmp_path / "pyproject.toml").write_text(table)
    assert version_files(tmp_path) == expected


def test_only_ignored_regular_files_are_found_and_links_are_never_followed(tmp_path: Path) -> None:
    repo = project(tmp_path / "repo")
    lib = repo / "src" / "pkg"
    write(lib / "_speedups.cpython-311-x86_64-linux-gnu.so", "ELF")  # built in place: *.so is ignored below
    write(repo / ".gitignore", "src/*/_version.py\n__pycache__/\n*.so\nlinked.py\n")
    (lib / "linked.py").symlink_to(tmp_path / "outside.py")
    write(tmp_path / "outside.py", "SECRET = 1\n")
    write(lib / "untracked.py", "x = 1\n")  # not ignored: it would be part of a change, never carried
    patterns = ["src/*/_version.py", "src/**/*.so", "src/pkg/linked.py", "src/pkg/untracked.py", "src/pkg/__init__.py"]
    found = generated.find(repo, patterns)
    assert found == ["src/pkg/_speedups.cpython-311-x86_64-linux-gnu.so", "src/pkg/_version.py"]

    target = tmp_path / "checkout"
    (target / "src").mkdir(parents=True)
    (target / "src" / "pkg").symlink_to(tmp_path / "elsewhere")  # a change made the directory a link
    assert generated.carry(repo, target, found) == []
    assert not (tmp_path / "elsewhere").exists()
    os.unlink(target / "src" / "pkg")
    carried = generated.carry(repo, target, found)
    assert [c.path for c in carried] == found
    assert (target / "src" / "pkg" / "_version.py").read_text() == VERSION
    assert generated.carry(repo, target, found) == []  # already there: left as it is


def test_a_glob_too_wide_is_refused_and_bad_globs_are_config_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = project(tmp_path / "repo")
    for n in range(5):
        write(repo / "src" / "pkg" / "__pycache__" / f"m{n}.pyc", "x")
    monkeypatch.setattr(generated, "MAX_FILES", 3)
    with pytest.raises(ConfigError, match="match more than 3 ignored files"):
        generated.find(repo, ["**"])
    for bad in ("!src/x.py", ".git/config", "../x.py", "/etc/passwd"):
        write(repo / "policies" / "contract.yaml", yaml.safe_dump(contract(generated=[bad]), sort_keys=False))
        with pytest.raises(ConfigError) as raised:
            load_contract("policies/contract.yaml", repo)
        assert "generated" in str(raised.value), bad


def test_a_workspace_without_generated_files_copies_nothing(tmp_path: Path) -> None:
    repo = project(tmp_path / "repo", listed=False)
    ws = Workspace(repo, "plain", git(["rev-parse", "HEAD"], repo).strip())
    ws.create()
    try:
        assert ws.carried == [] and not (ws.path / "src" / "pkg" / "_version.py").exists()
    finally:
        ws.remove(keep_branch=False)


def test_an_eval_of_the_project_gives_each_attempt_and_its_checks_the_version_file(tmp_path: Path) -> None:
    """`repo: {git: ..}` as the GitHub Actions how-to sets an eval up: the clone of the project lacks
    the file; the template, each attempt's repository (so its run and gate) and the checks get it."""
    repo = project(tmp_path / "repo")
    suite = tmp_path / "suite"
    (suite / "scripts").mkdir(parents=True)
    (suite / "scripts" / "double.yaml").write_text(yaml.safe_dump([{"tool_calls": [EDIT]}, {"tool_calls": [FINISH]}]))
    scenario = {"id": "double", "task": "Double by addition.", "repo": {"git": str(repo)},
                "model": "script:scripts/double.yaml",
                "checks": {"status": "accepted", "pass_to_pass": ["tests.test_pkg.TestPkg.test_version"],
                           "command": ["python", "-c", "import pkg; assert pkg.__version__ == '1.2.3'"]}}  # fmt: skip
    (suite / "double.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    req, state = plan_eval(EvalRequest([suite], [], Options(repeats=2, workdir=tmp_path / "work"),
                                       tmp_path / ".agentic", None))  # fmt: skip
    run = run_eval(req, state, chosen_scenarios(req), lambda _: None)
    assert [(a.verdict, a.status) for a in run.summary.attempts] == [("pass", "accepted")] * 2, [
        a.reason for a in run.summary.attempts]  # fmt: skip
    for n in (1, 2):
        attempt = tmp_path / "work" / "attempts" / "double" / str(n)
        assert (attempt / "src" / "pkg" / "_version.py").read_text() == VERSION
        assert "src/pkg/_version.py" not in git(["ls-tree", "-r", "--name-only", "HEAD"], attempt)
