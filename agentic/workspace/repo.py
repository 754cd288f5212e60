"""The person's repository: finding it, the harness's private state directory in it, and who they are.

A run's state lives in `.agentic/` at the repository's root, a directory of the harness's own that
git never tracks (excluded through info/exclude); a repository that commits or plants one is refused.
"""

from __future__ import annotations

import getpass
import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path

from agentic.errors import UnsafeStateDir, UsageError
from agentic.git.cmd import git, person_configs, run_git

STATE_DIR = ".agentic"


@dataclass(frozen=True)
class RepoInfo:
    root: Path
    head: str  # commit sha
    branch: str | None  # None when detached
    common: Path | None = None  # the repository's git common dir (absolute), when it is known

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR


def find_repo(start: Path) -> RepoInfo:
    """The repository `start` is in: its working tree's root, HEAD's commit and branch, through the
    harness's hardened git (no hooks, no filter drivers, the person's config otherwise as git reads it)."""
    if not start.is_dir():
        raise UsageError(f"{start} is not inside a git repository", hint="run `git init` first")
    # one git for the usual case; when it fails, the questions one by one say what is wrong
    asked = run_git(["rev-parse", "--path-format=absolute", "--is-inside-work-tree", "--show-toplevel",
                     "--git-common-dir", "HEAD^{commit}", "--symbolic-full-name", "HEAD", "--"], start)  # fmt: skip
    lines = asked.stdout.split("\n")
    if asked.returncode == 0 and len(lines) == 7 and lines[0] == "true" and lines[5] == "--" and not lines[6]:
        root, common, head, ref = Path(lines[1]), Path(lines[2]), lines[3], lines[4]
    else:
        (root, head), common, ref = _diagnose(start), None, ""
    check_state_dir(root)
    return RepoInfo(root, head, _branch(root, ref), common)


def _branch(root: Path, ref: str) -> str | None:
    """HEAD's branch from the full name of what HEAD points at (`HEAD` itself: detached, no branch)."""
    if ref == "HEAD":
        return None
    if ref.startswith("refs/heads/"):
        return ref.removeprefix("refs/heads/")
    branch = run_git(["symbolic-ref", "--quiet", "--short", "HEAD"], root)  # a HEAD elsewhere: as git shortens it
    return branch.stdout.strip() if branch.returncode == 0 else None


def _diagnose(start: Path) -> tuple[Path, str]:
    """find_repo's questions asked one at a time: (root, HEAD's commit), or the UsageError that says
    what is wrong."""
    inside = run_git(["rev-parse", "--is-inside-work-tree"], start)
    if inside.returncode != 0:
        raise UsageError(f"{start} is not inside a git repository", hint="run `git init` first")
    if inside.stdout.strip() != "true":
        raise UsageError(f"{start} is a bare repository or a git directory; agentic needs a working tree")
    root = Path(git(["rev-parse", "--show-toplevel"], start).strip())
    head = run_git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], root)
    if head.returncode != 0:
        raise UsageError(f"{root} has no commit yet", hint="commit something first: runs start from HEAD")
    return root, head.stdout.strip()


STATE_FIX = ("agentic keeps its database, journals and worktrees in .agentic/, a private directory of yours that "
             "git never tracks: untrack it (git rm -r --cached .agentic && git commit), move it away, and run again")


def check_state_dir(root: Path) -> None:
    """Refuse a repository whose `.agentic` is not the harness's own private directory (UnsafeStateDir).

    Hostile: `.agentic` tracked by git (a file, a directory, a symlink, a submodule: in the index or in
    HEAD, so any checkout of it would plant it), a symlink (untracked too), anything but a directory,
    a directory owned by another user or writable by everyone, or a symlink directly inside it (the
    database, `runs`, `worktrees` redirected elsewhere). A missing `.agentic` is fine: it is created
    as a plain directory and excluded through info/exclude."""
    named = _tracked(root, f":(top,literal){STATE_DIR}")
    if named:
        shown = ", ".join(named[:5]) + (f" and {len(named) - 5} more" if len(named) > 5 else "")
        raise UnsafeStateDir(f"this repository commits {STATE_DIR} ({shown}): a repository cannot choose where "
                             "agentic keeps its state", hint=STATE_FIX)  # fmt: skip
    state = root / STATE_DIR
    try:
        info = os.lstat(state)
    except FileNotFoundError:
        return
    what = None
    if stat.S_ISLNK(info.st_mode):
        what = f"a symlink (to {os.readlink(state)})"
    elif not stat.S_ISDIR(info.st_mode):
        what = "not a directory"
    elif info.st_uid != os.getuid():
        what = f"owned by another user (uid {info.st_uid})"
    elif info.st_mode & stat.S_IWOTH and not info.st_mode & stat.S_ISVTX:
        what = "writable by every user"
    else:
        links = sorted(e.name for e in os.scandir(state) if e.is_symlink())
        if links:
            what = f"holding symlinks ({', '.join(links[:5])})"
    if what is not None:
        raise UnsafeStateDir(f"{state} is {what}: agentic keeps its state only in a plain directory of its own",
                             hint=STATE_FIX)  # fmt: skip


def _tracked(root: Path, pathspec: str) -> list[str]:
    """Paths under `pathspec` in the index or in HEAD: one ls-files that lays HEAD's tree over the
    index; without a HEAD (or when that fails) the index and HEAD asked apart."""
    both = run_git(["ls-files", "-z", "--cached", "--with-tree=HEAD", "--", pathspec], root)
    if both.returncode == 0:
        return sorted({p for p in both.stdout.split("\0") if p})
    tracked = run_git(["ls-files", "-z", "--cached", "--", pathspec], root).stdout.split("\0")
    in_head = run_git(["ls-tree", "-z", "--name-only", "HEAD", "--", STATE_DIR], root).stdout.split("\0")
    return sorted({p for p in [*tracked, *in_head] if p})


def ensure_excluded(root: Path) -> None:
    """Keep `.agentic/` out of git through the repository's info/exclude (never committed), after
    checking that the repository's `.agentic` is the harness's own (UnsafeStateDir otherwise)."""
    check_state_dir(root)
    exclude_state_dir(root)


def exclude_state_dir(root: Path, common: Path | None = None) -> None:
    """The info/exclude half of ensure_excluded, for a repository just checked (find_repo does);
    `common`: its git common dir when known."""
    if common is None:
        common = Path(git(["rev-parse", "--git-common-dir"], root).strip())
        if not common.is_absolute():
            common = root / common
    exclude = common / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    existing = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
    if f"/{STATE_DIR}/" not in existing.splitlines():
        with open(exclude, "a", encoding="utf-8") as fh:
            if existing and not existing.endswith("\n"):
                fh.write("\n")
            fh.write(f"# agentic's state (runs, journals, worktrees)\n/{STATE_DIR}/\n")


def identity(root: Path) -> tuple[str, str]:
    """The person's git identity as their own config states it, or a neutral one."""
    found = person_configs(["user.name", "user.email"], root)
    return found.get("user.name") or "agentic", found.get("user.email") or "agentic@localhost"


def who(root: Path, argv: list[str], known: tuple[str, str] | None = None) -> dict[str, object]:
    """Who starts or resumes a run: the OS user and host, the git identity (`known` when already
    read), the command line."""
    name, email = known or identity(root)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return {"os_user": user, "host": socket.gethostname(), "git_name": name, "git_email": email, "argv": argv}
