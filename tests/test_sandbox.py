"""The bubblewrap sandbox: isolation, environment, timeouts that kill the whole tree, capped output."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from agentic.sandbox import BubblewrapSandbox, command_env


@pytest.fixture
def box(tmp_path: Path) -> BubblewrapSandbox:
    worktree = tmp_path / "wt"
    worktree.mkdir()
    (worktree / ".git").write_text("gitdir: /nowhere\n")
    return BubblewrapSandbox(worktree)


def sh(box: BubblewrapSandbox, script: str, timeout: float = 20, cap: int = 60_000):  # type: ignore[no-untyped-def]
    return box.run(["sh", "-c", script], timeout_s=timeout, max_output_bytes=cap)


def test_worktree_writable_root_readonly_git_link_readonly(box: BubblewrapSandbox, tmp_path: Path) -> None:
    result = sh(box, "echo data > new.txt && cat new.txt; touch /usr/x 2>&1; echo hi >> .git 2>&1; "
                     f"touch {tmp_path}/outside 2>&1; true")  # fmt: skip
    assert result.ok
    assert (box.worktree / "new.txt").read_text() == "data\n"
    assert "touch: cannot touch '/usr/x': Read-only file system" in result.output
    assert (box.worktree / ".git").read_text() == "gitdir: /nowhere\n"
    assert not (tmp_path / "outside").exists()


def test_environment_is_an_allow_list(box: BubblewrapSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-never-be-seen-0000000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-should-never-be-seen")
    result = box.run(["env"], timeout_s=10)
    names = {line.split("=", 1)[0] for line in result.output.splitlines() if "=" in line}
    assert "OPENAI_API_KEY" not in names and "AWS_SECRET_ACCESS_KEY" not in names
    assert names <= set(command_env()) | {"PWD", "SHLVL", "_", "OLDPWD"}
    assert "should-never-be-seen" not in result.output


def test_no_network_and_own_pid_namespace(box: BubblewrapSandbox) -> None:
    result = sh(box, "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; echo pid=$$; ls /proc | grep -c '^[0-9]'")
    lines = result.output.split()
    assert lines[0] == "lo" and not any(x.startswith(("eth", "ens", "veth")) for x in lines)
    assert int(lines[-1]) < 6  # only the sandbox's own processes are visible
    host_pid = os.getpid()
    assert f"pid={host_pid}" not in result.output


def test_timeout_kills_the_whole_tree_including_setsid_children(box: BubblewrapSandbox, tmp_path: Path) -> None:
    marker = box.worktree / "survivor"
    script = f"(setsid sh -c 'sleep 2; touch {marker}' &) ; (nohup sh -c 'sleep 2; touch {marker}' &) ; sleep 60"
    start = time.monotonic()
    result = sh(box, script, timeout=1)
    assert result.timed_out and result.exit_code is None and not result.ok
    assert time.monotonic() - start < 5
    assert "timeout" in result.summary()
    time.sleep(2.5)
    assert not marker.exists()


def test_output_is_capped_head_and_tail_kept(box: BubblewrapSandbox) -> None:
    result = sh(box, "echo FIRST; head -c 5000000 /dev/zero | tr '\\0' x; echo; echo LAST", cap=2000)
    assert result.truncated and result.ok
    assert result.output.startswith("FIRST") and result.output.rstrip().endswith("LAST")
    assert "bytes of output cut" in result.output
    assert len(result.output) < 2200


def test_missing_program_is_reported(box: BubblewrapSandbox) -> None:
    result = box.run(["definitely-not-a-program"], timeout_s=10)
    assert not result.ok and "command not found inside the sandbox" in result.output


def test_symlinked_git_is_not_bound(tmp_path: Path) -> None:
    worktree = tmp_path / "wt"
    worktree.mkdir()
    target = tmp_path / "host-file"
    target.write_text("host\n")
    (worktree / ".git").symlink_to(target)
    box = BubblewrapSandbox(worktree)
    assert str(target) not in " ".join(box.wrap(["true"]))
