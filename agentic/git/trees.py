"""A commit's whole tree, listed once: what `git ls-tree -r` says of a commit id never changes, so
the run's start (submodules, instruction files) and the gate's pinning of the base share one
listing per process, and the runs of an eval from one commit share it too."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from agentic.git.cmd import git
from agentic.git.view import linked_gitdir

OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
KEPT = 16  # listings of the most recent commits (one of a large repository is megabytes)


@dataclass(frozen=True)
class Entry:
    mode: str  # "100644", "100755", "120000" (a link), "160000" (a submodule's commit)
    oid: str
    path: str  # from the top of the tree


_LISTED: OrderedDict[str, tuple[Entry, ...]] = OrderedDict()
_TREES: dict[str, str] = {}  # commit id -> its tree's id
_LOCK = threading.Lock()


def tree_of(root: Path, commit: str) -> str:
    """The id of `commit`'s tree (remembered by commit id): two commits of one tree hold the same files."""
    with _LOCK:
        found = _TREES.get(commit)
    if found is None:
        found = git(["rev-parse", "--verify", "--quiet", f"{commit}^{{tree}}"], root).strip()
        if OBJECT_ID.fullmatch(commit):
            with _LOCK:
                if len(_TREES) > 4096:
                    _TREES.clear()
                _TREES[commit] = found
    return found


def entries(root: Path, rev: str) -> tuple[Entry, ...]:
    """Every entry of `rev`'s tree (recursively, from its top), read with git in `root` (any directory
    of a repository that holds it). Remembered by object id; a name such as HEAD is asked each time."""
    with _LOCK:
        found = _LISTED.get(rev)
        if found is not None:
            _LISTED.move_to_end(rev)
            return found
    listing = git(["ls-tree", "-r", "-z", "--full-tree", rev], root)
    listed = []
    for item in listing.split("\0"):
        meta, _, path = item.partition("\t")
        if not path:
            continue
        mode, _kind, oid = meta.split(" ")
        listed.append(Entry(mode, oid, path))
    found = tuple(listed)
    if OBJECT_ID.fullmatch(rev):
        with _LOCK:
            _LISTED[rev] = found
            while len(_LISTED) > KEPT:
                _LISTED.popitem(last=False)
    return found


def head_of(worktree: Path) -> str:
    """The commit a detached linked worktree (a gate's checkout) has checked out, read from its git
    dir's HEAD; "HEAD" (for git to resolve) when it is on a branch or not a linked worktree."""
    admin = linked_gitdir(worktree)
    try:
        head = (admin / "HEAD").read_text(encoding="utf-8").strip() if admin is not None else ""
    except (OSError, UnicodeDecodeError):
        head = ""
    return head if OBJECT_ID.fullmatch(head) else "HEAD"
