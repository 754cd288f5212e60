"""`agentic apply`: an accepted run's commit brought onto the person's branch, all or nothing, and
undone to exactly the checkout as it was when an apply is cut short."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agentic.errors import WorkspaceError
from agentic.git import linked
from agentic.git.cmd import failure, git, git_env, hardening, program, run_git
from agentic.git.locks import clear_stale
from agentic.workspace.changes import NAME_STATUS, parse_name_status
from agentic.workspace.repo import STATE_DIR, ensure_excluded, identity
from agentic.workspace.worktree import remove_worktree

APPLY_MARKER = "apply-in-progress.json"  # in .agentic: what an apply in progress is changing, to undo it
APPLY_INDEX = "apply-index.bak"  # in .agentic: the person's index as it was before
APPLY_LOCK = "apply.lock"


def apply_commit(root: Path, commit: str, base: str) -> str:
    """Bring an accepted run's commit onto the person's current branch; returns the new HEAD.

    Nothing of the person's checkout changes unless all of it can: the result is computed first
    (the commit itself when HEAD is its base, else a cherry-pick made in a throw-away worktree), then
    refused, untouched, when the tree has uncommitted changes, git is in the middle of another
    operation, the change touches `.agentic/` or a path hidden by assume-unchanged/skip-worktree, or
    it would overwrite or delete a file git does not track (ignored ones included: git treats them as
    expendable, agentic does not). Only then the files are switched (`read-tree -m -u`) and HEAD
    moved, with the index saved and the changed paths recorded in `.agentic/apply-in-progress.json`
    first, so a failure, or a kill at any moment, is undone by `recover_apply` (run by the next
    apply and by doctor) to exactly the checkout as it was.
    """
    ensure_excluded(root)
    state = root / STATE_DIR
    state.mkdir(exist_ok=True)
    with _apply_lock(state):
        recover_apply(root)
        _refuse_busy_checkout(root)
        head = git(["rev-parse", "--verify", "HEAD^{commit}"], root).strip()
        if run_git(["merge-base", "--is-ancestor", commit, head], root).returncode == 0:
            return commit if head == commit else head  # already on the branch: nothing to do
        target = commit if head == base else _cherry_picked(root, commit, head)
        changes = parse_name_status(git([*NAME_STATUS, head, target], root))
        refuse_destructive_apply(root, changes)
        _switch(root, head, target, changes)
    return target


@contextmanager
def _apply_lock(state: Path) -> Iterator[None]:
    with open(state / APPLY_LOCK, "a") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WorkspaceError("another `agentic apply` is running in this repository") from None
        yield


def _refuse_busy_checkout(root: Path) -> None:
    status = git(["status", "--porcelain", "--untracked-files=no", "--ignore-submodules=none"], root,
                 env={"GIT_OPTIONAL_LOCKS": "0"})  # looking writes nothing, not even the index's stat cache
    if status.strip():
        raise WorkspaceError(
            "your working tree has uncommitted changes", hint="commit or stash them, then run apply again"
        )
    names = ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge", "rebase-apply", "sequencer", "index.lock")
    for name, path in zip(names, _git_paths(root, *names), strict=True):
        if path.exists():
            busy = "another git command is running (index.lock)" if name == "index.lock" else f"git is in the middle of an operation ({name})"
            raise WorkspaceError(f"{busy}: apply changes nothing until it is over",
                                 hint="finish or abort it (git status says how), then run apply again")  # fmt: skip


def _cherry_picked(root: Path, commit: str, head: str) -> str:
    """The commit cherry-picked onto `head`, made in a throw-away worktree: the person's checkout is
    not touched, so a conflict leaves it exactly as it was."""
    name, email = identity(root)
    env = {"GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
    path = root / STATE_DIR / "checkouts" / f"apply-{uuid.uuid4().hex[:12]}"
    path.parent.mkdir(parents=True, exist_ok=True)
    linked.add(root, path, head)
    try:
        done = run_git(["cherry-pick", "--allow-empty", commit], path, env=env)
        if done.returncode != 0:
            raise WorkspaceError(
                f"the run's change does not apply cleanly on your branch: {(done.stdout + done.stderr).strip()}",
                hint=f"your checkout is unchanged; inspect the change with `git show {commit[:12]}` and merge by hand",
            )
        return git(["rev-parse", "HEAD"], path).strip()
    finally:
        remove_worktree(root, path)


def refuse_destructive_apply(root: Path, changes: list[tuple[str, str]]) -> None:
    """WorkspaceError naming every path when the change would overwrite or delete something git does
    not track: anything (file, symlink, directory, empty or not, ignored or not) where it adds a path,
    anything but a real directory (an untracked file or symlink) where it needs a directory. Read from
    the file system itself, so nothing git hides (ignore rules, info/exclude) escapes. Also refused:
    a change touching `.agentic/`, or a file git is told not to look at (assume-unchanged, skip-worktree)."""
    paths = [path for _, path in changes]
    state = [p for p in paths if p == STATE_DIR or p.startswith(STATE_DIR + "/")]
    if state:
        raise WorkspaceError(f"the run's change touches agentic's own state: {', '.join(state[:10])}",
                             hint="nothing was changed; this commit cannot be applied")  # fmt: skip
    tracked_before = {path for letter, path in changes if letter != "A"}  # clean: as HEAD has them
    deleted = {path for letter, path in changes if letter == "D"}
    hits: set[str] = set()
    for letter, path in changes:
        parts = path.split("/")
        for i in range(1, len(parts)):
            ancestor = "/".join(parts[:i])
            where = root / ancestor
            if os.path.lexists(where) and (where.is_symlink() or not where.is_dir()):
                if ancestor not in tracked_before:
                    hits.add(f"{ancestor} (the change needs a directory there)")
                break
        else:
            where = root / path
            if letter != "A" or not os.path.lexists(where):
                continue
            if where.is_symlink() or not where.is_dir():
                hits.add(path)
                continue
            inside = [os.path.relpath(os.path.join(top, name), root).replace(os.sep, "/")
                      for top, dirs, files in os.walk(where) for name in files + [d for d in dirs if _is_link(top, d)]]  # fmt: skip
            kept = sorted(p for p in inside if p not in deleted)  # what the change does not itself remove
            empty = not inside and not any(os.scandir(where))
            if kept or empty:
                hits.add(f"{path}/ (an untracked directory" + (f": {kept[0]}" if kept else "") + ")")
    wanted = set(paths)
    hidden = [line[2:] for line in git(["ls-files", "-z", "-v"], root).split("\0")
              if line and (line[0].islower() or line[0] == "S") and line[2:] in wanted]  # fmt: skip
    if hits:
        listed = "\n  ".join(sorted(hits))
        raise WorkspaceError(
            f"the run's change would overwrite or delete {len(hits)} path(s) git does not track in your "
            f"checkout (ignored files included):\n  {listed}",
            hint="nothing was changed; move them away (or commit them), then run apply again",
        )
    if hidden:
        raise WorkspaceError(
            "the run's change touches files git is told not to look at (assume-unchanged or skip-worktree): "
            + ", ".join(sorted(hidden)[:10]),
            hint="nothing was changed; clear the flag (git update-index --no-assume-unchanged / "
            "--no-skip-worktree) after saving your version, then run apply again",
        )


def _is_link(top: str, name: str) -> bool:
    return os.path.islink(os.path.join(top, name))


def _die_with_parent() -> None:
    """In a child git: be killed when the apply dies, so no orphan goes on writing the checkout
    while the next apply undoes the dead one's work."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL


