"""find_repo: the repository a command starts in, its root, HEAD's commit and branch, with one git
process in the usual case and a clear error otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentic.errors import UsageError
from agentic.git.cmd import git
from agentic.workspace import find_repo


def test_the_root_head_and_branch_from_a_subdirectory(repo: Path) -> None:
    head = git(["rev-parse", "HEAD"], repo).strip()
    info = find_repo(repo / "tests")
    assert (info.root, info.head, info.branch) == (Path(repo).resolve(), head, "main")


@pytest.mark.parametrize("name", ["feature/x", "main"])
def test_the_branch_is_its_own_name_even_where_a_tag_shares_it(repo: Path, name: str) -> None:
    git(["tag", "main"], repo)  # git's short form of refs/heads/main is then heads/main
    if name != "main":
        git(["checkout", "--quiet", "-b", name], repo)
    assert find_repo(repo).branch == name


def test_a_detached_head_has_no_branch(repo: Path) -> None:
    git(["checkout", "--quiet", "--detach"], repo)
    info = find_repo(repo)
    assert info.branch is None and info.head == git(["rev-parse", "HEAD"], repo).strip()


def test_a_repository_without_a_commit_and_a_directory_outside_one_are_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    git(["init", "--quiet", "--initial-branch=main"], tmp_path / "empty")
    with pytest.raises(UsageError, match="has no commit yet"):
        find_repo(tmp_path / "empty")
    (tmp_path / "plain").mkdir()
    with pytest.raises(UsageError, match="not inside a git repository"):
        find_repo(tmp_path / "plain")
