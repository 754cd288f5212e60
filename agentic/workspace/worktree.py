"""A run's git worktree: created on its own branch, snapshotted into a private index, restored,
committed, checked out clean for the gate, recovered after a crash and removed.

Every git command the harness runs goes through agentic.git.cmd (hardened: no config but the
repository's, no hooks, no filter driver, no prompts). A run works in `.agentic/worktrees/<run>`
on branch `agentic/<run>`; the person's checkout is never touched until `agentic apply`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from agentic.errors import WorkspaceError
from agentic.git import linked, submodules, trees
from agentic.git.cmd import git, run_git, run_git_bytes
from agentic.git.locks import clear_stale
from agentic.git.staging import NESTED, Skipped, stage
from agentic.git.view import checkout_common_dir
from agentic.sandbox import kill_sandboxes
from agentic.util.paths import TEMP_NAME
from agentic.util.trees import remove_tree, walk_dirs
from agentic.workspace.changes import ADDED_LINES, NAME_STATUS, parse_added_lines, parse_name_status
from agentic.workspace.generated import Carried, carry, find
from agentic.workspace.repo import STATE_DIR, identity
from agentic.workspace.seal import Sealed, files_seal, settle_line, worktree_seal

SNAPSHOT_INDEX = "agentic-index"  # in the worktree's admin git dir


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
    generated: tuple[str, ...] = ()  # the contract's globs of ignored files each checkout gets (.generated)
    carried: list[Carried] = field(default_factory=list, init=False, repr=False, compare=False)  # by create()
    # the seal of the worktree when tree() last staged it, and that tree (agentic.workspace.seal)
    _sealed: Sealed | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def path(self) -> Path:
        return self.repo_root / STATE_DIR / "worktrees" / self.run_id

    @property
    def branch(self) -> str:
        return f"agentic/{self.run_id}"

    @cached_property
    def base_tree(self) -> str:
        """The id of the base commit's tree."""
        return trees.tree_of(self.repo_root, self.base)

    @cached_property
    def author(self) -> tuple[str, str]:
        """Who the run's commit is by: the person's git identity, read once per run (the journal's
        `run.start` names the same)."""
        return identity(self.repo_root)

    @cached_property
    def git_dir(self) -> Path:
        """The worktree's administrative git dir, found from the repository, never from the worktree
        (read from its `.git` as git would, or asked of git when that is not plain)."""
        common = checkout_common_dir(self.repo_root)
        if common is None:
            common = Path(git(["rev-parse", "--git-common-dir"], self.repo_root).strip())
            common = common if common.is_absolute() else self.repo_root / common
        return common / "worktrees" / self.run_id

    def _git(self, args: list[str], *, env: dict[str, str] | None = None, check: bool = True,
             input: str | None = None) -> str:  # fmt: skip
        """git on the worktree, naming the git dir and the work tree explicitly: a `.git` file or
        directory planted in the worktree cannot redirect the harness to another repository."""
        explicit = [f"--git-dir={self.git_dir}", f"--work-tree={self.path}"]
        return git([*explicit, *args], self.path, env=env, check=check, input=input)

    def create(self) -> None:
        """The run's worktree on its branch at base, submodules' files included (or UsageError first)."""
        subs = submodules.recorded(self.repo_root, self.base)
        submodules.require_available(self.repo_root, subs)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        linked.add(self.repo_root, self.path, self.base, branch=self.branch)
        if self.path.name != self.git_dir.name or not self.git_dir.is_dir():
            raise WorkspaceError(f"git created the worktree's admin dir somewhere unexpected for {self.path}")
        submodules.populate(self.repo_root, subs, self.path)
        self.carried = carry(self.repo_root, self.path, self.generated_files)

    @cached_property
    def generated_files(self) -> list[str]:
        """The ignored files of the person's checkout that the contract's `generated:` globs name."""
        return find(self.repo_root, self.generated)

    @property
    def snapshot_index(self) -> Path:
        """The index the harness's snapshots use. The worktree's own index stays as its checkout
        made it (the base), so `git status` and `git diff` inside the sandbox show the agent's change."""
        return self.git_dir / SNAPSHOT_INDEX

    def _ensure_snapshot_index(self) -> None:
        index = self.snapshot_index
        if not index.exists() and (self.git_dir / "index").exists():  # its stat data spares rehashing every file
            partial = index.with_name(f"{index.name}.{os.getpid()}.partial")
            shutil.copy2(self.git_dir / "index", partial)  # its time too (racy git: see gate.hook.working_tree)
            os.replace(partial, index)  # whole or not at all: a kill mid-copy leaves no torn index

    def _snapshot_git(self, args: list[str], *, env: dict[str, str] | None = None, check: bool = True,
                      input: str | None = None) -> str:  # fmt: skip
        self._ensure_snapshot_index()
        return self._git(args, env={**(env or {}), "GIT_INDEX_FILE": str(self.snapshot_index)}, check=check,
                         input=input)  # fmt: skip

    def _snapshot_bytes(self, args: list[str], input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        explicit = [f"--git-dir={self.git_dir}", f"--work-tree={self.path}"]
        return run_git_bytes([*explicit, *args], self.path, env={"GIT_INDEX_FILE": str(self.snapshot_index)},
                             input=input)  # fmt: skip

    def snapshot(self, leave_out: list[str] | None = None) -> Snapshot:
        """Stage everything in the worktree (in the snapshot index) and return its tree and the paths
        changed since base. Paths in `leave_out` stay as the base has them (files only the test
        command wrote: never part of the change)."""
        self._sealed = None  # the snapshot index is restaged, and with leave_out made to differ
        tree, skipped = self._stage(leave_out)
        return Snapshot(tree, parse_name_status(self._git([*NAME_STATUS, self.base, tree])), skipped)

    def tree(self) -> str:
        """The worktree's tree, staged as a snapshot stages it, without listing the changes (the
        dispatcher takes it before and after every command). When the worktree's seal is what it
        was when the tree was last staged, nothing changed and no git runs."""
        prior, git_files = self._sealed, self._sealed_git_files()
        if prior is not None and worktree_seal(self.path, prior.since) == prior.walked \
                and files_seal(git_files, prior.since) == prior.files:  # fmt: skip
            return prior.tree
        since = settle_line()
        walked = worktree_seal(self.path, since)  # before staging: a change after the walk breaks the seal
        tree = self._stage(None)[0]
        files = files_seal(git_files, since)  # after staging: as staging left them
        self._sealed = None if walked is None or files is None else Sealed(since, walked, files, tree)
        return tree

    def _sealed_git_files(self) -> list[Path]:
        """The files outside the worktree whose change can change what staging makes of it."""
        common = self.git_dir.parent.parent
        return [self.snapshot_index, common / "info" / "exclude", common / "config", self.git_dir / "config.worktree"]

    def _stage(self, leave_out: list[str] | None) -> tuple[str, list[Skipped]]:
        nested = self.nested_repositories()
        excluded = [f":(exclude,top,literal){p}" for p in nested]
        skipped = stage(self._snapshot_git, self._snapshot_bytes, self.path, excluded)
        if nested:  # the submodules the base records are the worktree's own; any other repository is said
            recorded = submodules.gitlink_paths(self.repo_root, self.base)
            skipped += [Skipped(p, NESTED) for p in nested if p not in recorded]
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
        name, email = self.author
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
               "GIT_COMMITTER_EMAIL": email}  # fmt: skip
        sha = self._git(["commit-tree", tree, "-p", self.base, "-F", "-"], env=env, input=message).strip()
        self._git(["update-ref", f"refs/heads/{self.branch}", sha, self.base])
        return sha

    @contextmanager
    def checkout(self, treeish: str, kind: str | None = None) -> Iterator[Path]:
        """A clean, throw-away checkout of a tree or commit (detached worktree), removed afterwards;
        `kind` ("tree" or "commit") when the caller knows which it is (git is asked otherwise).

        The gate runs here, so nothing the agent left in its worktree (ignored files, caches,
        untracked files outside the snapshot) can influence the verdict.
        """
        kind = kind or git(["cat-file", "-t", treeish], self.repo_root).strip()
        commit = treeish
        if kind == "tree":
            commit = git(["commit-tree", treeish, "-p", self.base, "-m", "agentic: gate candidate"], self.repo_root,
                         env={"GIT_AUTHOR_NAME": "agentic", "GIT_AUTHOR_EMAIL": "agentic@localhost",
                              "GIT_COMMITTER_NAME": "agentic", "GIT_COMMITTER_EMAIL": "agentic@localhost"}).strip()  # fmt: skip
        path = self.repo_root / STATE_DIR / "checkouts" / f"{self.run_id}-{uuid.uuid4().hex[:8]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        linked.add(self.repo_root, path, commit)
        try:
            submodules.populate(self.repo_root, submodules.recorded(self.repo_root, commit), path)
            carry(self.repo_root, path, self.generated_files)
            yield path
        finally:
            remove_worktree(self.repo_root, path)

    def recover(self, settle_s: float = 2.0) -> None:
        """After the run's harness died: kill the sandboxes it left on the worktree or its gate
        checkouts, remove those checkouts, and remove the worktree's index lock once it is stale.
        The caller holds the run's journal lock, so no live harness uses any of them; a git the dead
        harness started may still be finishing, so wait a little for the lock."""
        checkouts = sorted((self.repo_root / STATE_DIR / "checkouts").glob(f"{self.run_id}-*"))
        kill_sandboxes([os.path.realpath(p) for p in (self.path, *checkouts)])
        for path in checkouts:
            remove_worktree(self.repo_root, path)
        self._remove_write_leftovers()
        clear_stale([self.git_dir / "index.lock", self.git_dir / f"{SNAPSHOT_INDEX}.lock"], settle_s)
        for partial in self.git_dir.glob(f"{SNAPSHOT_INDEX}.*.partial"):
            partial.unlink(missing_ok=True)

    def remove(self, keep_branch: bool) -> None:
        remove_worktree(self.repo_root, self.path)
        if not keep_branch:
            git(["branch", "-D", self.branch], self.repo_root, check=False)


