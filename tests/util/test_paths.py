"""Safe path handling beneath a worktree: refused strings, links out, hard links, races."""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentic.tools.base import ToolFailure
from agentic.util import paths
from agentic.util.paths import FileTooLarge, PathRefused


@pytest.fixture
def wt(tmp_path: Path) -> Path:
    root = tmp_path / "wt"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("print('hi')\n")
    (root / "README.md").write_text("readme\n")
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    out.mkdir()
    (out / "bashrc").write_text("original bashrc\n")
    return out


# ---------------------------------------------------------------------------------------------
# check_relative


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../../etc/passwd", "'..'"),
        ("src/../../x", "'..'"),
        ("..", "'..'"),
        ("/etc/passwd", "absolute"),
        ("//etc/passwd", "absolute"),
        ("~/.ssh/id_ed25519", "'~'"),
        ("~root/x", "'~'"),
        ("%2e%2e/x", "percent-encoded"),
        ("%2E%2E/x", "percent-encoded"),
        ("src%2fapp.py", "percent-encoded"),
        ("src%2Fapp.py", "percent-encoded"),
        ("..%5cx", "percent-encoded"),
        ("src\\..\\x", "'\\\\'"),
        ("a\x00b", "control character"),
        ("a\nb", "control character"),
        ("a\x1bb", "control character"),
        ("a\x7fb", "control character"),
        ("a\x85b", "control character"),
        ("src/app\u200b.py", "invisible"),
        ("src/app\u200d.py", "invisible"),
        ("src/\u202egnp.py", "invisible"),
        ("src/\u2066x\u2069.py", "invisible"),
        ("\ufeffsrc/app.py", "invisible"),
        ("src/app\U000e0041.py", "invisible"),
        ("src/app\U000e0000.py", "invisible"),
        ("src/soft\u00adhyphen", "invisible"),
        ("a/" + "x" * 256, "longer than 255 bytes"),
        ("a/" + "é" * 128, "longer than 255 bytes"),  # 256 bytes in UTF-8
        ("/".join(["d" * 200] * 21), "longer than 4096 bytes"),
        (".git/config", "inside .git"),
        (".GIT/hooks/x", "inside .git"),
        ("sub/.Git/HEAD", "inside .git"),
        (".git", "inside .git"),
        ("./.git/", "inside .git"),
    ],
)
def test_check_relative_refuses(path: str, message: str) -> None:
    with pytest.raises(PathRefused) as info:
        paths.check_relative(path)
    assert message.replace("\\\\", "\\") in str(info.value)
    assert isinstance(info.value, ToolFailure)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("src/app.py", "src/app.py"),
        ("./src//app.py", "src/app.py"),
        ("src/./app.py", "src/app.py"),
        ("src/", "src"),
        (".", "."),
        ("", "."),
        ("./", "."),
        (".github/workflows/ci.yml", ".github/workflows/ci.yml"),
        (".gitignore", ".gitignore"),
        ("a..b/c...", "a..b/c..."),
        ("x~", "x~"),
        ("100%.txt", "100%.txt"),
        ("données/é.txt", "données/é.txt"),
        ("a/" + "x" * 255, "a/" + "x" * 255),
    ],
)
def test_check_relative_normalises(path: str, expected: str) -> None:
    assert paths.check_relative(path) == expected


