"""A commit's listing is read once per object id (names such as HEAD are asked each time), and a gate
checkout's HEAD is read from its git dir."""

from __future__ import annotations

import subprocess
from pathlib import Path

from agentic.git import trees
from agentic.git.cmd import git
from tests.conftest import commit_initial, write


def test_a_commit_is_listed_once_and_a_name_each_time(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root / "a.py", "a = 1\n")
    write(root / "pkg" / "b.py", "b = 2\n")
    commit_initial(root)
    first = git(["rev-parse", "HEAD"], root).strip()
    listed = trees.entries(root, first)
    assert [(e.mode, e.path) for e in listed] == [("100644", "a.py"), ("100644", "pkg/b.py")]
    assert trees.entries(root / "pkg", first) is listed  # the same listing, from anywhere in the repository
    write(root / "c.py", "c = 3\n")
    git(["add", "c.py"], root)
    git(["commit", "-qm", "c"], root)
    assert [e.path for e in trees.entries(root, "HEAD")] == ["a.py", "c.py", "pkg/b.py"]  # HEAD moved: asked again
    assert trees.entries(root, first) is listed


def test_the_head_of_a_detached_checkout_is_read_and_a_branch_is_left_to_git(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root / "a.py", "a = 1\n")
    commit_initial(root)
    head = git(["rev-parse", "HEAD"], root).strip()
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "-C", str(root), "worktree", "add", "--quiet", "--detach", str(checkout), head], check=True)
    assert trees.head_of(checkout) == head
    assert trees.head_of(root) == "HEAD"  # a `.git` directory: not a linked worktree
    on_branch = tmp_path / "on-branch"
    subprocess.run(["git", "-C", str(root), "worktree", "add", "--quiet", "-b", "x", str(on_branch)], check=True)
    assert trees.head_of(on_branch) == "HEAD"


def test_a_commits_tree_is_named_and_remembered_by_commit_id(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root / "a.py", "a = 1\n")
    commit_initial(root)
    first = git(["rev-parse", "HEAD"], root).strip()
    tree = git(["rev-parse", "HEAD^{tree}"], root).strip()
    assert trees.tree_of(root, first) == tree
    git(["commit", "-q", "--amend", "-m", "again"], root)  # another commit, the same tree
    assert trees.tree_of(root, git(["rev-parse", "HEAD"], root).strip()) == tree == trees.tree_of(root, "HEAD")
