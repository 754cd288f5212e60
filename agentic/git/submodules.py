"""Submodules in a run's worktree and in the gate's checkout: their files at the recorded commits.

A checkout (agentic.git.linked, as `git worktree add`) leaves a submodule's directory empty, and
nothing may be fetched (no network for the harness's git). The files come from the person's own clone of the submodule (`.git/modules/…`
or the submodule's checkout), exported with `git archive` at the commit the base records; they are
read-only for the run (the contract protects them: commands see them read-only, file tools may not
write there) and never part of a snapshot, which keeps the gitlink. A submodule whose recorded
commit the person's clone does not hold refuses the run at start, naming the command that fixes it.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

from agentic.errors import UsageError
from agentic.git import trees
from agentic.git.cmd import git, run_git, run_git_bytes

GITLINK = "160000"


@dataclass(frozen=True)
class Submodule:
    path: str
    commit: str
    source: Path | None  # the git dir that holds the commit, or None when the person's clone lacks it


def recorded(root: Path, commit: str) -> list[Submodule]:
    """The submodules `commit` records, each with where its files can come from."""
    links = _gitlinks(root, commit)
    if not links:
        return []
    names = _names(root, commit)
    return [Submodule(path, sha, _source(root, names.get(path, path), path, sha)) for path, sha in links]


def gitlink_paths(root: Path, commit: str) -> frozenset[str]:
    """The paths where `commit` records a submodule."""
    return frozenset(path for path, _ in _gitlinks(root, commit))


def _gitlinks(root: Path, commit: str) -> tuple[tuple[str, str], ...]:
    """(path, commit) of each gitlink in `commit`'s tree (its listing is remembered by commit id)."""
    return tuple((e.path, e.oid) for e in trees.entries(root, commit) if e.mode == GITLINK)


def _names(root: Path, commit: str) -> dict[str, str]:
    """path → name from the commit's .gitmodules (a module's git dir is named after its name)."""
    done = run_git(
        ["config", "-z", "--blob", f"{commit}:.gitmodules", "--get-regexp", r"^submodule\..*\.path$"], root
    )
    names = {}
    for item in done.stdout.split("\0"):
        key, _, value = item.partition("\n")
        if key and value:
            names[value] = key[len("submodule.") : -len(".path")]
    return names


def _source(root: Path, name: str, path: str, commit: str) -> Path | None:
    common = Path(git(["rev-parse", "--path-format=absolute", "--git-common-dir"], root).strip())
    candidates = [common / "modules" / name, root / path / ".git"]
    for candidate in candidates:
        if (
            run_git(["--git-dir", str(candidate), "cat-file", "-e", f"{commit}^{{commit}}"], root).returncode
            == 0
        ):
            return candidate
    return None


def require_available(root: Path, subs: list[Submodule]) -> None:
    """Refuse (before anything is created) when a submodule's files cannot be had offline."""
    missing = [s for s in subs if s.source is None]
    if missing:
        shown = ", ".join(f"{s.path} (commit {s.commit[:12]})" for s in missing)
        raise UsageError(
            f"the base commit records submodules whose commits this clone does not hold: {shown}; "
            "the run would see them empty",
            hint="check them out first: git submodule update --init " + " ".join(s.path for s in missing),
        )


def populate(root: Path, subs: list[Submodule], dest: Path) -> None:
    """Write each submodule's files at its recorded commit under `dest` (a worktree of `root`)."""
    for sub in subs:
        if sub.source is None:
            continue
        done = run_git_bytes(["--git-dir", str(sub.source), "archive", "--format=tar", sub.commit], root)
        if done.returncode != 0:
            raise UsageError(
                f"cannot export submodule {sub.path}: {done.stderr.decode('utf-8', 'replace').strip()}"
            )
        target = dest / sub.path
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
            archive.extractall(target, filter="data")


def protected_globs(subs: list[Submodule]) -> tuple[str, ...]:
    """Contract globs that keep the submodules' files read-only for the run."""
    return tuple(g for s in subs for g in (s.path, f"{s.path}/**"))