def test_check_relative_refuses_non_strings() -> None:
    with pytest.raises(PathRefused):
        paths.check_relative(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# reading and writing


def test_read_bytes(wt: Path) -> None:
    assert paths.read_bytes(wt, "src/app.py", 100) == b"print('hi')\n"
    assert paths.read_bytes(wt, "./src//app.py", 100) == b"print('hi')\n"


def test_read_bytes_over_the_limit(wt: Path) -> None:
    with pytest.raises(FileTooLarge, match="12 bytes"):
        paths.read_bytes(wt, "src/app.py", 11)
    assert paths.read_bytes(wt, "src/app.py", 12) == b"print('hi')\n"


@pytest.mark.parametrize(
    ("rel", "message"),
    [
        ("nope.txt", "no such file"),
        ("src", "is a directory"),
        (".", "is a directory"),
        ("README.md/x", "not a directory"),
    ],
)
def test_read_bytes_failures(wt: Path, rel: str, message: str) -> None:
    with pytest.raises(ToolFailure, match=message):
        paths.read_bytes(wt, rel, 100)


def test_read_of_a_fifo_fails_without_hanging(wt: Path) -> None:
    os.mkfifo(wt / "pipe")
    with pytest.raises(ToolFailure, match="not a regular file"):
        paths.read_bytes(wt, "pipe", 100)


def test_write_bytes_creates_parents_then_overwrites(wt: Path) -> None:
    assert paths.write_bytes(wt, "new/deep/file.txt", b"one\n") is True
    assert (wt / "new" / "deep" / "file.txt").read_bytes() == b"one\n"
    assert paths.write_bytes(wt, "new/deep/file.txt", b"two\n") is False
    assert (wt / "new" / "deep" / "file.txt").read_bytes() == b"two\n"
    assert sorted(os.listdir(wt / "new" / "deep")) == ["file.txt"]  # no temporary file left


def test_write_bytes_keeps_the_mode(wt: Path) -> None:
    script = wt / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    paths.write_bytes(wt, "run.sh", b"#!/bin/sh\necho hi\n")
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert script.read_bytes() == b"#!/bin/sh\necho hi\n"


@pytest.mark.parametrize(
    ("rel", "message"),
    [("src", "is a directory"), (".", "is a directory"), ("README.md/x", "not a directory")],
)
def test_write_bytes_failures(wt: Path, rel: str, message: str) -> None:
    with pytest.raises(ToolFailure, match=message):
        paths.write_bytes(wt, rel, b"x")
    assert (wt / "README.md").read_text() == "readme\n"


def test_write_refuses_git(wt: Path) -> None:
    (wt / ".git").mkdir()
    with pytest.raises(PathRefused):
        paths.write_bytes(wt, ".git/hooks/pre-commit", b"evil")
    assert not (wt / ".git" / "hooks").exists()


def test_delete(wt: Path) -> None:
    assert paths.delete(wt, "src/app.py") == "file"
    assert not (wt / "src" / "app.py").exists()
    with pytest.raises(ToolFailure, match="no such file"):
        paths.delete(wt, "src/app.py")
    with pytest.raises(ToolFailure, match="is a directory"):
        paths.delete(wt, "src")
    assert (wt / "src").is_dir()


def test_stat(wt: Path, outside: Path) -> None:
    (wt / "link").symlink_to(outside / "bashrc")
    st = paths.stat(wt, "src/app.py")
    assert st is not None and stat.S_ISREG(st.st_mode) and st.st_size == 12
    link = paths.stat(wt, "link")
    assert link is not None and stat.S_ISLNK(link.st_mode)
    root = paths.stat(wt, ".")
    assert root is not None and stat.S_ISDIR(root.st_mode)
    assert paths.stat(wt, "missing") is None
    assert paths.stat(wt, "missing/deeper") is None
    with pytest.raises(PathRefused):
        paths.stat(wt, "../wt/src")


# ---------------------------------------------------------------------------------------------
# links out of the worktree


def test_symlinked_file_pointing_outside_is_refused(wt: Path, outside: Path) -> None:
    (wt / "src" / "x").symlink_to(outside / "bashrc")
    with pytest.raises(PathRefused, match="symbolic link"):
        paths.read_bytes(wt, "src/x", 1000)
    with pytest.raises(PathRefused, match="symbolic link"):
        paths.write_bytes(wt, "src/x", b"pwned\n")
    assert (outside / "bashrc").read_text() == "original bashrc\n"
    assert os.readlink(wt / "src" / "x") == str(outside / "bashrc")


def test_dangling_symlink_to_a_new_outside_file_is_refused(wt: Path, outside: Path) -> None:
    (wt / "planted").symlink_to(outside / "created-by-write")
    with pytest.raises(PathRefused):
        paths.write_bytes(wt, "planted", b"pwned\n")
    assert not (outside / "created-by-write").exists()


def test_deleting_a_symlink_removes_only_the_link(wt: Path, outside: Path) -> None:
    (wt / "src" / "x").symlink_to(outside / "bashrc")
    assert paths.delete(wt, "src/x") == "link"
    assert not os.path.lexists(wt / "src" / "x")
    assert (outside / "bashrc").read_text() == "original bashrc\n"


def test_symlinked_directory_component_is_refused(wt: Path, outside: Path) -> None:
    (wt / "r").symlink_to("/")
    (wt / "o").symlink_to(outside)
    with pytest.raises(PathRefused, match="r is a symbolic link"):
        paths.read_bytes(wt, "r/etc/passwd", 1_000_000)
    with pytest.raises(PathRefused, match="o is a symbolic link"):
        paths.read_bytes(wt, "o/bashrc", 1000)
    with pytest.raises(PathRefused):
        paths.write_bytes(wt, "o/bashrc", b"pwned\n")
    with pytest.raises(PathRefused):
        paths.write_bytes(wt, "o/sub/new.txt", b"pwned\n")
    with pytest.raises(PathRefused):
        paths.delete(wt, "o/bashrc")
    assert sorted(os.listdir(outside)) == ["bashrc"]
    assert (outside / "bashrc").read_text() == "original bashrc\n"


def test_hard_link_to_an_outside_file_is_refused(wt: Path, outside: Path) -> None:
    os.link(outside / "bashrc", wt / "h")
    with pytest.raises(PathRefused, match="hard links"):
        paths.read_bytes(wt, "h", 1000)
    with pytest.raises(PathRefused, match="hard links"):
        paths.write_bytes(wt, "h", b"pwned\n")
    assert (outside / "bashrc").read_text() == "original bashrc\n"
    assert (wt / "h").read_text() == "original bashrc\n"


# ---------------------------------------------------------------------------------------------
# a directory swapped for a link while an operation is under way


def _swap_src_for_link(wt: Path, outside: Path) -> None:
    os.rename(wt / "src", wt / "src-moved")
    os.symlink(outside, wt / "src")


def _patch_open(monkeypatch: pytest.MonkeyPatch, hook: Callable[[str, Callable[[], int]], int]) -> None:
    """Route os.open calls for the component "src" through hook(name, real_call)."""
    real_open = os.open

    def fake_open(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        def call() -> int:
            return real_open(path, flags, mode, dir_fd=dir_fd)

        if path == "src" and dir_fd is not None:
            return hook(path, call)
        return call()

    monkeypatch.setattr(os, "open", fake_open)


def test_swap_before_a_component_is_opened_is_refused(
    wt: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def swap_then_open(name: str, call: Callable[[], int]) -> int:
        _swap_src_for_link(wt, outside)
        return call()

    _patch_open(monkeypatch, swap_then_open)
    with pytest.raises(PathRefused, match="src is a symbolic link"):
        paths.write_bytes(wt, "src/bashrc", b"pwned\n")
    monkeypatch.undo()
    assert sorted(os.listdir(outside)) == ["bashrc"]
    assert (outside / "bashrc").read_text() == "original bashrc\n"


def test_swap_after_a_component_is_opened_stays_inside(
    wt: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def open_then_swap(name: str, call: Callable[[], int]) -> int:
        fd = call()
        _swap_src_for_link(wt, outside)
        return fd

    _patch_open(monkeypatch, open_then_swap)
    assert paths.write_bytes(wt, "src/bashrc", b"inside\n") is True
    monkeypatch.undo()
    # the write landed in the directory that was opened (now src-moved), not through the link
    assert (wt / "src-moved" / "bashrc").read_text() == "inside\n"
    assert (outside / "bashrc").read_text() == "original bashrc\n"
    assert sorted(os.listdir(outside)) == ["bashrc"]


def test_swap_after_open_while_reading_reads_the_inside_file(
    wt: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def open_then_swap(name: str, call: Callable[[], int]) -> int:
        fd = call()
        os.rename(wt / "src", wt / "src-moved")
        os.symlink(outside, wt / "src")
        (outside / "app.py").write_text("outside secret\n")
        return fd

    _patch_open(monkeypatch, open_then_swap)
    assert paths.read_bytes(wt, "src/app.py", 1000) == b"print('hi')\n"


def test_concurrent_swapping_never_writes_outside(wt: Path, outside: Path) -> None:
    """A thread keeps swapping src between a directory and a link out while we write through it."""
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            try:
                os.rename(wt / "src", wt / "src-real")
                os.symlink(outside, wt / "src")
                os.unlink(wt / "src")
                os.rename(wt / "src-real", wt / "src")
            except OSError:
                pass

    thread = threading.Thread(target=flip)
    thread.start()
    try:
        for i in range(300):
            with contextlib.suppress(ToolFailure):
                paths.write_bytes(wt, "src/bashrc", f"{i}\n".encode())
    finally:
        stop.set()
        thread.join()
    assert sorted(os.listdir(outside)) == ["bashrc"]
    assert (outside / "bashrc").read_text() == "original bashrc\n"


# ---------------------------------------------------------------------------------------------
# walk


def test_walk_lists_files_and_links_without_following(wt: Path, outside: Path) -> None:
    (outside / "secret.txt").write_text("s")
    (wt / "src" / "pkg").mkdir()
    (wt / "src" / "pkg" / "mod.py").write_text("")
    (wt / "src" / "out").symlink_to(outside)  # a link to a directory: listed, not descended
    (wt / "src" / "x").symlink_to(outside / "bashrc")
    (wt / ".git" / "objects").mkdir(parents=True)
    (wt / ".git" / "config").write_text("")
    (wt / "node_modules" / "lib").mkdir(parents=True)
    (wt / "node_modules" / "lib" / "index.js").write_text("")
    (wt / ".env").write_text("X=1")

    entries = list(paths.walk_entries(wt, ".", prune={"node_modules"}))
    assert [(e.path, e.is_link) for e in entries] == [
        (".env", False),
        ("README.md", False),
        ("src/app.py", False),
        ("src/out", True),
        ("src/pkg/mod.py", False),
        ("src/x", True),
    ]
    assert list(paths.walk(wt, "src/pkg")) == ["src/pkg/mod.py"]
    assert list(paths.walk(wt, "src/app.py")) == ["src/app.py"]
    assert "node_modules/lib/index.js" in list(paths.walk(wt))


def test_walk_refusals(wt: Path, outside: Path) -> None:
    (wt / "o").symlink_to(outside)
    with pytest.raises(ToolFailure, match="no such file"):
        list(paths.walk(wt, "missing"))
    with pytest.raises(PathRefused):
        list(paths.walk(wt, "../outside"))
    with pytest.raises(PathRefused, match="o is a symbolic link"):
        list(paths.walk(wt, "o/sub"))
    assert list(paths.walk_entries(wt, "o/")) == [paths.Entry("o", is_link=True)]  # listed, not entered
