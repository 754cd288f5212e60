"""The worktree's seal: tree() skips git when nothing changed, and never when something did."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentic.git.cmd import git
from agentic.workspace import seal as seal_module
from agentic.workspace.seal import files_seal, settle_line, worktree_seal
from agentic.workspace.worktree import Workspace


@pytest.fixture
def ws(repo: Path) -> Iterator[Workspace]:
    workspace = Workspace(repo, "sealed", git(["rev-parse", "HEAD"], repo).strip())
    workspace.create()
    try:
        yield workspace
    finally:
        workspace.remove(keep_branch=False)


def staged(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the stagings (git runs) tree() makes."""
    calls = [0]
    real = ws._stage

    def counting(leave_out: list[str] | None) -> tuple[str, list[object]]:
        calls[0] += 1
        return real(leave_out)  # type: ignore[return-value]

    monkeypatch.setattr(ws, "_stage", counting)
    return calls


def keep_times(path: Path, change: Callable[[], None]) -> None:
    """Change a file and put its mtime back: only ctime (and content) can tell."""
    info = path.stat()
    change()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def test_an_unchanged_worktree_is_not_staged_again(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = staged(ws, monkeypatch)
    first = ws.tree()
    assert ws.tree() == first and ws.tree() == first
    assert calls[0] == 1


@pytest.mark.parametrize("settle_ns", [0, seal_module.SETTLE_NS])  # old entries (ctime), fresh ones (digest)
@pytest.mark.parametrize(
    "change",
    [
        lambda root: keep_times(root / "calc.py", lambda: (root / "calc.py").write_bytes(
            (root / "calc.py").read_bytes().replace(b"- 1)", b"+ 0)"))),
        lambda root: (root / "calc.py").chmod(0o755),
        lambda root: (root / "new.txt").write_text("x\n"),
        lambda root: (root / "calc.py").unlink(),
        lambda root: (root / "tests" / "__init__.py").rename(root / "tests" / "init.py"),
        lambda root: (root / "link").symlink_to("calc.py"),
    ],
    ids=["same-size-same-mtime", "mode", "added", "deleted", "renamed", "link"],
)
def test_every_change_is_staged(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, settle_ns: int, change: Callable[[Path], object]
) -> None:
    monkeypatch.setattr(seal_module, "SETTLE_NS", settle_ns)
    before = ws.tree()
    change(ws.path)
    after = ws.tree()
    assert after != before
    assert after == ws.snapshot().tree  # what a full staging makes of it


def test_a_retargeted_link_breaks_the_seal(ws: Workspace) -> None:
    (ws.path / "link").symlink_to("calc.py")
    before = ws.tree()
    (ws.path / "link").unlink()
    (ws.path / "link").symlink_to(".env")
    assert ws.tree() != before


def test_a_snapshot_leaving_paths_out_does_not_leave_a_stale_tree(ws: Workspace) -> None:
    (ws.path / "calc.py").write_text("changed = True\n")
    full = ws.tree()
    partial = ws.snapshot(leave_out=["calc.py"]).tree
    assert partial != full
    assert ws.tree() == full


def test_too_large_a_worktree_is_not_sealed(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seal_module, "MAX_ENTRIES", 3)
    assert worktree_seal(ws.path, settle_line()) is None
    calls = staged(ws, monkeypatch)
    ws.tree()
    ws.tree()
    assert calls[0] == 2


def test_a_fresh_file_is_sealed_with_its_content(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"one")
    since = settle_line()
    before = files_seal([path, tmp_path / "missing"], since)
    keep_times(path, lambda: path.write_bytes(b"two"))
    after = files_seal([path, tmp_path / "missing"], since)
    assert before is not None and after is not None and before != after
    assert before[1] == after[1] == (os.fspath(tmp_path / "missing"), None)


def test_an_entry_that_ages_past_the_settle_line_keeps_its_seal(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = staged(ws, monkeypatch)
    first = ws.tree()  # every entry fresh: sealed with its content
    monkeypatch.setattr(seal_module, "SETTLE_NS", 0)  # now all of them settled
    assert ws.tree() == first
    assert calls[0] == 1


def test_a_large_fresh_file_gives_no_seal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seal_module, "MAX_FRESH_BYTES", 2)
    (tmp_path / "f").write_bytes(b"three")
    assert worktree_seal(tmp_path, settle_line()) is None
