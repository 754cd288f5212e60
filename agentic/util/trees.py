"""Walking and removing a whole directory tree of the harness's own (a worktree, a checkout), at any
depth and without following links. Not for paths a model chose: agentic.util.paths is for those."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

MAX_WALK_DEPTH = 128  # each level holds one fd open while its children are walked


def walk_dirs(root: Path | str, max_depth: int = MAX_WALK_DEPTH) -> Iterator[tuple[str, list[str], list[str]]]:
    """os.walk's (top, dirs, files), top-down, without following links: iterative, so a tree
    thousands of levels deep cannot exhaust the stack, and no deeper than `max_depth` below the root
    (a directory it cannot list, too long a path included, is passed over). Prune by editing dirs."""
    pending = [(os.fspath(root), 0)]
    while pending:
        top, depth = pending.pop()
        dirs: list[str] = []
        files: list[str] = []
        try:
            with os.scandir(top) as entries:
                for entry in entries:
                    try:
                        (dirs if entry.is_dir(follow_symlinks=False) else files).append(entry.name)
                    except OSError:
                        files.append(entry.name)
        except OSError:
            continue
        yield top, dirs, files
        if depth < max_depth:
            pending.extend((os.path.join(top, name), depth + 1) for name in reversed(dirs))


def remove_tree(path: Path | str) -> None:
    """shutil.rmtree, and for a tree too deep for it (it recurses) a walk that holds one fd and
    climbs back with `..`: a tree thousands of levels deep goes too. Links are removed, never followed."""
    try:
        shutil.rmtree(path)
        return
    except RecursionError:
        pass
    except FileNotFoundError:
        return
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    fd = os.open(path, flags)
    names: list[str] = []
    try:
        while True:
            child = None
            with os.scandir(fd) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        child = entry.name
                        break
                    os.unlink(entry.name, dir_fd=fd)
            if child is not None:  # down one level
                deeper = os.open(child, flags, dir_fd=fd)
                os.close(fd)
                fd, names = deeper, [*names, child]
                continue
            if not names:
                break
            parent = os.open("..", flags, dir_fd=fd)  # up one level, removing the emptied directory
            os.close(fd)
            fd = parent
            os.rmdir(names.pop(), dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(path)
