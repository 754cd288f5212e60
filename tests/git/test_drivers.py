"""The harness's git switches off every filter driver, however the repository is named to it, and
asks no git process when the config plainly defines none."""

from __future__ import annotations

import subprocess
from pathlib import Path

from agentic.git import cmd
from agentic.git.cmd import hardening


def _repo(tmp_path: Path, config: str = "") -> Path:
    root = tmp_path / "repo"
    subprocess.run(["git", "init", "--quiet", str(root)], check=True)
    if config:
        with (root / ".git" / "config").open("a") as fh:
            fh.write(config)
    return root


def _switched_off(options: list[str]) -> set[str]:
    return {options[i + 1] for i, arg in enumerate(options[:-1]) if arg == "-c" and options[i + 1].startswith("filter.")}


def test_drivers_are_off_for_the_work_tree_and_for_a_git_dir_named_either_way(tmp_path: Path) -> None:
    root = _repo(tmp_path, "[filter \"spy\"]\n\tsmudge = touch /tmp/pwned\n\tclean = cat\n")
    git_dir = root / ".git"
    for args, cwd in ((["status"], root), ([f"--git-dir={git_dir}", "status"], tmp_path),
                      (["--git-dir", str(git_dir), "status"], tmp_path)):  # fmt: skip
        assert {"filter.spy.smudge=", "filter.spy.clean=", "filter.spy.required=false"} <= _switched_off(
            hardening(args, cwd)
        ), args


def test_a_linked_worktree_git_dir_reads_the_common_config(tmp_path: Path) -> None:
    root = _repo(tmp_path, "[Filter \"Spy\"]\n\tprocess = evil\n")
    identity = ["-c", "user.name=a", "-c", "user.email=a@b"]
    subprocess.run(["git", "-C", str(root), *identity, "commit", "--quiet", "--allow-empty", "-m", "x"], check=True)
    subprocess.run(["git", "-C", str(root), "worktree", "add", "--quiet", "--detach", str(tmp_path / "wt")], check=True)
    admin = next((root / ".git" / "worktrees").iterdir())
    assert (admin / "commondir").is_file()
    options = hardening(["--git-dir", str(admin), "status"], tmp_path)
    assert "filter.Spy.process=" in _switched_off(options) or "filter.spy.process=" in _switched_off(options)


def test_a_config_without_filter_or_include_asks_no_git(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("[core]\n\tbare = false\n")
    included = tmp_path / "included"
    included.write_text("[INCLUDE]\n\tpath = other\n")
    assert not cmd._may_define_drivers(str(plain))
    assert cmd._may_define_drivers(str(included)) and cmd._may_define_drivers(str(tmp_path / "missing"))


def test_a_working_tree_is_named_by_its_dot_git_and_a_subdirectory_by_git(tmp_path: Path) -> None:
    """The top of a working tree (a `.git` directory, or a linked worktree's `.git` file) leads to the
    common config without a git process; a subdirectory, where git would look further up, asks git:
    each way the same drivers are switched off."""
    root = _repo(tmp_path, "[filter \"spy\"]\n\tclean = cat\n")
    identity = ["-c", "user.name=a", "-c", "user.email=a@b"]
    subprocess.run(["git", "-C", str(root), *identity, "commit", "--quiet", "--allow-empty", "-m", "x"], check=True)
    linked = tmp_path / "wt"
    subprocess.run(["git", "-C", str(root), "worktree", "add", "--quiet", "--detach", str(linked)], check=True)
    (root / "sub").mkdir()
    common = str((root / ".git" / "config").resolve())
    assert cmd._own_git_dir(str(root)) == str(root / ".git")
    assert cmd._own_git_dir(str(linked)) is not None and cmd._own_git_dir(str(root / "sub")) is None
    for where in (root, linked, root / "sub"):
        assert str(Path(cmd._config_file(str(where), False) or "").resolve()) == common, where
        assert "filter.spy.clean=" in _switched_off(hardening(["status"], where)), where
