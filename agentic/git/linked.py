"""Linked worktrees made as `git worktree add` makes them, without its sub-processes.

`git worktree add` starts `git reset --hard` as a process of its own, and `git branch` for a new
branch; git 2.39 also writes the new HEAD through `git symbolic-ref` or `git update-ref`: up to four
git processes for each of the three worktrees a run makes (its own, the gate's checkout of the
candidate, the base's for the baseline), about 9 ms of CPU each against 3.5 ms here (create and
remove, on a tmpfs).
Here the worktree's records are written as gitrepository-layout(5) describes them and as git writes
them (`<git dir>/worktrees/<id>/` with `gitdir`, `commondir` and `HEAD`, locked while it is made; the
worktree's `.git` file naming it), and one `git read-tree --reset -u HEAD` fills the index and the
files as `reset --hard` would. A repository whose configuration asks `worktree add` for more than
that (per-worktree config, a sparse checkout, another ref storage, relative worktree paths, any
extension this module does not know) is left to `git worktree add` itself, and so is any name or
path that is not plainly new.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

from agentic.errors import WorkspaceError
from agentic.git import trees
from agentic.git.cmd import git, run_git
from agentic.git.view import checkout_common_dir, common_config

NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
# extensions a linked worktree needs nothing more for (an object format, a partial clone's promisor)
KNOWN_EXTENSIONS = {"objectformat", "partialclone", "noop", "preciousobjects"}
INITIALIZING = "initializing"  # the lock on a worktree's records while they are made (git's own words)


def add(root: Path, path: Path, commit: str, branch: str | None = None) -> None:
    """`git worktree add --quiet (--detach | -b BRANCH) PATH COMMIT` in the repository of `root`."""
    common = checkout_common_dir(root)
    name = path.name
    if (common is None or not trees.OBJECT_ID.fullmatch(commit) or not NAME.fullmatch(name) or os.path.lexists(path)
            or os.path.lexists(common / "worktrees" / name) or asks_more(common)):  # fmt: skip
        git(["worktree", "add", "--quiet", *(["-b", branch] if branch else ["--detach"]), str(path), commit], root)
        return
    if branch is not None:  # as `git branch` makes it: refused when it exists (the empty old value)
        git(["update-ref", "-m", f"branch: Created from {commit}", f"refs/heads/{branch}", commit, ""], root)
    admin = common / "worktrees" / name
    made: list[Path] = []
    try:
        # the directory before its records: a kill before them leaves a directory its caller finds and
        # removes; one after leaves records locked as unfinished (`unfinished`), which it removes too
        path.mkdir(parents=True)
        made.append(path)
        admin.parent.mkdir(parents=True, exist_ok=True)
        os.mkdir(admin)
        made.append(admin)
        (admin / "locked").write_text(INITIALIZING, encoding="utf-8")  # `git worktree prune` keeps it meanwhile
        dot_git = Path(os.path.realpath(path)) / ".git"  # paths as bytes: a directory's name need not be UTF-8
        dot_git.write_bytes(b"gitdir: " + os.fsencode(os.path.realpath(admin)) + b"\n")
        (admin / "gitdir").write_bytes(os.fsencode(dot_git) + b"\n")
        (admin / "commondir").write_text("../..\n", encoding="utf-8")
        (admin / "HEAD").write_text(f"ref: refs/heads/{branch}\n" if branch else f"{commit}\n", encoding="utf-8")
        git([f"--git-dir={admin}", f"--work-tree={path}", "read-tree", "--reset", "-u", "HEAD"], path)
        (admin / "locked").unlink()
    except BaseException:  # as git removes a worktree it could not finish: its files, its records, its branch
        for directory in made:
            shutil.rmtree(directory, ignore_errors=True)
        if branch is not None:
            with contextlib.suppress(WorkspaceError):
                run_git(["update-ref", "-d", f"refs/heads/{branch}", commit], root)
        raise


def unfinished(root: Path, path: Path) -> Path | None:
    """The records (`<git dir>/worktrees/<id>`) of a worktree at `path` whose making was cut off (the
    process killed in `add`, or in `git worktree add`, which locks them the same way): still locked
    INITIALIZING, naming `path` or, cut off sooner, nothing yet. git keeps such records for good (a
    locked worktree is never pruned); None when there are none."""
    common = checkout_common_dir(root)
    if common is None:
        return None
    admin = common / "worktrees" / path.name
    try:
        if (admin / "locked").read_text(encoding="utf-8").strip() != INITIALIZING:
            return None
    except (OSError, UnicodeDecodeError):
        return None
    try:
        named = (admin / "gitdir").read_bytes().strip()
    except FileNotFoundError:
        return admin
    except OSError:
        return None
    return admin if os.path.realpath(named) == os.path.realpath(os.fsencode(path / ".git")) else None


def asks_more(common: Path) -> bool:
    """Whether the repository's configuration asks `git worktree add` for more than its records and a
    checkout."""
    values = common_config(common)
    if values is None:
        return True
    for key, value in values.items():
        if key.startswith("extensions."):
            if key[len("extensions.") :] not in KNOWN_EXTENSIONS:
                return True
        elif key in ("core.bare", "core.sparsecheckout"):
            if value.strip().lower() not in ("false", "no", "off", "0"):
                return True
        elif key != "core.repositoryformatversion":  # core.worktree, worktree.*: placed or linked otherwise
            return True
    return False
