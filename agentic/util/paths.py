"""Safe file access beneath a worktree, for paths chosen by an untrusted model.

Two layers:

1. `check_relative` (agentic.util.pathnames) refuses a path string that could mean something other
   than a plain relative path, and returns it normalised.
2. Every operation here then opens the worktree root as a directory fd and walks one component at a time
   with ``O_NOFOLLOW`` relative to the previous fd. A symbolic link anywhere on the way is refused, and
   a directory swapped for a link after it was opened is harmless: the fd still names the directory
   that was checked. Regular files with more than one hard link are refused (the other name may be
   outside the worktree). Writes go to a temporary name in the same directory and are renamed over
   the target, so a reader never sees half a file and an existing link is replaced, never followed.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import re
import secrets
import stat as stat_mod
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

from agentic.errors import ToolFailure
from agentic.util.pathnames import PathRefused as PathRefused
from agentic.util.pathnames import check_relative as check_relative
from agentic.util.pathnames import split_relative
from agentic.util.trees import MAX_WALK_DEPTH
from agentic.util.trees import remove_tree as remove_tree
from agentic.util.trees import walk_dirs as walk_dirs

TEMP_PREFIX = ".agentic-tmp-"  # a write's content goes to TEMP_PREFIX + 16 hex digits, then is renamed
TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + "[0-9a-f]{16}")

P = ParamSpec("P")
R = TypeVar("R")

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class FileTooLarge(ToolFailure):
    """A file over the caller's size limit."""


@dataclass(frozen=True)
class Entry:
    """One entry found by `walk_entries`: its path relative to the worktree root."""

    path: str
    is_link: bool = False


# ---------------------------------------------------------------------------------------------
# fd walking


def _open_root(root: Path | str) -> int:
    return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def _open_dir(name: str, dir_fd: int, shown: str) -> int:
    """Open the directory `name` beneath `dir_fd` without following a link."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        # Linux reports ENOTDIR (not ELOOP) for a link opened with O_DIRECTORY | O_NOFOLLOW
        if exc.errno in (errno.ENOTDIR, errno.ELOOP) and _is_link(name, dir_fd):
            raise PathRefused(f"{shown} is a symbolic link; links are not followed") from None
        raise _failure(exc, shown) from None


def _is_link(name: str, dir_fd: int) -> bool:
    st = _lstat(name, dir_fd)
    return st is not None and stat_mod.S_ISLNK(st.st_mode)


def _failure(exc: OSError, shown: str) -> ToolFailure:
    """The failure to report for an OSError on `shown` (a relative path)."""
    if exc.errno == errno.ELOOP:
        return PathRefused(f"{shown} is a symbolic link; links are not followed")
    if exc.errno == errno.ENOENT:
        return ToolFailure(f"{shown}: no such file or directory")
    if exc.errno == errno.ENOTDIR:
        return ToolFailure(f"{shown}: not a directory")
    if exc.errno == errno.EISDIR:
        return ToolFailure(f"{shown} is a directory")
    return ToolFailure(f"{shown}: {exc.strerror or exc}")


@contextlib.contextmanager
def _directory(root: Path | str, parts: list[str], create: bool = False) -> Iterator[int]:
    """An fd for the directory root/parts..., reached component by component without links.

    With `create`, missing directories are made one at a time (and then opened without following).
    """
    fd = _open_root(root)
    try:
        for i, name in enumerate(parts):
            shown = "/".join(parts[: i + 1])
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o777, dir_fd=fd)
            next_fd = _open_dir(name, fd, shown)
            os.close(fd)
            fd = next_fd
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def _parent(root: Path | str, rel: str, create: bool = False) -> Iterator[tuple[int, str, str]]:
    """(fd of the parent directory, final name, normalised path) for a path naming a file."""
    parts = split_relative(rel)
    if not parts:
        raise ToolFailure("the repository root is a directory, not a file")
    with _directory(root, parts[:-1], create) as fd:
        yield fd, parts[-1], "/".join(parts)


def _lstat(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _check_regular(st: os.stat_result, shown: str) -> None:
    """Refuse anything but a regular file with a single name."""
    if stat_mod.S_ISLNK(st.st_mode):
        raise PathRefused(f"{shown} is a symbolic link; links are not followed")
    if stat_mod.S_ISDIR(st.st_mode):
        raise ToolFailure(f"{shown} is a directory")
    if not stat_mod.S_ISREG(st.st_mode):
        raise ToolFailure(f"{shown} is not a regular file")
    if st.st_nlink > 1:
        raise PathRefused(f"{shown} has {st.st_nlink} hard links; such files are not used")


# ---------------------------------------------------------------------------------------------
# operations


def _oserrors_as_failures(func: Callable[P, R]) -> Callable[P, R]:
    """Turn an OSError that escapes an operation (a race, a full disk) into a ToolFailure."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except OSError as exc:
            raise ToolFailure(f"{exc.strerror or exc}") from None

    return wrapper


