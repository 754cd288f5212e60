"""The test runner's configuration, pinned from the base commit in the gate's checkout.

Any file a test runner reads for its configuration is a lever on the gate's verdict: an alternative
pytest configuration file that loads a plugin, a GNUmakefile that takes precedence over the Makefile,
an `.npmrc` that sets `script-shell`. Protecting such files in the contract depends on the contract
naming every one of them; pinning does not. Before a command check runs, the gate makes every path
the runner reads for its configuration (`config_globs`) in the checkout what it is in the base
commit: the base's content restored, a file the base does not have removed. The candidate's own
version of those files is then never read by the runner, whatever the contract protects.

The globs cover, per runner (`runner_of`):

- every Python runner: interpreter start-up files (`sitecustomize.py`, `usercustomize.py`, `.pth`),
  bytecode (`__pycache__`, `.pyc`: an unchecked hash-based `.pyc` replaces its source), and package
  metadata (`*.dist-info`, `*.egg-info`: their entry points auto-load pytest plugins);
- pytest: every configuration file name pytest has searched for in any version, and `conftest.py`
  at any depth (the gate also names the base's configuration file with `-c` and `--rootdir`, so
  pytest does not search at all: agentic.gate);
- make: every makefile name make reads by default, `*.mk`, and every file the base's makefiles
  `include` by a literal name (optional includes of files the base lacks included);
- npm, yarn, pnpm: `package.json`, the package managers' configuration (`.npmrc`: `script-shell`,
  `node-options`; `.yarnrc*`: `yarnPath`; pnpm's hooks), `node_modules/` (whose `.bin` is put first
  on the scripts' PATH) and the common test frameworks' configuration files;
- cargo: `Cargo.toml`, `.cargo/` (`runner`, `rustflags`, aliases), the toolchain file;
- go: `go.mod`, `go.sum`, `go.work*`, `vendor/`.

The paths pinned are found both in the two trees and on disk (a file an earlier command wrote into
the checkout is pinned too). A pin never follows a link: a path under a link fails the check.
"""

from __future__ import annotations

import os
import re
import shlex
import stat as stat_mod
from collections.abc import Iterable, Sequence
from pathlib import Path

from agentic.git import trees
from agentic.git.cmd import git, run_git_bytes
from agentic.policy.contract import is_pytest, is_unittest
from agentic.tools.base import ToolFailure
from agentic.util import globs, paths

PYTHON_STARTUP = ("**/sitecustomize.py", "**/usercustomize.py", "**/*.pth", "**/__pycache__/**", "**/*.pyc",
                  "**/*.pyo", "**/*.dist-info/**", "**/*.egg-info/**", "**/*.egg-link")  # fmt: skip
PYTEST_CONFIG = ("**/pytest.toml", "**/.pytest.toml", "**/pytest.ini", "**/.pytest.ini", "**/pyproject.toml",
                 "**/tox.ini", "**/setup.cfg", "**/conftest.py")  # fmt: skip
MAKEFILES = ("**/GNUmakefile", "**/makefile", "**/Makefile", "**/*.mk", "**/*.mak")
NODE = ("**/package.json", "**/.npmrc", "**/.yarnrc", "**/.yarnrc.yml", ".yarn/**", "**/.pnpmfile.cjs",
        "**/pnpm-workspace.yaml", "**/node_modules/**", "**/.nvmrc", "**/.node-version",
        # the common test frameworks' configuration (what the test script runs reads it)
        "**/jest.config.*", "**/.mocharc*", "**/vitest.config.*", "**/vitest.workspace.*", "**/vite.config.*",
        "**/ava.config.*", "**/babel.config.*", "**/.babelrc*", "**/karma.conf.*", "**/.c8rc*", "**/.nycrc*",
        "**/tsconfig*.json", "**/.swcrc", "**/playwright.config.*", "**/cypress.config.*")  # fmt: skip
CARGO = ("**/Cargo.toml", "**/.cargo/**", "rust-toolchain", "rust-toolchain.toml")
GO = ("**/go.mod", "**/go.sum", "**/go.work", "**/go.work.sum", "**/vendor/**")
NODE_PROGRAMS = ("npm", "yarn", "pnpm", "npx", "node", "bun")
INCLUDE = re.compile(r"^[ \t]*-?(?:include|sinclude)[ \t]+(.+)$", re.MULTILINE)
LINK_MODE = "120000"
GITLINK_MODE = "160000"


def runner_of(argv: Sequence[str]) -> str | None:
    """Which runner's configuration `argv` reads: pytest, unittest, python, make, node, cargo, go."""
    if not argv:
        return None
    program = Path(argv[0]).name
    if is_pytest(tuple(argv)):
        return "pytest"
    if is_unittest(tuple(argv)):
        return "unittest"
    if program.startswith("python"):
        return "python"  # manage.py test, runtests.py, a script
    if program in ("make", "gmake"):
        return "make"
    if program in NODE_PROGRAMS:
        return "node"
    if program == "cargo":
        return "cargo"
    if program == "go":
        return "go"
    return None


