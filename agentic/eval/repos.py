"""The eval's repositories: a scenario's template (a fixture committed reproducibly, or a clone at a
ref), each attempt's clone of it, and what a commit changed."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from agentic.git.cmd import git
from agentic.workspace import Workspace
from agentic.workspace.generated import GeneratedFiles, find, place, read

FIXTURE_IGNORE = shutil.ignore_patterns(".git", ".agentic", "__pycache__", "*.pyc", ".pytest_cache")
FIXED_DATE = "2000-01-01T00:00:00+00:00"  # fixture commits are reproducible: the same base sha every time
IDENTITY = {"GIT_AUTHOR_NAME": "agentic eval", "GIT_AUTHOR_EMAIL": "eval@agentic.invalid",
            "GIT_COMMITTER_NAME": "agentic eval", "GIT_COMMITTER_EMAIL": "eval@agentic.invalid",
            "GIT_AUTHOR_DATE": FIXED_DATE, "GIT_COMMITTER_DATE": FIXED_DATE}  # fmt: skip


def fixture_repo(fixture: Path, target: Path) -> str:
    """Copy a fixture directory into a fresh git repository with one commit; its sha (reproducible)."""
    shutil.copytree(fixture, target, ignore=FIXTURE_IGNORE, symlinks=True)
    git(["init", "--quiet", "--initial-branch=main"], target)
    git(["add", "--all"], target)
    git(["commit", "--quiet", "--allow-empty", "-m", f"fixture {fixture.name}"], target, env=IDENTITY)
    return git(["rev-parse", "HEAD"], target).strip()


def cloned_repo(source: str, ref: str, target: Path) -> str:
    """Clone a repository (local path or URL) and put its branch `main` at `ref`; the commit's sha."""
    protocol = "https" if source.startswith(("https://", "http://")) else "file"
    allow = ["-c", f"protocol.{protocol}.allow=always"] + (["-c", "protocol.http.allow=always"]
                                                            if source.startswith("http://") else [])  # fmt: skip
    git([*allow, "clone", "--quiet", "--no-checkout", source, str(target)], target.parent)
    sha = git(["rev-parse", "--verify", f"{ref}^{{commit}}"], target).strip()
    git(["checkout", "--quiet", "-B", "main", sha], target)
    return sha


def generated_files(origin: Path | None, template: Path, patterns: tuple[str, ...]) -> GeneratedFiles:
    """The ignored files a scenario's contract lists under `generated:`, read once from where its
    repository came from (a fixture's copy in the template, or the local clone it was cloned from; a
    URL has none), and given to the template too: each attempt's repository gets them (place)."""
    if not patterns or origin is None:
        return ()
    files = read(origin, find(origin, patterns))
    if origin != template:
        place(template, files)
    return files


def attempt_repo(template: Path, target: Path) -> None:
    """The attempt's own repository: a local clone of the scenario's template (objects hard-linked)."""
    git(["-c", "protocol.file.allow=always", "clone", "--quiet", str(template), str(target)], target.parent)


def tree_of(root: Path, commit: str) -> str:
    return git(["rev-parse", f"{commit}^{{tree}}"], root).strip()


def changed_paths(root: Path, base: str, commit: str) -> list[str]:
    out = git(["diff-tree", "-r", "--no-renames", "--name-only", "-z", base, commit], root)
    return [p for p in out.split("\0") if p]


@contextlib.contextmanager
def checkout(root: Path, commit: str, generated: tuple[str, ...] = ()) -> Iterator[Path]:
    """A clean, throw-away checkout of `commit` in the repository `root`, with the ignored files the
    contract's `generated:` globs name copied from `root`'s working tree."""
    with Workspace(root, f"eval-{time.monotonic_ns()}", commit, generated).checkout(commit) as path:
        yield path
