"""Files the build generates that git ignores and the tests need: a version file written by
setuptools-scm or hatch-vcs (`src/pkg/_version.py`), an extension module built in place.

A run's worktree and the gate's checkouts are clean checkouts of commits, so they lack such a file,
and a package that imports it fails in the sandbox while it imports on the person's machine. The
contract names them (`generated:` globs, which `agentic init` fills from pyproject.toml); they are
found among the ignored files of the person's checkout and copied into each worktree and checkout
at their paths. They stay ignored there, so they are never part of a change, and each checkout gets
the person's copy, not what the agent left in its worktree. Only regular files are copied, never
through a link, within limits on their number and size.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO

from agentic.errors import ConfigError
from agentic.git.cmd import git
from agentic.util import globs

MAX_FILES = 1000
MAX_BYTES = 256 * 1024 * 1024
WILDCARDS = frozenset("*?[")
NEVER = (".git/", ".agentic/")
# where build back-ends write a version file, in pyproject.toml: (table path, key), relative to the root
VERSION_FILES = ((("tool", "setuptools_scm"), "version_file"), (("tool", "setuptools_scm"), "write_to"),
                 (("tool", "hatch", "build", "hooks", "vcs"), "version-file"),
                 (("tool", "versioningit", "write"), "file"))  # fmt: skip


GeneratedFiles = tuple[tuple[str, bytes, int], ...]  # (path, bytes, mode) each, as `read` gives them


@dataclass(frozen=True)
class Carried:
    """A generated file copied from the person's checkout: its path and the SHA-256 of its bytes."""

    path: str
    sha256: str


def find(root: Path, patterns: Sequence[str]) -> list[str]:
    """The ignored regular files of the checkout `root` that the globs match, sorted. Raises
    ConfigError when they are more than MAX_FILES or MAX_BYTES (a glob too wide)."""
    if not patterns:
        return []
    prefixes = {_prefix(p) for p in patterns}
    specs = [] if "" in prefixes else [f":(top,literal){p}" for p in sorted(prefixes)]  # none: the whole tree
    listed = git(["ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--", *specs], root)
    found, size = [], 0
    for rel in sorted(p for p in listed.split("\0") if p and not p.startswith(NEVER)):
        if globs.match_any(patterns, rel) is None:
            continue
        try:
            info = os.lstat(root / rel)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode):
            found.append(rel)
            size += info.st_size
        if len(found) > MAX_FILES or size > MAX_BYTES:
            raise ConfigError(f"{list(patterns)} match more than {MAX_FILES} ignored files or "
                              f"{MAX_BYTES // 2**20} MB in {root}", file="the contract", field="generated",
                              hint="name the files the tests need (src/pkg/_version.py, src/pkg/*.so)")  # fmt: skip
    return found


def _prefix(pattern: str) -> str:
    """The directory a glob lies beneath (its leading segments without a wildcard): where git looks."""
    parts = pattern.strip("/").split("/")
    literal = []
    for part in parts[:-1]:
        if WILDCARDS & set(part) or part in ("", ".", "**"):
            break
        literal.append(part)
    return "/".join(literal)


def carry(root: Path, target: Path, paths: Iterable[str]) -> list[Carried]:
    """Copy each path from the checkout `root` into the checkout `target`, making the directories it
    needs; a path whose place in `target` is taken (a file the change added, a directory turned into
    a link or a file) is left as it is there."""
    done = []
    for rel, source, mode in _sources(root, paths):
        if digest := _write(target, rel, mode, iter(partial(source.read, 1 << 20), b"")):
            done.append(Carried(rel, digest))
    return done


def read(root: Path, paths: Iterable[str]) -> GeneratedFiles:
    """Each path's bytes and mode, read once from the checkout `root` (what an eval's attempts get,
    wherever they run)."""
    return tuple((rel, source.read(), mode) for rel, source, mode in _sources(root, paths))


def _sources(root: Path, paths: Iterable[str]) -> Iterator[tuple[str, BinaryIO, int]]:
    """Each path of the checkout `root` that is a regular file, open for reading (never through a
    link at its end), with its mode; closed once the caller moves on."""
    for rel in paths:
        try:
            fd = os.open(root / rel, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        with os.fdopen(fd, "rb") as source:
            mode = os.fstat(source.fileno()).st_mode
            if stat.S_ISREG(mode):
                yield rel, source, mode


def place(target: Path, files: Iterable[tuple[str, bytes, int]]) -> list[Carried]:
    """Write files read by `read` into the checkout `target`, as `carry` copies them."""
    return [Carried(rel, digest) for rel, data, mode in files if (digest := _write(target, rel, mode, [data]))]


def _write(target: Path, rel: str, mode: int, chunks: Iterable[bytes]) -> str | None:
    """The chunks written as a new file at `rel` under `target`, never through a link, its parent
    directories made as needed; their SHA-256, or None when the place is taken."""
    here = target
    for part in Path(rel).parts[:-1]:
        here = here / part
        try:
            info = os.lstat(here)
        except FileNotFoundError:
            here.mkdir()
            continue
        if not stat.S_ISDIR(info.st_mode):  # a link or a file where a directory must be
            return None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(here / Path(rel).name, flags, stat.S_IMODE(mode) | stat.S_IRUSR | stat.S_IWUSR)
    except OSError:  # taken: the change's own file, or a link
        return None
    digest = hashlib.sha256()
    with os.fdopen(fd, "wb") as out:
        for chunk in chunks:
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def version_files(root: Path) -> list[str]:
    """The version files pyproject.toml has its build back-end write (setuptools-scm, hatch-vcs,
    versioningit), as paths relative to the root; what `agentic init` puts under `generated:`."""
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    found = []
    for keys, name in VERSION_FILES:
        table: object = data
        for key in keys:
            table = table.get(key) if isinstance(table, dict) else None
        value = table.get(name) if isinstance(table, dict) else None
        if isinstance(value, str) and value.strip():
            try:
                globs.validate(value)
            except ValueError:
                continue
            found.append(Path(value).as_posix())
    return list(dict.fromkeys(found))