def config_globs(argv: Sequence[str]) -> tuple[str, ...]:
    """The paths `argv`'s runner reads for its configuration (what the gate pins, and init protects)."""
    runner = runner_of(argv)
    if runner == "pytest":
        return PYTEST_CONFIG + PYTHON_STARTUP
    if runner in ("unittest", "python"):
        return PYTHON_STARTUP
    if runner == "make":
        return MAKEFILES
    if runner == "node":
        return NODE
    if runner == "cargo":
        return CARGO
    if runner == "go":
        return GO
    return ()


def protect_globs(argv: Sequence[str]) -> tuple[str, ...]:
    """The configuration files of `argv`'s runner that a contract should protect: the agent is told at
    the write, not only at the gate. Start-up files and bytecode are pinned, not protected (a command
    may leave a harmless `__pycache__` behind)."""
    return tuple(g for g in config_globs(argv) if g not in PYTHON_STARTUP)


# -- the two trees -----------------------------------------------------------------------------------


def tree_entries(root: Path, rev: str) -> dict[str, tuple[str, str]]:
    """path → (mode, object id) of every entry of `rev`'s tree, read with git in `root`."""
    return {entry.path: (entry.mode, entry.oid) for entry in trees.entries(root, rev)}


def _on_disk(root: Path, patterns: Sequence[str]) -> set[str]:
    """Paths in the checkout matching `patterns`, the tree's and those written since it was made."""
    found = set()
    for entry in paths.walk_entries(root):
        if globs.match_any(patterns, entry.path):
            found.add(entry.path)
    return found


def make_includes(texts: Iterable[str]) -> tuple[str, ...]:
    """The literal file names of the makefiles' `include` directives (names with `$` are left out)."""
    found: list[str] = []
    for text in texts:
        for match in INCLUDE.finditer(text):
            try:
                words = shlex.split(match.group(1).split("#", 1)[0])
            except ValueError:
                continue
            for word in words:
                if not re.search(r"[$*?\[\]]", word) and not word.startswith("/") and ".." not in Path(word).parts:
                    found.append(os.path.normpath(word))
    return tuple(dict.fromkeys(found))


def _blob(root: Path, oid: str) -> bytes:
    done = run_git_bytes(["cat-file", "blob", oid], root)
    if done.returncode != 0:
        raise ToolFailure(f"git cat-file {oid} failed")
    return done.stdout


def _restore(root: Path, path: str, entry: tuple[str, str] | None) -> None:
    """Make `path` in the checkout what the base has: its content, or nothing. Never through a link."""
    st = paths.stat(root, path)
    if st is not None and not stat_mod.S_ISDIR(st.st_mode):
        paths.delete(root, path)
    elif st is not None:
        raise ToolFailure(f"{path} is a directory in the candidate")
    if entry is None:
        return
    mode, oid = entry
    data = _blob(root, oid)
    if mode == LINK_MODE:
        with paths._parent(root, path) as (dir_fd, name, _shown):
            os.symlink(data.decode("utf-8", "surrogateescape"), name, dir_fd=dir_fd)
        return
    paths.write_bytes(root, path, data)
    if mode == "100755":
        with paths._parent(root, path) as (dir_fd, name, _shown):
            os.chmod(name, 0o755, dir_fd=dir_fd, follow_symlinks=False)


def pin(root: Path, base: str | None, patterns: Sequence[str], extra: Sequence[str] = ()) -> list[str]:
    """Make every path of the checkout `root` that matches `patterns` (or is named in `extra`) what it
    is in the `base` commit; returns the paths that differed. ToolFailure when one cannot be pinned."""
    if base is None or not (patterns or extra):
        return []
    everything = (*patterns, *extra)
    theirs = {p: e for p, e in tree_entries(root, base).items() if globs.match_any(everything, p)}
    ours = {p: e for p, e in tree_entries(root, trees.head_of(root)).items() if globs.match_any(everything, p)}
    on_disk = _on_disk(root, everything)
    git(["update-index", "-q", "--refresh"], root, check=False)
    rewritten = set(git(["diff-files", "--name-only", "-z", "--no-renames"], root).split("\0")) - {""}
    changed = []
    for path in sorted(set(theirs) | set(ours) | on_disk):
        want = theirs.get(path)
        if want is not None and want[0] == GITLINK_MODE:
            continue
        if path in ours and ours[path] == want and path in on_disk and path not in rewritten:
            continue  # the checkout holds what the base holds
        if want is None and path not in on_disk:
            continue  # absent in both
        _restore(root, path, want)
        changed.append(path)
    return changed


def base_makefile_includes(root: Path, base: str | None) -> tuple[str, ...]:
    """The literal includes of the base's makefiles (pinned for make: an optional include the base
    lacks must stay absent)."""
    if base is None:
        return ()
    texts = []
    for path, (mode, oid) in tree_entries(root, base).items():
        if mode != GITLINK_MODE and globs.match_any(MAKEFILES, path):
            texts.append(_blob(root, oid).decode("utf-8", "replace"))
    return make_includes(texts)
