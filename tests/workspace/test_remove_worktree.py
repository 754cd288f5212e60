"""remove_worktree: a harness worktree goes with git's record of it, without a git process when the
records are as git writes them; anything else (locked, records that do not name each other) through git."""

from __future__ import annotations

from pathlib import Path

from agentic.git.cmd import git
from agentic.workspace.worktree import admin_dir, remove_worktree
from tests.conftest import make_repo


def listed(repo: Path) -> list[str]:
    return [line.split(" ", 1)[1] for line in git(["worktree", "list", "--porcelain"], repo).splitlines()
            if line.startswith("worktree ")]  # fmt: skip


def added(repo: Path, name: str) -> Path:
    path = repo / ".agentic" / "checkouts" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    git(["worktree", "add", "--quiet", "--detach", str(path), "HEAD"], repo)
    return path


def test_a_worktree_and_its_record_go_and_git_agrees(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    path = added(repo, "one")
    (path / "calc.py").write_text("changed\n")  # unclean: removed anyway, as --force would
    (path / "new" / "deep").mkdir(parents=True)
    admin = admin_dir(repo, path)
    assert admin is not None and admin.parent == repo / ".git" / "worktrees"
    remove_worktree(repo, path)
    assert not path.exists() and not admin.exists()
    assert listed(repo) == [str(repo)]
    git(["worktree", "add", "--quiet", "--detach", str(path), "HEAD"], repo)  # the name is free again
    assert len(listed(repo)) == 2


def test_records_that_do_not_name_each_other_are_left_to_git(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    locked = added(repo, "locked")
    git(["worktree", "lock", str(locked)], repo)
    assert admin_dir(repo, locked) is None  # git keeps a locked worktree from `remove --force`
    other = added(repo, "other")
    mine = added(repo, "mine")
    (mine / ".git").write_text((other / ".git").read_text())  # names another worktree's admin dir
    assert admin_dir(repo, mine) is None
    assert admin_dir(repo, tmp_path) is None  # no .git file at all
    elsewhere = make_repo(tmp_path / "elsewhere")
    assert admin_dir(elsewhere, other) is None  # a worktree of another repository
    remove_worktree(repo, mine)  # through git, which still removes the directory
    assert not mine.exists()
    assert admin_dir(repo, other) is not None and other.exists()  # the one it named is untouched
