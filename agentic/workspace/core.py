"""Git worktrees for runs, snapshots of their state, commits of accepted changes, and apply.

Every git command the harness runs goes through `agentic.gitcmd` (hardened: no config but the
repository's, no hooks, no filter driver, no prompts). A run works in
`.agentic/worktrees/<run>` on branch `agentic/<run>`; the person's checkout is never touched
until `agentic apply`.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from agentic.errors import UnsafeStateDir, UsageError, WorkspaceError
from agentic.git import submodules
from agentic.git.cmd import git, run_git, run_git_bytes
from agentic.git.staging import Skipped, stage

STATE_DIR = ".agentic"


@dataclass(frozen=True)
class RepoInfo:
    root: Path
    head: str  # commit sha
    branch: str | None  # None when detached

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR


def find_repo(start: Path) -> RepoInfo:
    import git as gitpython  # lazy: keeps `agentic --help` fast

    try:
        repo = gitpython.Repo(start, search_parent_directories=True)
    except (gitpython.InvalidGitRepositoryError, gitpython.NoSuchPathError):
        raise UsageError(f"{start} is not inside a git repository", hint="run `git init` first") from None
    if repo.bare or repo.working_tree_dir is None:
        raise UsageError(f"{start} is a bare repository; agentic needs a working tree")
    root = Path(repo.working_tree_dir)
    try:
        head = repo.head.commit.hexsha
    except ValueError:
        raise UsageError(f"{root} has no commit yet", hint="commit something first: runs start from HEAD") from None
    branch = None if repo.head.is_detached else repo.active_branch.name
    check_state_dir(root)
    return RepoInfo(root, head, branch)


STATE_FIX = ("agentic keeps its database, journals and worktrees in .agentic/, a private directory of yours that "
             "git never tracks: untrack it (git rm -r --cached .agentic && git commit), move it away, and run again")


def check_state_dir(root: Path) -> None:
    """Refuse a repository whose `.agentic` is not the harness's own private directory (UnsafeStateDir).

    Hostile: `.agentic` tracked by git (a file, a directory, a symlink, a submodule: in the index or in
    HEAD, so any checkout of it would plant it), a symlink (untracked too), anything but a directory,
    a directory owned by another user or writable by everyone, or a symlink directly inside it (the
    database, `runs`, `worktrees` redirected elsewhere). A missing `.agentic` is fine: it is created
    as a plain directory and excluded through info/exclude."""
    tracked = run_git(["ls-files", "-z", "--cached", "--", f":(top,literal){STATE_DIR}"], root).stdout.split("\0")
    in_head = run_git(["ls-tree", "-z", "--name-only", "HEAD", "--", STATE_DIR], root).stdout.split("\0")
    named = sorted({p for p in [*tracked, *in_head] if p})
    if named:
        shown = ", ".join(named[:5]) + (f" and {len(named) - 5} more" if len(named) > 5 else "")
        raise UnsafeStateDir(f"this repository commits {STATE_DIR} ({shown}): a repository cannot choose where "
                             "agentic keeps its state", hint=STATE_FIX)  # fmt: skip
    state = root / STATE_DIR
    try:
        info = os.lstat(state)
    except FileNotFoundError:
        return
    import stat

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


def ensure_excluded(root: Path) -> None:
    """Keep `.agentic/` out of git through the repository's info/exclude (never committed), after
    checking that the repository's `.agentic` is the harness's own (UnsafeStateDir otherwise)."""
    check_state_dir(root)
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
    import git as gitpython

    try:
        reader = gitpython.Repo(root).config_reader()
        name = str(reader.get_value("user", "name", "")) or ""
        email = str(reader.get_value("user", "email", "")) or ""
    except Exception:  # a broken user config must not stop a run
        name = email = ""
    return name or "agentic", email or "agentic@localhost"


def who(root: Path, argv: list[str]) -> dict[str, object]:
    name, email = identity(root)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return {"os_user": user, "host": socket.gethostname(), "git_name": name, "git_email": email, "argv": argv}


@dataclass
class Snapshot:
    tree: str
    changes: list[tuple[str, str]]  # (status letter A/M/D/T, path)
    skipped: list[Skipped] = field(default_factory=list)  # paths git cannot stage, left as they were


@dataclass
class Workspace:
    repo_root: Path
    run_id: str
    base: str

    @property
    def path(self) -> Path:
        return self.repo_root / STATE_DIR / "worktrees" / self.run_id

    @property
    def branch(self) -> str:
        return f"agentic/{self.run_id}"

    @cached_property
    def git_dir(self) -> Path:
        """The worktree's administrative git dir, found from the repository, never from the worktree."""
        common = Path(git(["rev-parse", "--git-common-dir"], self.repo_root).strip())
        common = common if common.is_absolute() else self.repo_root / common
        return common / "worktrees" / self.run_id

    def _git(self, args: list[str], **kwargs: Any) -> str:
        """git on the worktree, naming the git dir and the work tree explicitly: a `.git` file or
        directory planted in the worktree cannot redirect the harness to another repository."""
        explicit = [f"--git-dir={self.git_dir}", f"--work-tree={self.path}"]
        return git([*explicit, *args], self.path, **kwargs)

    def create(self) -> None:
        """The run's worktree on its branch at base, submodules' files included (or UsageError first)."""
        subs = submodules.recorded(self.repo_root, self.base)
        submodules.require_available(self.repo_root, subs)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        git(["worktree", "add", "--quiet", "-b", self.branch, str(self.path), self.base], self.repo_root)
        if self.path.name != self.git_dir.name or not self.git_dir.is_dir():
            raise WorkspaceError(f"git created the worktree's admin dir somewhere unexpected for {self.path}")
        submodules.populate(self.repo_root, subs, self.path)

    @property
    def snapshot_index(self) -> Path:
        """The index the harness's snapshots use. The worktree's own index stays as `git worktree add`
        made it (the base), so `git status` and `git diff` inside the sandbox show the agent's change."""
        return self.git_dir / SNAPSHOT_INDEX

    def _ensure_snapshot_index(self) -> None:
        index = self.snapshot_index
        if not index.exists() and (self.git_dir / "index").exists():  # its stat data spares rehashing every file
            partial = index.with_name(f"{index.name}.{os.getpid()}.partial")
            shutil.copyfile(self.git_dir / "index", partial)
            os.replace(partial, index)  # whole or not at all: a kill mid-copy leaves no torn index

    def _snapshot_git(self, args: list[str], **kwargs: Any) -> str:
        self._ensure_snapshot_index()
        env = {**kwargs.pop("env", {}), "GIT_INDEX_FILE": str(self.snapshot_index)}
        return self._git(args, env=env, **kwargs)

    def _snapshot_bytes(self, args: list[str], input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        explicit = [f"--git-dir={self.git_dir}", f"--work-tree={self.path}"]
        return run_git_bytes([*explicit, *args], self.path, env={"GIT_INDEX_FILE": str(self.snapshot_index)},
                             input=input)  # fmt: skip

    def snapshot(self, leave_out: list[str] | None = None) -> Snapshot:
        """Stage everything in the worktree (in the snapshot index) and return its tree and the paths
        changed since base. Paths in `leave_out` stay as the base has them (files only the test
        command wrote: never part of the change)."""
        tree, skipped = self._stage(leave_out)
        return Snapshot(tree, parse_name_status(self._git([*NAME_STATUS, self.base, tree])), skipped)

    def tree(self) -> str:
        """The worktree's tree, staged as a snapshot stages it, without listing the changes (the
        dispatcher takes it before and after every command)."""
        return self._stage(None)[0]

    def _stage(self, leave_out: list[str] | None) -> tuple[str, list[Skipped]]:
        excluded = [f":(exclude,top,literal){p}" for p in self.nested_repositories()]
        skipped = stage(self._snapshot_git, self._snapshot_bytes, self.path, excluded)
        if leave_out:
            self._snapshot_git(["reset", "--quiet", self.base, "--", *(f":(top,literal){p}" for p in leave_out)])
        return self._snapshot_git(["write-tree"]).strip(), skipped

    def between(self, old: str, new: str) -> list[tuple[str, str]]:
        """(A/M/D/T, path) for every path that differs from one tree to another."""
        return parse_name_status(self._git([*NAME_STATUS, old, new]))

    def restore(self, tree: str) -> None:
        """Make the worktree's content exactly `tree` again (what a snapshot includes; ignored files
        and nested repositories are left alone): files the tree lacks go, the others are rewritten."""
        self.snapshot()  # the snapshot index now describes the worktree as it is
        self._snapshot_git(["read-tree", "--reset", "-u", tree])

    def _remove_write_leftovers(self) -> None:
        """The temporary file of a write the crash cut before its rename (the write itself did not
        happen: its target is unchanged, and resume makes it again)."""
        from agentic.util.paths import TEMP_NAME, walk_dirs

        for top, dirs, files in walk_dirs(self.path):
            dirs[:] = [d for d in dirs if d != ".git"]
            for name in files:
                if TEMP_NAME.fullmatch(name):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(top, name))

    def committed(self, tree: str) -> str | None:
        """The run branch's commit when it already holds `tree` on top of the base (a commit made
        just before a crash), else None."""
        head = self._git(["rev-parse", "--verify", "--quiet", f"refs/heads/{self.branch}"], check=False).strip()
        if not head or head == self.base:
            return None
        line = self._git(["show", "-s", "--format=%T %P", head]).split()
        return head if line == [tree, self.base] else None

    def nested_repositories(self) -> list[str]:
        """Directories below the worktree root that hold their own `.git`: never part of a snapshot."""
        from agentic.util.paths import walk_dirs

        found = []
        for top, dirs, files in walk_dirs(self.path):
            if top != str(self.path) and (".git" in dirs or ".git" in files):
                found.append(Path(top).relative_to(self.path).as_posix())
                dirs[:] = []
                continue
            dirs[:] = [d for d in dirs if d != ".git"]
        return sorted(found)

    def diff(self, tree: str, max_chars: int = 200_000) -> str:
        text = self._git(["diff-tree", "-p", "--no-ext-diff", "--no-textconv", "-r", self.base, tree])
        return text if len(text) <= max_chars else text[:max_chars] + "\n[… diff cut …]\n"

    def added_lines(self, tree: str) -> list[tuple[str, str]]:
        """(path, line) for every line the change adds."""
        return parse_added_lines(self._git([*ADDED_LINES, self.base, tree]))

    def commit(self, tree: str, message: str) -> str:
        name, email = identity(self.repo_root)
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
               "GIT_COMMITTER_EMAIL": email}  # fmt: skip
        sha = self._git(["commit-tree", tree, "-p", self.base, "-F", "-"], env=env, input=message).strip()
        self._git(["update-ref", f"refs/heads/{self.branch}", sha, self.base])
        return sha

    @contextmanager
    def checkout(self, treeish: str) -> Iterator[Path]:
        """A clean, throw-away checkout of a tree or commit (detached worktree), removed afterwards.

        The gate runs here, so nothing the agent left in its worktree (ignored files, caches,
        untracked files outside the snapshot) can influence the verdict.
        """
        kind = git(["cat-file", "-t", treeish], self.repo_root).strip()
        commit = treeish
        if kind == "tree":
            commit = git(["commit-tree", treeish, "-p", self.base, "-m", "agentic: gate candidate"], self.repo_root,
                         env={"GIT_AUTHOR_NAME": "agentic", "GIT_AUTHOR_EMAIL": "agentic@localhost",
                              "GIT_COMMITTER_NAME": "agentic", "GIT_COMMITTER_EMAIL": "agentic@localhost"}).strip()  # fmt: skip
        path = self.repo_root / STATE_DIR / "checkouts" / f"{self.run_id}-{uuid.uuid4().hex[:8]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        git(["worktree", "add", "--quiet", "--detach", str(path), commit], self.repo_root)
        try:
            submodules.populate(self.repo_root, submodules.recorded(self.repo_root, commit), path)
            yield path
        finally:
            _remove_worktree(self.repo_root, path)

    def recover(self, settle_s: float = 2.0) -> None:
        """After the run's harness died: kill the sandboxes it left on the worktree or its gate
        checkouts, remove those checkouts, and remove the worktree's index lock once it is stale.
        The caller holds the run's journal lock, so no live harness uses any of them; a git the dead
        harness started may still be finishing, so wait a little for the lock."""
        from agentic.sandbox.core import kill_sandboxes

        checkouts = sorted((self.repo_root / STATE_DIR / "checkouts").glob(f"{self.run_id}-*"))
        kill_sandboxes([os.path.realpath(p) for p in (self.path, *checkouts)])
        for path in checkouts:
            _remove_worktree(self.repo_root, path)
        self._remove_write_leftovers()
        locks = [self.git_dir / "index.lock", self.git_dir / f"{SNAPSHOT_INDEX}.lock"]
        deadline = time.monotonic() + settle_s
        while any(lock.exists() for lock in locks) and time.monotonic() < deadline:
            time.sleep(0.05)
        for lock in [*locks, *self.git_dir.glob(f"{SNAPSHOT_INDEX}.*.partial")]:
            lock.unlink(missing_ok=True)

    def remove(self, keep_branch: bool) -> None:
        _remove_worktree(self.repo_root, self.path)
        if not keep_branch:
            git(["branch", "-D", self.branch], self.repo_root, check=False)


