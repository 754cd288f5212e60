"""agentic.git.linked: a linked worktree made without `git worktree add`'s sub-processes is the one git
makes (its records, its index, its files, its branch), and a repository that asks `worktree add` for
more is left to git."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentic.errors import WorkspaceError
from agentic.git import linked
from agentic.git.cmd import git
from agentic.workspace.worktree import admin_dir, remove_worktree
from tests.conftest import commit_initial, write


def project(root: Path, *init: str) -> tuple[Path, str]:
    root.mkdir(parents=True)
    git(["init", "--quiet", *init], root)
    write(root / "src" / "calc.py", "def f():\n    return 1\n")
    write(root / "run.sh", "#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(0o755)
    write(root / "docs" / "a.md", "a\n")
    (root / "link").symlink_to("src/calc.py")
    commit_initial(root)
    return root, git(["rev-parse", "HEAD"], root).strip()


def records(common: Path, name: str, path: Path) -> dict[str, str]:
    """A worktree's records, its own names replaced, and what git says of it."""
    admin = common / "worktrees" / name
    found = {f: (admin / f).read_text().replace(name, "NAME") for f in sorted(os.listdir(admin))
             if f not in ("index", "logs", "ORIG_HEAD")}  # fmt: skip
    found[".git"] = (path / ".git").read_text().replace(name, "NAME")
    found["stage"] = git(["ls-files", "-s"], path)
    found["status"] = git(["status", "--porcelain", "--untracked-files=all"], path)
    found["files"] = "\n".join(sorted(
        f"{p.relative_to(path)} {oct(p.lstat().st_mode)}" for p in path.rglob("*") if ".git" not in p.parts))  # fmt: skip
    return found


@pytest.mark.parametrize("init", [[], ["--object-format=sha256"]], ids=["sha1", "sha256"])
@pytest.mark.parametrize("branch", [None, "agentic/run-1"], ids=["detached", "branch"])
def test_a_linked_worktree_is_the_one_git_makes(tmp_path: Path, init: list[str], branch: str | None) -> None:
    root, head = project(tmp_path / "repo", *init)
    common = root / ".git"
    theirs, ours = root / ".agentic" / "checkouts" / "theirs", root / ".agentic" / "checkouts" / "ours"
    theirs.parent.mkdir(parents=True)
    git(["worktree", "add", "--quiet", *(["-b", f"{branch}-git"] if branch else ["--detach"]), str(theirs), head], root)
    linked.add(root, ours, head, branch=branch)
    want, got = records(common, "theirs", theirs), records(common, "ours", ours)
    if branch:
        want["HEAD"] = want["HEAD"].replace(f"{branch}-git", branch)
    assert got == want
    assert not (common / "worktrees" / "ours" / "locked").exists()
    listed = git(["worktree", "list", "--porcelain"], root)
    assert f"worktree {os.path.realpath(ours)}\nHEAD {head}\n" in listed
    assert (f"branch refs/heads/{branch}\n" if branch else "detached\n") in listed.split(f"worktree {os.path.realpath(ours)}")[1]
    if branch:  # the branch as `git branch` makes it, with its reflog
        assert git(["rev-parse", f"refs/heads/{branch}"], root).strip() == head
        assert "branch: Created from" in git(["reflog", "show", branch], root)
    git(["worktree", "prune"], root)  # a worktree git knows stays
    assert (common / "worktrees" / "ours").is_dir() and admin_dir(root, ours) == common / "worktrees" / "ours"
    remove_worktree(root, ours)
    assert not ours.exists() and not (common / "worktrees" / "ours").exists()


def test_a_repository_under_a_directory_whose_name_is_not_utf8(tmp_path: Path) -> None:
    root, head = project(tmp_path / os.fsdecode(b"caf\xe9") / "repo")  # a Latin-1 name, as old systems made
    theirs, ours = root / ".agentic" / "checkouts" / "theirs", root / ".agentic" / "checkouts" / "ours"
    theirs.parent.mkdir(parents=True)
    git(["worktree", "add", "--quiet", "--detach", str(theirs), head], root)
    linked.add(root, ours, head)
    for made, name in ((theirs, "theirs"), (ours, "ours")):
        assert (made / ".git").read_bytes() == b"gitdir: " + os.fsencode(root / ".git" / "worktrees" / name) + b"\n"
        assert (root / ".git" / "worktrees" / name / "gitdir").read_bytes() == os.fsencode(made / ".git") + b"\n"
    assert git(["status", "--porcelain"], ours) == ""