def _tied_git(args: list[str], root: Path) -> None:
    """A hardened git that changes the checkout and dies with the harness (Linux)."""
    done = subprocess.run([program(), *hardening(args, root), *args], cwd=root, env=git_env(), capture_output=True,
                          text=True, errors="surrogateescape", check=False, preexec_fn=_die_with_parent)  # fmt: skip
    if done.returncode != 0:
        raise failure(args, done.stderr, done.stdout)


def _git_path(root: Path, name: str) -> Path:
    return Path(git(["rev-parse", "--path-format=absolute", "--git-path", name], root).rstrip("\n"))


def _git_paths(root: Path, *names: str) -> list[Path]:
    """Where git keeps each of `names` for the checkout at `root`: one git process for them all, one
    each when the git dir's path holds a line break (then the lines do not say which is which)."""
    asked = [arg for name in names for arg in ("--git-path", name)]
    lines = git(["rev-parse", "--path-format=absolute", *asked], root).splitlines()
    return [Path(line) for line in lines] if len(lines) == len(names) else [_git_path(root, n) for n in names]


def _fsync_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _switch(root: Path, head: str, target: str, changes: list[tuple[str, str]]) -> None:
    """Make the checkout `target` (files, index, HEAD) from `head`, recording first how to undo it."""
    state = root / STATE_DIR
    index = _git_path(root, "index")
    if index.exists():
        _fsync_write(state / APPLY_INDEX, index.read_bytes())
    paths = [path for _, path in changes]
    in_old = [path for letter, path in changes if letter != "A"]
    new_dirs = sorted({"/".join(p.split("/")[:i]) for p in paths for i in range(1, p.count("/") + 1)
                       if not os.path.lexists(root / "/".join(p.split("/")[:i]))})  # fmt: skip
    marker = {"old": head, "new": target, "paths": paths, "in_old": in_old, "new_dirs": new_dirs,
              "index": index.exists()}  # fmt: skip
    _fsync_write(state / APPLY_MARKER, json.dumps(marker).encode("utf-8"))
    try:
        _tied_git(["update-index", "-q", "--refresh"], root)  # stat data only: what read-tree -m checks
        _tied_git(["read-tree", "-m", "-u", head, target], root)
        git(["update-ref", "-m", f"agentic apply: {target[:12]}", "HEAD", target, head], root)
    except BaseException:
        recover_apply(root)
        raise
    _clear_apply(state)


