"""The harness's git is found on PATH once per PATH value, and never through a relative PATH entry."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from agentic.errors import WorkspaceError
from agentic.git import cmd


def test_git_is_the_one_on_path_and_a_new_path_is_searched_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = shutil.which("git")
    assert real is not None and cmd.program() == real
    other = tmp_path / "bin"
    other.mkdir()
    (other / "git").symlink_to(real)
    monkeypatch.setenv("PATH", f"{other}{os.pathsep}{os.environ['PATH']}")
    assert cmd.program() == str(other / "git")
    assert cmd.git(["--version"], tmp_path).startswith("git version")


def test_a_git_found_through_a_relative_path_entry_is_not_remembered(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """`.` on PATH names another directory for each command's cwd: the name is left to each start."""
    planted = tmp_path / "git"
    planted.write_text("#!/bin/sh\nexit 0\n")
    planted.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", f".{os.pathsep}/usr/bin{os.pathsep}/bin")
    assert cmd.program() == "git"


def test_without_git_on_path_starting_it_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert cmd.program() == "git"
    with pytest.raises(WorkspaceError, match="git cannot run in"):
        cmd.git(["--version"], tmp_path)