def _remove_worktree(root: Path, path: Path) -> None:
    if path.exists():
        git(["worktree", "remove", "--force", str(path)], root, check=False)
        if path.exists():
            from agentic.util.paths import remove_tree

            with contextlib.suppress(OSError):
                remove_tree(path)  # a tree too deep for shutil.rmtree too
        git(["worktree", "prune"], root, check=False)


SNAPSHOT_INDEX = "agentic-index"  # in the worktree's admin git dir
NAME_STATUS = ["diff-tree", "-r", "--no-renames", "--name-status", "-z"]  # + base, tree
ADDED_LINES = ["diff-tree", "-p", "--no-ext-diff", "--no-textconv", "-r", "-U0"]  # + base, tree


def parse_name_status(out: str) -> list[tuple[str, str]]:
    """(A/M/D/T, path) for every path that differs, from `git NAME_STATUS base tree` (renames as D + A)."""
    parts = [p for p in out.split("\0") if p]
    return [(parts[i][0], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]


def parse_added_lines(text: str) -> list[tuple[str, str]]:
    """(path, line) for every added line, from `git ADDED_LINES base tree` (what no_secrets reads)."""
    current, out = "", []
    for line in text.splitlines():
        if line.startswith("+++ "):
            current = line[6:] if line.startswith("+++ b/") else line[4:]
        elif line.startswith("+") and not line.startswith("+++"):
            out.append((current, line[1:]))
    return out


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
    import fcntl

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
    for name in ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge", "rebase-apply", "sequencer",
                 "index.lock"):  # fmt: skip
        if Path(git(["rev-parse", "--path-format=absolute", "--git-path", name], root).strip()).exists():
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
    git(["worktree", "add", "--quiet", "--detach", str(path), head], root)
    try:
        done = run_git(["cherry-pick", "--allow-empty", commit], path, env=env)
        if done.returncode != 0:
            raise WorkspaceError(
                f"the run's change does not apply cleanly on your branch: {(done.stdout + done.stderr).strip()}",
                hint=f"your checkout is unchanged; inspect the change with `git show {commit[:12]}` and merge by hand",
            )
        return git(["rev-parse", "HEAD"], path).strip()
    finally:
        _remove_worktree(root, path)


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
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL


def _tied_git(args: list[str], root: Path) -> None:
    """A hardened git that changes the checkout and dies with the harness (Linux)."""
    from agentic.git.cmd import failure, git_env, hardening

    done = subprocess.run(["git", *hardening(args, root), *args], cwd=root, env=git_env(), capture_output=True,
                          text=True, errors="surrogateescape", check=False, preexec_fn=_die_with_parent)  # fmt: skip
    if done.returncode != 0:
        raise failure(args, done.stderr, done.stdout)


def _git_path(root: Path, name: str) -> Path:
    return Path(git(["rev-parse", "--path-format=absolute", "--git-path", name], root).strip())


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
    import json

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
    import json

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
    lock = _git_path(root, "index.lock")
    deadline = time.monotonic() + 2.0
    while lock.exists() and time.monotonic() < deadline:  # the dead apply's git, killed with it, going away
        time.sleep(0.05)
    lock.unlink(missing_ok=True)  # still there: stale (we hold the apply lock; no apply of ours runs)
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
        run_git(["checkout-index", "-f", "-z", "--stdin"], root, input="\0".join(sorted(in_old)) + "\0")
    _clear_apply(state)
    return f"an interrupted apply of {marker['new'][:12]} was undone: your checkout is as it was"