@_oserrors_as_failures
def read_bytes(root: Path | str, rel: str, max_bytes: int) -> bytes:
    """The content of the regular file `rel`; FileTooLarge when it is over `max_bytes`."""
    with _parent(root, rel) as (dir_fd, name, shown):
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # NONBLOCK: a FIFO won't hang
        try:
            fd = os.open(name, flags, dir_fd=dir_fd)
        except OSError as exc:
            raise _failure(exc, shown) from None
        try:
            st = os.fstat(fd)
            _check_regular(st, shown)
            if st.st_size > max_bytes:
                raise FileTooLarge(f"{shown} is {st.st_size} bytes, over the limit of {max_bytes}")
            return _read_all(fd, max_bytes, shown)
        finally:
            os.close(fd)


def _read_all(fd: int, max_bytes: int, shown: str) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while chunk := os.read(fd, min(1 << 20, max_bytes + 1 - total)):
        chunks.append(chunk)
        total += len(chunk)
        if total > max_bytes:  # the file grew after fstat
            raise FileTooLarge(f"{shown} is over the limit of {max_bytes} bytes")
    return b"".join(chunks)


@_oserrors_as_failures
def write_bytes(root: Path | str, rel: str, data: bytes) -> bool:
    """Create or replace the regular file `rel` atomically; True when it did not exist before.

    Missing parent directories are created. An existing link, hard-linked file or directory at
    `rel` is refused.
    """
    with _parent(root, rel, create=True) as (dir_fd, name, shown):
        existing = _lstat(name, dir_fd)
        if existing is not None:
            _check_regular(existing, shown)
        mode = stat_mod.S_IMODE(existing.st_mode) if existing is not None else None
        tmp = _write_temp(dir_fd, data, mode)
        try:
            os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise _failure(exc, shown) from None
        return existing is None


def _write_temp(dir_fd: int, data: bytes, mode: int | None) -> str:
    """Write `data` to a fresh temporary file in the directory; returns its name."""
    tmp = f"{TEMP_PREFIX}{secrets.token_hex(8)}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o666, dir_fd=dir_fd)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    os.close(fd)
    return tmp


@_oserrors_as_failures
def delete(root: Path | str, rel: str) -> str:
    """Remove the file or symbolic link `rel` (never a directory); returns "file", "link" or "other"."""
    with _parent(root, rel) as (dir_fd, name, shown):
        st = _lstat(name, dir_fd)
        if st is None:
            raise ToolFailure(f"{shown}: no such file")
        if stat_mod.S_ISDIR(st.st_mode):
            raise ToolFailure(f"{shown} is a directory; only files and links can be deleted")
        try:
            os.unlink(name, dir_fd=dir_fd)
        except OSError as exc:
            raise _failure(exc, shown) from None
        if stat_mod.S_ISLNK(st.st_mode):
            return "link"
        return "file" if stat_mod.S_ISREG(st.st_mode) else "other"


