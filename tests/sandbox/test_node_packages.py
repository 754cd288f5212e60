"""A JavaScript project's installed packages (node_modules, ignored by git) in the sandbox: a clean
checkout lacks them, so `npm test` found no test framework (`sh: 1: mocha: not found`) in the run's
worktree and in the gate's checkout. The person's node_modules is shown read-only at its path, as the
checkout's virtual environment is: the test framework runs, and nothing can be written into it.

The packages are made here (a test runner in node_modules/.bin, a library it requires), not installed
from the registry: what matters is where npm looks for them."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from agentic.git.cmd import git
from tests import inproc
from tests.conftest import cli, commit_initial, write

pytestmark = [pytest.mark.proof, pytest.mark.skipif(shutil.which("npm") is None or shutil.which("node") is None,
                                reason="npm and node are not installed")]  # fmt: skip

INDEX = "exports.average = (xs) => xs.length ? xs.reduce((a, b) => a + b, 0) / (xs.length - 1) : 0;\n"
TEST = """\
const check = require("tinycheck");
const { average } = require("../index");
check.equal(average([2, 4, 6]), 4);
check.equal(average([]), 0);
console.log("2 passing");
"""
RUNNER = "#!/bin/sh\nexec node test/test.js\n"  # what `tinytest` (mocha, jest…) stands for
LIBRARY = "exports.equal = (a, b) => { if (a !== b) { console.error(`${a} !== ${b}`); process.exit(1); } };\n"
FIX = {"name": "edit_file", "arguments": {"path": "index.js", "old_text": "(xs.length - 1)", "new_text": "xs.length"}}
# a write the contract cannot see (it protects node_modules/ from the shell's own redirections)
PLANT = {"name": "run_command", "arguments": {
    "command": "node -e \"require('fs').writeFileSync('node_modules/.bin/tinytest', 'exit 0')\"; echo rc=$?"}}
FINISH = {"name": "finish", "arguments": {"summary": "fixed average"}}


def project(root: Path) -> Path:
    write(root / "package.json", json.dumps({"name": "p", "version": "1.0.0", "scripts": {"test": "tinytest"},
                                             "devDependencies": {"tinytest": "1.0.0", "tinycheck": "1.0.0"}}))  # fmt: skip
    write(root / "index.js", INDEX)
    write(root / "test" / "test.js", TEST)
    write(root / ".gitignore", "node_modules/\n")
    init = cli("init", "--yes", cwd=commit_initial(root))
    assert init.returncode == 0 and "test command: npm test" in init.stdout, init.stdout + init.stderr
    git(["add", "--all"], root)
    git(["commit", "--quiet", "-m", "agentic: setup"], root)
    runner = root / "node_modules" / ".bin" / "tinytest"  # what `npm install` leaves, ignored
    write(runner, RUNNER)
    runner.chmod(runner.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    write(root / "node_modules" / "tinycheck" / "index.js", LIBRARY)
    return root


def test_the_gate_and_a_run_use_the_persons_installed_packages_read_only(tmp_path: Path) -> None:
    repo = project(tmp_path / "repo")
    gate = cli("gate", cwd=repo)
    assert gate.returncode == 1 and "6 !== 4" in gate.stdout, gate.stdout + gate.stderr  # runs, and finds the bug
    outcome = inproc.run(repo, [{"tool_calls": [PLANT]}, {"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    assert outcome.status == "accepted", outcome.reason
    [planted] = inproc.tool_results(outcome)[:1]
    assert "EROFS" in planted["content"] and "rc=1" in planted["content"], planted
    assert (repo / "node_modules" / ".bin" / "tinytest").read_text() == RUNNER
    assert git(["show", "--name-only", "--format=", outcome.commit or ""], repo).split() == ["index.js"]
    git(["merge", "--quiet", "--ff-only", outcome.commit or ""], repo)
    assert cli("gate", cwd=repo).returncode == 0


def test_a_node_modules_that_is_a_link_is_not_shown(tmp_path: Path) -> None:
    repo = project(tmp_path / "repo")
    shutil.move(repo / "node_modules", tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", repo / "node_modules")
    gate = cli("gate", cwd=repo)
    assert gate.returncode == 1 and "tinytest: not found" in gate.stdout, gate.stdout + gate.stderr


def test_a_workspace_package_s_own_node_modules_is_shown_too(tmp_path: Path) -> None:
    """npm and yarn workspaces: `npm test --workspaces` runs each package's script, whose runner may sit in
    the package's own node_modules (what was not hoisted to the root's)."""
    root = tmp_path / "mono"
    write(root / "package.json", json.dumps({"name": "mono", "private": True, "workspaces": ["packages/*"],
                                             "scripts": {"test": "npm test --workspaces"}}))  # fmt: skip
    package = root / "packages" / "calc"
    write(package / "package.json", json.dumps({"name": "calc", "version": "1.0.0", "scripts": {"test": "tinytest"}}))
    write(package / "index.js", INDEX.replace("(xs.length - 1)", "xs.length"))
    write(package / "test" / "test.js", TEST)
    write(root / ".gitignore", "node_modules/\n")
    assert cli("init", "--yes", cwd=commit_initial(root)).returncode == 0
    git(["add", "--all"], root)
    git(["commit", "--quiet", "-m", "agentic: setup"], root)
    runner = package / "node_modules" / ".bin" / "tinytest"
    write(runner, RUNNER)
    runner.chmod(runner.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    write(root / "node_modules" / "tinycheck" / "index.js", LIBRARY)  # hoisted to the root
    gate = cli("gate", cwd=root)
    assert gate.returncode == 0, gate.stdout + gate.stderr
