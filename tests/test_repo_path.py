"""The sandbox shows the run's worktree at the repository's own path: editable installs, `.pth` files
and absolute paths in configuration resolve to the run's code, never to the person's checkout, which
stays hidden beneath it (issue 13, point 1). The checkout's own virtual environment stays visible."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from agentic.gitcmd import git
from tests.conftest import FINISH, FIX, make_repo, write
from tests.inproc import run, tool_results
from tests.test_shell_runs import DEFAULT


def editable_repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo")
    write(repo / "src" / "pkg" / "__init__.py", 'VALUE = "base"\n')
    write(repo / "pyproject.toml", """\
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "pkg"
        version = "0"

        [tool.setuptools.packages.find]
        where = ["src"]
        """)
    write(repo / "settings.cfg", f"data = {os.path.realpath(repo)}/data.txt\n")  # an absolute path to the checkout
    write(repo / "data.txt", "from the base\n")
    write(repo / ".gitignore", ".venv/\n")
    git(["add", "--all"], repo)
    git(["commit", "--quiet", "-m", "a src layout"], repo)
    venv = repo / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    # an editable install as setuptools makes one for a src layout: a .pth naming the checkout's src/
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    (site / "__editable__.pkg-0.pth").write_text(f"{os.path.realpath(repo)}/src\n")
    (repo / "untracked-note.txt").write_text("only in the person's checkout\n")
    return repo


def test_an_editable_install_imports_the_runs_code_at_the_repositorys_path(tmp_path: Path) -> None:
    repo = editable_repo(tmp_path)
    change = {"name": "edit_file", "arguments": {"path": "src/pkg/__init__.py", "old_text": '"base"',
                                                 "new_text": '"the run"'}}  # fmt: skip
    data = {"name": "write_file", "arguments": {"path": "data.txt", "content": "from the run\n"}}
    show = {"name": "run_command", "arguments": {"command": (
        'pwd; .venv/bin/python -c "import pkg; print(pkg.VALUE, pkg.__file__)"; '
        'cat "$(sed -n "s/^data = //p" settings.cfg)"; cat untracked-note.txt 2>&1 | head -1')}}  # fmt: skip
    outcome = run(repo, [{"tool_calls": [change, data]}, {"tool_calls": [show]}, {"tool_calls": [FIX]},
                         {"tool_calls": [FINISH]}], contract=DEFAULT)  # fmt: skip
    assert outcome.status == "accepted", outcome.reason
    output = tool_results(outcome)[2]["content"].splitlines()
    root = os.path.realpath(repo)
    assert output[1] == root
    assert output[2] == f"the run {root}/src/pkg/__init__.py"  # the run's code, at the repository's path
    assert output[3] == "from the run"  # an absolute path to the checkout reads the run's file
    assert "No such file" in output[4]  # the person's untracked files stay out of sight
    assert (repo / "src" / "pkg" / "__init__.py").read_text() == 'VALUE = "base"\n'  # the checkout untouched