def remove_worktree(root: Path, path: Path) -> None:
    """Remove a harness worktree (a run's, a gate's checkout) and git's record of it. A worktree whose
    records are as git writes them (admin_dir) goes here, as `git worktree remove --force` would take
    it (its files, then its admin dir; a crash between leaves a record `git worktree prune` drops),
    without a git process per checkout; any other through git. One whose making was cut off (a kill
    mid-`linked.add`) goes with its records, which git would keep locked for good."""
    if (cut_off := linked.unfinished(root, path)) is not None:
        with contextlib.suppress(OSError):
            remove_tree(path)
        shutil.rmtree(cut_off, ignore_errors=True)
        return
    if not path.exists():
        return
    admin = admin_dir(root, path)
    if admin is not None:
        with contextlib.suppress(OSError):
            remove_tree(path)
        if not os.path.lexists(path):
            with contextlib.suppress(OSError):
                remove_tree(admin)
            if os.path.lexists(admin):  # git drops the record of a worktree that is gone
                git(["worktree", "prune"], root, check=False)
            return
    removed = run_git(["worktree", "remove", "--force", str(path)], root).returncode == 0
    if path.exists():
        with contextlib.suppress(OSError):
            remove_tree(path)  # a tree too deep for shutil.rmtree too
    if not removed or path.exists():  # git's record of it may be left: drop the record of a gone worktree
        git(["worktree", "prune"], root, check=False)


def admin_dir(root: Path, path: Path) -> Path | None:
    """The admin dir of the linked worktree `path` of the repository `root` (`<git dir>/worktrees/<id>`),
    when each names the other as git writes them: the worktree's `.git` file names it, it names that
    file back (`gitdir`), it belongs to the repository and is not locked. None otherwise."""
    dot_git = path / ".git"
    common = checkout_common_dir(root)
    try:
        if common is None or not stat.S_ISREG(os.lstat(dot_git).st_mode):
            return None
        named = dot_git.read_text(encoding="utf-8").strip()
        if not named.startswith("gitdir:"):
            return None
        admin = Path(os.path.realpath(path / named[len("gitdir:"):].strip()))
        back = (admin / "gitdir").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if admin.parent != common / "worktrees" or os.path.lexists(admin / "locked"):
        return None
    if os.path.realpath(admin / back) != os.path.realpath(dot_git):
        return None
    return admin
