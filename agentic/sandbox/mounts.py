"""The worktree's mount targets: paths inside it checked, before every mount, for symbolic links."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from agentic.sandbox.hostview import under


def inside(worktree: Path, real_worktree: str, path: Path) -> str:
    """`path` (relative to the worktree, or absolute inside it) as a path under the real worktree."""
    full = os.path.abspath(path if path.is_absolute() else worktree / path)
    for base in (os.path.abspath(worktree), real_worktree):
        if under(full, base) and full != base:
            return os.path.join(real_worktree, os.path.relpath(full, base))
    raise ValueError(f"read-only path {path} is not inside the worktree {worktree}")


class MountRefused(Exception):
    """A read-only mount target inside the worktree is (or runs through) a symbolic link."""


def check_mount_targets(worktree: str, paths: Iterable[str]) -> list[str]:
    """The targets that exist, each checked component by component (lstat) below the worktree.

    Raises MountRefused naming the first link found; a path that vanished is skipped.
    """
    out: list[str] = []
    for path in paths:
        rel = os.path.relpath(path, worktree)
        if rel == "." or rel.startswith(".."):
            raise MountRefused(f"{path} is not inside the worktree")
        current = worktree
        present = True
        for part in Path(rel).parts:
            current = os.path.join(current, part)
            try:
                st = os.lstat(current)
            except FileNotFoundError:
                present = False
                break
            except NotADirectoryError:
                present = False
                break
            if stat.S_ISLNK(st.st_mode):
                shown = os.path.relpath(current, worktree)
                raise MountRefused(
                    f"`{shown}` inside the worktree is a symbolic link, and the sandbox mounts a read-only "
                    f"path there; remove the link or restore the original, then run the command again"
                )
        if present:
            out.append(current)
    return out
