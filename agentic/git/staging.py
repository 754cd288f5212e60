"""Stage a worktree into an index, whatever the repository holds.

`git add --all` dies on the first file it cannot convert (a `working-tree-encoding` whose bytes are
not in that encoding: sphinx ships one on purpose), on a file it cannot read and on a FIFO. Staging
here asks git which paths differ from the index (a comparison, which never dies), then adds them:
most in one `update-index`; those with a `working-tree-encoding` one by one, kept when their bytes
are what checking out the index's blob would write, converted when git can, stored as written when
it cannot. Paths that cannot be staged at all (unreadable, not a file or a link) and untracked
directories that are repositories of their own (a clone made inside the worktree) are skipped and
reported: they stay as the index has them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess
from typing import Protocol

from agentic.git.cmd import failure

CHANGED = ["ls-files", "-z", "--modified", "--deleted", "--others", "--exclude-standard"]
NO_VALUE = ("unspecified", "unset", "set")


class TextGit(Protocol):
    """A hardened git on the index being staged: its stdout (WorkspaceError on failure when check is set)."""

    def __call__(self, args: list[str], *, input: str | None = None, check: bool = True) -> str: ...


class BytesGit(Protocol):
    """A hardened git on the index being staged, for content: bytes in, the finished process out."""

    def __call__(self, args: list[str], *, input: bytes | None = None) -> CompletedProcess[bytes]: ...


@dataclass(frozen=True)
class Skipped:
    path: str
    why: str


NESTED = "a git repository of its own inside the worktree: its files are not staged"


def changed_paths(run: TextGit, excludes: Sequence[str]) -> tuple[list[str], list[str]]:
    """Every path whose worktree state differs from the index (modified, deleted or untracked), and
    the untracked directories that hold a repository of their own (git lists them as `dir/` and
    never looks inside)."""
    out = [p for p in run([*CHANGED, "--", ".", *excludes]).split("\0") if p]
    return sorted({p for p in out if not p.endswith("/")}), sorted({p.rstrip("/") for p in out if p.endswith("/")})


def encoded(run: TextGit, paths: Sequence[str]) -> set[str]:
    """The paths with a `working-tree-encoding` attribute."""
    if not paths:
        return set()
    out = run(
        ["check-attr", "-z", "--stdin", "working-tree-encoding"], input="".join(f"{p}\0" for p in paths)
    )
    fields = out.split("\0")
    return {fields[i] for i in range(0, len(fields) - 2, 3) if fields[i + 2] not in NO_VALUE}


def unstageable(root: Path, path: str) -> str | None:
    """Why git cannot stage a path that exists, or None (a missing path stages as a deletion)."""
    full = root / path
    try:
        mode = full.lstat().st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return exc.strerror or "cannot be read"
    if stat.S_ISLNK(mode):
        return None
    if not stat.S_ISREG(mode):
        return "not a regular file or a symbolic link"
    if not os.access(full, os.R_OK):
        return "not readable (permission denied)"
    return None


def stage(run: TextGit, data: BytesGit, root: Path, excludes: Sequence[str]) -> list[Skipped]:
    """Bring the index to the worktree's state; return the paths left as they were, and why."""
    paths, nested = changed_paths(run, excludes)
    skipped = [Skipped(p, why) for p in paths if (why := unstageable(root, p)) is not None]
    skipped += [Skipped(p, NESTED) for p in nested]
    left = {s.path for s in skipped}
    gone = [p for p in paths if p not in left and _gone(root, p)]  # deleted, or now beyond a link
    if gone:
        run(["update-index", "--force-remove", "-z", "--stdin"], input="".join(f"{p}\0" for p in gone))
    left.update(gone)
    special = encoded(run, [p for p in paths if p not in left and not (root / p).is_symlink()])
    plain = [p for p in paths if p not in left and p not in special]
    if plain:
        run(
            ["update-index", "--add", "--remove", "--replace", "-z", "--stdin"],
            input="".join(f"{p}\0" for p in plain),
        )
    for path in sorted(special):
        _stage_encoded(run, data, root, path)
    return skipped


def _gone(root: Path, path: str) -> bool:
    """Whether `path` no longer exists as such: missing, or a directory above it is now a link or
    a file (a tracked directory replaced by a symbolic link)."""
    current = root
    for part in Path(path).parts[:-1]:
        current = current / part
        if current.is_symlink() or not current.is_dir():
            return True
    return not os.path.lexists(root / path)


def _stage_encoded(run: TextGit, data: BytesGit, root: Path, path: str) -> None:
    full = root / path
    if not full.exists():
        run(["update-index", "--remove", "-z", "--stdin"], input=f"{path}\0")
        return
    content = full.read_bytes()
    entry = run(["ls-files", "-z", "--stage", "--", f":(top,literal){path}"]).split("\0")[0]
    if entry:
        blob = entry.split()[1]
        if data(["cat-file", "--filters", f"--path={path}", blob]).stdout == content:
            return  # unchanged: what checking the blob out writes (a failed conversion writes it as stored)
    done = data(["hash-object", "-w", f"--path={path}", "--stdin"], input=content)
    if done.returncode != 0:  # bytes that are not in the declared encoding: stored as written
        done = data(["hash-object", "-w", "--no-filters", "--stdin"], input=content)
    if done.returncode != 0:
        raise failure(["hash-object"], done.stderr.decode("utf-8", "replace"))
    sha = done.stdout.decode().strip()
    mode = "100755" if os.access(full, os.X_OK) else "100644"
    run(["update-index", "--add", "--replace", "-z", "--index-info"], input=f"{mode} {sha}\t{path}\0")