@_oserrors_as_failures
def stat(root: Path | str, rel: str) -> os.stat_result | None:
    """The lstat of `rel` (a link is described, not followed), or None when it does not exist."""
    parts = split_relative(rel)
    if not parts:
        fd = _open_root(root)
        try:
            return os.fstat(fd)
        finally:
            os.close(fd)
    try:
        with _parent(root, rel) as (dir_fd, name, _shown):
            return _lstat(name, dir_fd)
    except ToolFailure as exc:
        if isinstance(exc, PathRefused):
            raise
        return None  # a missing (or non-directory) parent: the path does not exist


def fingerprint(root: Path | str, rel: str) -> str | None:
    """What is at `rel` now, in a few bytes: None (nothing), "sha256:<hex>" of a regular file's
    content, "link:<hex>" of a link's target, or "dir" / "other". Used to tell whether a write that
    was announced before a crash took place."""
    try:
        with _parent(root, rel) as (dir_fd, name, _shown):
            st = _lstat(name, dir_fd)
            if st is None:
                return None
            if stat_mod.S_ISLNK(st.st_mode):
                target = os.readlink(name, dir_fd=dir_fd)
                return "link:" + hashlib.sha256(os.fsencode(target)).hexdigest()
            if stat_mod.S_ISDIR(st.st_mode):
                return "dir"
            if not stat_mod.S_ISREG(st.st_mode):
                return "other"
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
            try:
                digest = hashlib.sha256()
                while chunk := os.read(fd, 1 << 20):
                    digest.update(chunk)
            finally:
                os.close(fd)
            return "sha256:" + digest.hexdigest()
    except ToolFailure as exc:
        if isinstance(exc, PathRefused):
            raise
        return None  # a missing (or non-directory) parent


def content_fingerprint(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def walk(root: Path | str, rel: str = ".", prune: Collection[str] = ()) -> Iterator[str]:
    """Paths (relative to the root) of the non-directory entries beneath `rel`; see walk_entries."""
    for entry in walk_entries(root, rel, prune):
        yield entry.path


def walk_entries(root: Path | str, rel: str = ".", prune: Collection[str] = ()) -> Iterator[Entry]:
    """Every non-directory entry beneath `rel`, depth first, names sorted within a directory.

    Symbolic links are listed (is_link=True) but never followed or descended. ``.git`` (any case)
    and directories named in `prune` are skipped. If `rel` is not a directory, it is the only entry.
    """
    parts = split_relative(rel)
    st = stat(root, rel)
    if st is None:
        raise ToolFailure(f"{rel}: no such file or directory")
    if not stat_mod.S_ISDIR(st.st_mode):
        yield Entry("/".join(parts), stat_mod.S_ISLNK(st.st_mode))
        return
    with _directory(root, parts) as fd:
        yield from _walk_fd(fd, "/".join(parts), frozenset(prune), 0)


def _walk_fd(fd: int, prefix: str, prune: frozenset[str], depth: int) -> Iterator[Entry]:
    with os.scandir(fd) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        path = f"{prefix}/{entry.name}" if prefix else entry.name
        if entry.is_symlink():
            yield Entry(path, True)
        elif entry.is_dir(follow_symlinks=False):
            if entry.name.casefold() != ".git" and entry.name not in prune and depth < MAX_WALK_DEPTH:
                yield from _walk_child(fd, entry.name, path, prune, depth + 1)
        else:
            yield Entry(path)


def _walk_child(fd: int, name: str, path: str, prune: frozenset[str], depth: int) -> Iterator[Entry]:
    try:
        child = os.open(name, _DIR_FLAGS, dir_fd=fd)
    except OSError:
        return  # swapped for a link or removed since it was listed: skip it
    try:
        yield from _walk_fd(child, path, prune, depth)
    finally:
        os.close(child)