def _clear_apply(state: Path) -> None:
    (state / APPLY_MARKER).unlink(missing_ok=True)
    (state / APPLY_INDEX).unlink(missing_ok=True)


def recover_apply(root: Path) -> str | None:
    """Undo what an apply cut short (an error, a kill) left in the checkout, or finish the bookkeeping
    of one that completed; None when there was nothing to do. The caller holds the apply lock (or
    knows no apply runs)."""
    state = root / STATE_DIR
    try:
        marker = json.loads((state / APPLY_MARKER).read_text("utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:  # torn before its rename: impossible (written whole), but never trust it
        _clear_apply(state)
        return "an unreadable apply marker was removed"
    now = git(["rev-parse", "--verify", "HEAD^{commit}"], root).strip()
    if now == marker["new"]:
        _clear_apply(state)
        return f"an interrupted apply had completed (HEAD {now[:12]})"
    if now != marker["old"]:
        raise WorkspaceError(
            f"an interrupted apply of {marker['new'][:12]} left {state / APPLY_MARKER}, and HEAD has moved since",
            hint="check your checkout with git status, then remove that file",
        )
    # the dead apply's git dies with it; its lock stays (we hold the apply lock: no apply of ours runs)
    clear_stale([_git_path(root, "index.lock")])
    if marker.get("index") and (state / APPLY_INDEX).exists():
        _fsync_write(_git_path(root, "index"), (state / APPLY_INDEX).read_bytes())
    in_old = set(marker["in_old"])
    for path in marker["paths"]:
        if path not in in_old:  # it did not exist before the apply (nothing untracked was there)
            target = root / path
            if target.is_symlink() or target.is_file():
                target.unlink()
    for directory in sorted(marker["new_dirs"], key=lambda d: -d.count("/")):
        with contextlib.suppress(OSError):
            (root / directory).rmdir()  # only when empty: nothing but what the apply wrote was there
    if in_old:
        for path in in_old:  # a directory the apply made where a tracked file was
            target = root / path
            if target.is_dir() and not target.is_symlink():
                with contextlib.suppress(OSError):
                    target.rmdir()
        for path in in_old:  # never left to the index's stat data: a file the apply rewrote in the same
            target = root / path  # clock tick, same size, on a recycled inode, looks unchanged to git
            if target.is_symlink() or target.is_file():
                target.unlink()
        run_git(["checkout-index", "-f", "-z", "--stdin"], root, input="\0".join(sorted(in_old)) + "\0")
    _clear_apply(state)
    return f"an interrupted apply of {marker['new'][:12]} was undone: your checkout is as it was"
