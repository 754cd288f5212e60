"""The harness's own state stays where it should be (issue 14, point 6; docs/security.md, "state").

A repository cannot choose where agentic keeps its database, journals and worktrees: a committed
`.agentic` (file, directory, symlink, submodule), a symlinked or foreign one, or symlinks planted in
it are refused by every command that would open it (exit 2, one message), and nothing is written
where they point.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentic.errors import UnsafeStateDir
from agentic.git.cmd import git
from agentic.workspace import Workspace, check_state_dir, find_repo
from tests.conftest import FINISH, FIX, cli, make_repo, write_script

COMMANDS = [
    ["run", "fix it", "--model", "script:turns.yaml"],
    ["resume", "last"],
    ["show", "last"],
    ["audit", "last"],
    ["runs"],
    ["apply", "last"],
    ["journal", "verify", "last"],
    ["gate"],
    ["init", "--yes", "--force", "--test-command", "true"],
    ["tools", "disable", "run_command"],
]


def _commit_all(repo: Path, message: str = "plant") -> None:
    git(["add", "--force", "--all"], repo)
    git(["commit", "--quiet", "-m", message], repo)


def _plant_tracked_symlink(repo: Path, elsewhere: Path) -> None:
    (repo / ".agentic").symlink_to(elsewhere)
    _commit_all(repo)


def _plant_tracked_directory(repo: Path, elsewhere: Path) -> None:
    (repo / ".agentic" / "runs").mkdir(parents=True)
    (repo / ".agentic" / "runs" / "README").write_text("planted\n")
    (repo / ".agentic" / "worktrees").symlink_to(elsewhere)
    _commit_all(repo)


def _plant_tracked_file(repo: Path, elsewhere: Path) -> None:
    (repo / ".agentic").write_text(f"gitdir: {elsewhere}\n")
    _commit_all(repo)


def _plant_tracked_database_symlink(repo: Path, elsewhere: Path) -> None:
    (repo / ".agentic").mkdir()
    (repo / ".agentic" / "agentic.db").symlink_to(elsewhere / "agentic.db")
    _commit_all(repo)


def _plant_submodule_entry(repo: Path, elsewhere: Path) -> None:
    head = git(["rev-parse", "HEAD"], repo).strip()
    git(["update-index", "--add", "--cacheinfo", f"160000,{head},.agentic"], repo)
    git(["commit", "--quiet", "-m", "gitlink"], repo)


def _plant_in_head_only(repo: Path, elsewhere: Path) -> None:
    """Committed, then removed from the index only: any checkout of HEAD plants it again."""
    _plant_tracked_symlink(repo, elsewhere)
    git(["rm", "--quiet", "--cached", ".agentic"], repo)


def _plant_untracked_symlink(repo: Path, elsewhere: Path) -> None:
    (repo / ".agentic").symlink_to(elsewhere)


def _plant_symlink_inside(repo: Path, elsewhere: Path) -> None:
    (repo / ".agentic").mkdir()
    (repo / ".agentic" / "runs").symlink_to(elsewhere)


def _plant_world_writable(repo: Path, elsewhere: Path) -> None:
    (repo / ".agentic").mkdir()
    os.chmod(repo / ".agentic", 0o777)


PLANTS = {
    "tracked symlink": _plant_tracked_symlink,
    "tracked directory": _plant_tracked_directory,
    "tracked file": _plant_tracked_file,
    "tracked symlink to the database": _plant_tracked_database_symlink,
    "submodule entry": _plant_submodule_entry,
    "in HEAD, not in the index": _plant_in_head_only,
    "untracked symlink": _plant_untracked_symlink,
    "symlink inside": _plant_symlink_inside,
    "world-writable": _plant_world_writable,
}


@pytest.mark.parametrize("plant", list(PLANTS))
def test_a_hostile_state_dir_is_refused(tmp_path: Path, plant: str) -> None:
    repo = make_repo(tmp_path / "repo")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    PLANTS[plant](repo, elsewhere)
    with pytest.raises(UnsafeStateDir) as caught:
        check_state_dir(repo)
    assert caught.value.exit_code == 2 and ".agentic" in caught.value.message
    with pytest.raises(UnsafeStateDir):
        find_repo(repo)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_command_refuses_a_committed_symlink_and_writes_nothing_there(tmp_path: Path, command: list[str]) -> None:
    repo = make_repo(tmp_path / "repo")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_script(repo / "turns.yaml", [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    _plant_tracked_symlink(repo, elsewhere)
    done = cli(*command, cwd=repo)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "commits .agentic" in done.stderr and "git rm -r --cached .agentic" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(elsewhere.iterdir()) == []


def test_doctor_reports_it_as_a_failed_check(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    _plant_tracked_directory(repo, tmp_path)
    done = cli("doctor", "--quick", "--json", cwd=repo)
    assert done.returncode == 1
    assert '"commits .agentic' in done.stdout or "commits .agentic" in done.stdout


def test_the_harness_own_state_dir_is_accepted(tmp_path: Path) -> None:
    """The everyday case: created by the harness, untracked, excluded through info/exclude."""
    repo = make_repo(tmp_path / "repo")
    script = write_script(tmp_path / "t.yaml", [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    done = cli("run", "fix", "--model", f"script:{script}", cwd=repo)
    assert done.returncode == 0, done.stderr
    check_state_dir(repo)
    assert cli("audit", "last", cwd=repo).returncode == 0


def test_a_run_cannot_commit_agentic_state(tmp_path: Path) -> None:
    """The agent writing `.agentic/…` in its worktree: never part of its change (excluded), so no
    accepted commit can plant a state dir in the person's checkout."""
    repo = make_repo(tmp_path / "repo")
    from agentic.workspace import ensure_excluded

    ensure_excluded(repo)
    workspace = Workspace(repo, "r1", git(["rev-parse", "HEAD"], repo).strip())
    workspace.create()
    (workspace.path / ".agentic").mkdir()
    (workspace.path / ".agentic" / "agentic.db").write_text("forged\n")
    (workspace.path / "ok.py").write_text("x = 1\n")
    assert workspace.snapshot().changes == [("A", "ok.py")]
    workspace.remove(keep_branch=False)