def test_a_sparse_checkout_and_per_worktree_config_are_left_to_git(tmp_path: Path) -> None:
    root, head = project(tmp_path / "repo")
    git(["sparse-checkout", "set", "src"], root)  # cone mode: the top's files and src/
    assert linked.asks_more(root / ".git")
    path = root / ".agentic" / "checkouts" / "sparse"
    path.parent.mkdir(parents=True)
    linked.add(root, path, head)
    assert (path / "src" / "calc.py").is_file() and not (path / "docs").exists()  # as git makes it: sparse too
    assert (root / ".git" / "worktrees" / "sparse" / "info" / "sparse-checkout").is_file()
    plain, _ = project(tmp_path / "plain")
    assert not linked.asks_more(plain / ".git")
    git(["config", "extensions.worktreeConfig", "true"], plain)
    assert linked.asks_more(plain / ".git")  # read again: the config file changed


def test_a_checkout_that_fails_leaves_nothing_behind(tmp_path: Path) -> None:
    root, _ = project(tmp_path / "repo")
    blob = git(["hash-object", "-w", "--stdin"], root, input="x\n").strip()
    tree = git(["mktree"], root, input=f"100644 blob {blob}\t.git\n").strip()  # a path no checkout may write
    bad = git(["commit-tree", tree, "-m", "bad"], root).strip()
    path = root / ".agentic" / "worktrees" / "bad"
    path.parent.mkdir(parents=True)
    with pytest.raises(WorkspaceError):
        linked.add(root, path, bad, branch="agentic/bad")
    assert not path.exists() and not (root / ".git" / "worktrees" / "bad").exists()
    assert subprocess.run(["git", "rev-parse", "--verify", "-q", "refs/heads/agentic/bad"], cwd=root).returncode == 1
    assert "bad" not in git(["worktree", "list"], root)


CUT_OFF = """
import sys
from pathlib import Path
from agentic.git import linked
linked.add(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], branch="agentic/cut")
"""


def test_a_checkout_killed_while_it_is_made_is_removed_with_its_records(tmp_path: Path) -> None:
    """SIGKILL while the files are checked out (git's read-tree held up by a git of the test's own on
    PATH) leaves a directory and records locked "initializing", which git keeps for good;
    remove_worktree takes both, as the run's recovery and `agentic prune` call it."""
    root, head = project(tmp_path / "repo")
    shims, marker = tmp_path / "bin", tmp_path / "reading"
    shims.mkdir()
    real = subprocess.run(["sh", "-c", "command -v git"], capture_output=True, text=True, check=True).stdout.strip()
    (shims / "git").write_text(f'#!/bin/sh\ncase "$*" in *read-tree*) : > "{marker}"; sleep 60;; esac\nexec {real} "$@"\n')
    (shims / "git").chmod(0o755)
    path = root / ".agentic" / "checkouts" / "cut-1"
    env = {**os.environ, "PATH": f"{shims}:{os.environ['PATH']}"}
    child = subprocess.Popen([sys.executable, "-c", CUT_OFF, str(root), str(path), head], env=env,
                             start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert marker.exists(), child.poll()
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    admin = root / ".git" / "worktrees" / "cut-1"
    assert (admin / "locked").read_text() == "initializing" and path.is_dir()
    git(["worktree", "prune"], root)
    assert admin.is_dir()  # git keeps it: locked
    assert linked.unfinished(root, root / ".agentic" / "checkouts" / "other") is None
    remove_worktree(root, path)
    assert not path.exists() and not admin.exists()
    assert git(["worktree", "list", "--porcelain"], root).count("worktree ") == 1
    (admin).mkdir(parents=True)  # cut off sooner: only the lock written
    (admin / "locked").write_text("initializing")
    remove_worktree(root, path)
    assert not admin.exists()
    (admin).mkdir(parents=True)  # a lock of the person's, or another worktree's records: left alone
    (admin / "locked").write_text("on a USB disk")
    remove_worktree(root, path)
    assert admin.is_dir()
