"""`agentic apply` never destroys the person's data (issue 14, point 3; docs/security.md, "apply").

Each test is an attack: a run's commit shaped to overwrite or delete what git does not track in the
person's checkout (ignored files included), or an apply onto a dirty, busy or conflicting checkout,
or an apply killed at any moment. The property checked is always the same: either the change is
applied whole and nothing else moved, or the checkout (every file, the index's bytes, HEAD, git's
state files) is exactly as it was.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agentic.errors import WorkspaceError
from agentic.git.cmd import git
from agentic.workspace import APPLY_MARKER, apply_commit, recover_apply
from tests.conftest import FINISH, FIX, cli, make_repo, write_script

ROOT = Path(__file__).resolve().parents[2]


def _repo(tmp_path: Path, files: dict[str, str] | None = None, ignore: str = "*.log\ncache/\n") -> Path:
    root = tmp_path / "person"
    root.mkdir()
    git(["init", "--quiet", "--initial-branch=main"], root)
    git(["config", "user.name", "Person"], root)
    git(["config", "user.email", "person@example.invalid"], root)
    for rel, text in {"README.md": "hello\n", ".gitignore": ignore, **(files or {})}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git(["add", "--all"], root)
    git(["commit", "--quiet", "-m", "initial"], root)
    return root


def _commit(root: Path, writes: dict[str, str | None], on: str = "HEAD") -> tuple[str, str]:
    """A run's commit: `writes` (None deletes) on top of `on`, made without touching the checkout."""
    base = git(["rev-parse", on], root).strip()
    env = {"GIT_INDEX_FILE": str(root / ".git" / "run-index")}
    git(["read-tree", base], root, env=env)
    # every blob in one hash-object, every index entry (mode 0: removed) in one update-index, in order
    texts = root.parent / "texts"
    texts.mkdir(exist_ok=True)
    written = {rel: texts / str(i) for i, (rel, text) in enumerate(writes.items()) if text is not None}
    for rel, path in written.items():
        path.write_text(writes[rel] or "")
    blobs = dict(zip(written, git(["hash-object", "-w", "--no-filters", "--stdin-paths"], root,
                                  input="".join(f"{os.path.relpath(p, root)}\n" for p in written.values())).split(), strict=True))  # fmt: skip
    entries = "".join(f"100644 {blobs[rel]}\t{rel}\n" if rel in blobs else f"0 {'0' * 40}\t{rel}\n" for rel in writes)
    git(["update-index", "--add", "--remove", "--index-info"], root, env=env, input=entries)
    shutil.rmtree(texts)
    tree = git(["write-tree"], root, env=env).strip()
    (root / ".git" / "run-index").unlink()
    commit = git(["commit-tree", tree, "-p", base, "-m", "agentic run"], root,
                 env={"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a",
                      "GIT_COMMITTER_EMAIL": "a@x"}).strip()  # fmt: skip
    return commit, base


def _state(root: Path) -> dict[str, Any]:
    """Everything apply could change: each file, link and directory of the checkout (content, mode),
    the index's bytes, HEAD and the branch, git's operation files."""
    tree: dict[str, Any] = {}
    for top, dirs, files in os.walk(root):
        rel_top = os.path.relpath(top, root)
        dirs[:] = [d for d in dirs if not (rel_top == "." and d in (".git", ".agentic"))]
        for name in dirs + files:
            path = os.path.join(top, name)
            rel = os.path.normpath(os.path.join(rel_top, name))
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                tree[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                tree[rel] = ("dir", stat.S_IMODE(info.st_mode))
            else:
                tree[rel] = ("file", stat.S_IMODE(info.st_mode), Path(path).read_bytes())
    gitdir = root / ".git"
    ops = sorted(n for n in ("ORIG_HEAD", "CHERRY_PICK_HEAD", "MERGE_HEAD", "index.lock", "sequencer")
                 if (gitdir / n).exists())  # fmt: skip
    return {"tree": tree, "index": (gitdir / "index").read_bytes(), "head": git(["rev-parse", "HEAD"], root),
            "branch": git(["symbolic-ref", "-q", "HEAD"], root), "ops": ops}  # fmt: skip


def _refused(root: Path, commit: str, base: str, *expect: str) -> str:
    before = _state(root)
    with pytest.raises(WorkspaceError) as caught:
        apply_commit(root, commit, base)
    text = caught.value.message
    for needle in expect:
        assert needle in text, text
    assert _state(root) == before, "a refused apply changed the checkout"
    assert not (root / ".agentic" / APPLY_MARKER).exists()
    return text


# -- overwriting or deleting what git does not track ------------------------------------------------


def test_an_ignored_file_is_not_overwritten(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "notes.log").write_text("the person's notes\n")
    commit, base = _commit(root, {"notes.log": "agent\n", "ok.txt": "x\n"})
    text = _refused(root, commit, base, "notes.log", "ignored files included")
    assert "ok.txt" not in text


def test_a_file_ignored_through_info_exclude_is_not_overwritten(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / ".git" / "info" / "exclude").write_text("secret.env\n")
    (root / "secret.env").write_text("TOKEN=mine\n")
    commit, base = _commit(root, {"secret.env": "TOKEN=agent\n"})
    _refused(root, commit, base, "secret.env")


def test_an_untracked_file_is_not_overwritten(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "draft.py").write_text("work in progress\n")
    commit, base = _commit(root, {"draft.py": "print('agent')\n"})
    _refused(root, commit, base, "draft.py")


def test_an_untracked_file_where_the_change_needs_a_directory(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "data").write_text("a file of the person's\n")
    commit, base = _commit(root, {"data/new.txt": "x\n"})
    _refused(root, commit, base, "data (the change needs a directory there)")


def test_an_ignored_directory_where_the_change_puts_a_file(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "cache").mkdir()
    (root / "cache" / "big.bin").write_bytes(b"\0" * 100)
    commit, base = _commit(root, {"cache": "now a file\n"})
    _refused(root, commit, base, "cache/ (an untracked directory: cache/big.bin)")


def test_an_empty_untracked_directory_where_the_change_puts_a_file(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "mount").mkdir()
    commit, base = _commit(root, {"mount": "file\n"})
    _refused(root, commit, base, "mount/")


def test_an_untracked_symlink_to_elsewhere_is_not_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = _repo(tmp_path)
    (root / "out").symlink_to(outside)
    commit, base = _commit(root, {"out/planted.sh": "rm -rf ~\n"})
    _refused(root, commit, base, "out (the change needs a directory there)")
    assert list(outside.iterdir()) == []


def test_a_dangling_untracked_symlink_is_not_replaced(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "current").symlink_to("releases/v2")
    commit, base = _commit(root, {"current": "x\n"})
    _refused(root, commit, base, "current")


def test_an_ignored_file_deep_below_a_new_directory(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "build" / "gen").mkdir(parents=True)
    (root / "build" / "gen" / "out.log").write_text("hours of work\n")
    commit, base = _commit(root, {"build/gen/out.log": "", "build/gen/other.txt": "x\n"})
    _refused(root, commit, base, "build/gen/out.log")


def test_every_colliding_path_is_listed(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    for name in ("a.log", "b.log", "c.txt"):
        (root / name).write_text("mine\n")
    commit, base = _commit(root, {"a.log": "1", "b.log": "2", "c.txt": "3", "d.txt": "4"})
    text = _refused(root, commit, base, "3 path(s)")
    assert all(name in text for name in ("a.log", "b.log", "c.txt")) and "d.txt" not in text


def test_a_collision_is_refused_in_the_cherry_pick_case_too(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    commit, base = _commit(root, {"notes.log": "agent\n"})
    (root / "other.txt").write_text("moved on\n")
    git(["add", "other.txt"], root)
    git(["commit", "-qm", "meanwhile"], root)
    (root / "notes.log").write_text("mine\n")
    _refused(root, commit, base, "notes.log")


def test_the_change_cannot_touch_agentics_state(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    commit, base = _commit(root, {".agentic/agentic.db": "forged\n"})
    _refused(root, commit, base, ".agentic/agentic.db")


def test_assume_unchanged_local_edits_are_not_overwritten(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"settings.ini": "shared\n"})
    git(["update-index", "--assume-unchanged", "settings.ini"], root)
    (root / "settings.ini").write_text("my local password\n")
    commit, base = _commit(root, {"settings.ini": "agent\n"})
    _refused(root, commit, base, "settings.ini", "assume-unchanged")


def test_skip_worktree_local_edits_are_not_overwritten(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"local.cfg": "shared\n"})
    git(["update-index", "--skip-worktree", "local.cfg"], root)
    (root / "local.cfg").write_text("mine\n")
    commit, base = _commit(root, {"local.cfg": "agent\n"})
    _refused(root, commit, base, "local.cfg", "skip-worktree")


# -- a dirty, busy or conflicting checkout -----------------------------------------------------------


def test_a_dirty_tracked_file_is_refused_untouched(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "README.md").write_text("unsaved edit\n")
    commit, base = _commit(root, {"x.txt": "x\n"})
    _refused(root, commit, base, "uncommitted changes")


def test_a_staged_change_is_refused_untouched(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "staged.txt").write_text("staged\n")
    git(["add", "staged.txt"], root)
    commit, base = _commit(root, {"x.txt": "x\n"})
    _refused(root, commit, base, "uncommitted changes")


def test_a_merge_in_progress_is_refused_untouched(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    commit, base = _commit(root, {"x.txt": "x\n"})
    (root / ".git" / "MERGE_HEAD").write_text(base + "\n")
    _refused(root, commit, base, "MERGE_HEAD")


@pytest.mark.parametrize("where", ["plain", "line\nbreak"])
@pytest.mark.parametrize("name", ["CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge", "sequencer", "index.lock"])
def test_every_operation_in_progress_is_refused_untouched(tmp_path: Path, name: str, where: str) -> None:
    """Each of git's in-progress markers is found (asked of one git process; one per marker when the
    git dir's path holds a line break)."""
    (tmp_path / where).mkdir()
    root = _repo(tmp_path / where)
    commit, base = _commit(root, {"x.txt": "x\n"})
    marker = root / ".git" / name
    marker.mkdir() if name in ("rebase-merge", "sequencer") else marker.write_text(base + "\n")
    _refused(root, commit, base, name)


def test_a_conflict_leaves_the_checkout_exactly_as_it_was(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    commit, base = _commit(root, {"README.md": "the agent's\n"})
    (root / "README.md").write_text("the person's\n")
    git(["commit", "-qam", "meanwhile"], root)
    (root / "notes.log").write_text("ignored, kept\n")
    _refused(root, commit, base, "does not apply cleanly")
    assert not list((root / ".agentic" / "checkouts").iterdir())
    assert "apply-" not in git(["worktree", "list"], root)


def test_a_concurrent_apply_is_refused(tmp_path: Path) -> None:
    import fcntl

    root = _repo(tmp_path)
    commit, base = _commit(root, {"x.txt": "x\n"})
    (root / ".agentic").mkdir()
    with open(root / ".agentic" / "apply.lock", "a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        _refused(root, commit, base, "another `agentic apply`")


# -- what may happen, happens whole --------------------------------------------------------------------


def test_untracked_and_ignored_files_elsewhere_survive_byte_for_byte(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"old/gone.txt": "bye\n", "swap": "file that becomes a directory\n"})
    (root / "cache").mkdir()
    (root / "cache" / "keep.bin").write_bytes(os.urandom(64))
    (root / "draft.txt").write_text("mine\n")
    (root / "src").mkdir()
    (root / "src" / "mine.log").write_text("ignored, next to the change\n")
    before = _state(root)["tree"]
    commit, base = _commit(root, {"src/new.py": "x = 1\n", "old/gone.txt": None, "swap": None, "swap/in.txt": "d\n"})
    assert apply_commit(root, commit, base) == commit
    after = _state(root)["tree"]
    for rel in ("cache", "cache/keep.bin", "draft.txt", "src/mine.log"):
        assert after[rel] == before[rel]
    assert after["src/new.py"][2] == b"x = 1\n" and after["swap/in.txt"][2] == b"d\n"
    assert "old/gone.txt" not in after and git(["status", "--porcelain"], root) == "?? draft.txt\n"


def test_an_error_in_the_middle_restores_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agentic.workspace import apply as workspace

    root = _repo(tmp_path, {"a.txt": "a\n", "dir/b.txt": "b\n"})
    (root / "keep.log").write_text("mine\n")
    commit, base = _commit(root, {"a.txt": "A\n", "dir/b.txt": None, "dir": "now a file\n", "n/e/w.txt": "w\n"})
    before = _state(root)
    real = workspace.git

    def failing(args: list[str], cwd: Path, **kwargs: Any) -> str:
        if args[0] == "update-ref" and "HEAD" in args:
            raise WorkspaceError("simulated failure after the files were switched")
        return real(args, cwd, **kwargs)

    monkeypatch.setattr(workspace, "git", failing)
    with pytest.raises(WorkspaceError, match="simulated"):
        apply_commit(root, commit, base)
    assert _state(root) == before


KILLER = """
import os, signal, sys, time
from pathlib import Path
from agentic.workspace import apply as workspace
root, commit, base, when = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def killing(real):
    def git(args, cwd, **kwargs):
        if when == "before " + args[0]:
            os.kill(os.getpid(), signal.SIGKILL)
        out = real(args, cwd, **kwargs)
        if when == "after " + args[0]:
            os.kill(os.getpid(), signal.SIGKILL)
        return out
    return git
workspace.git, workspace._tied_git = killing(workspace.git), killing(workspace._tied_git)
print("applying", flush=True)
started = time.monotonic()
workspace.apply_commit(root, commit, base)
print("applied", time.monotonic() - started, flush=True)
"""


def _kill_at(root: Path, commit: str, base: str, when: str) -> int:
    done = subprocess.run([sys.executable, "-c", KILLER, str(root), commit, base, when], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    return done.returncode


@pytest.mark.parametrize("when", ["before read-tree", "after read-tree", "before update-ref", "after update-ref"])
def test_a_kill_at_each_point_is_recovered(tmp_path: Path, when: str) -> None:
    root = _repo(tmp_path, {"a.txt": "a\n", "dir/b.txt": "b\n"})
    (root / "keep.log").write_text("mine\n")
    commit, base = _commit(root, {"a.txt": "A\n", "dir/b.txt": None, "dir": "file\n", "n/e/w.txt": "w\n"})
    before = _state(root)
    assert _kill_at(root, commit, base, when) == -signal.SIGKILL
    assert (root / ".agentic" / APPLY_MARKER).exists()
    assert recover_apply(root) is not None
    after = _state(root)
    if when == "after update-ref":
        assert after["head"] == commit + "\n" and after["tree"]["keep.log"] == before["tree"]["keep.log"]
    else:
        assert after == before
    assert apply_commit(root, commit, base) == commit  # done, or done now (an ancestor of HEAD: nothing to do)


def test_the_next_apply_recovers_a_killed_one_then_applies(tmp_path: Path) -> None:
    root = _repo(tmp_path, {"a.txt": "a\n"})
    (root / "keep.log").write_text("mine\n")
    commit, base = _commit(root, {"a.txt": "A\n", "b.txt": "b\n"})
    assert _kill_at(root, commit, base, "after read-tree") == -signal.SIGKILL
    assert apply_commit(root, commit, base) == commit
    assert (root / "a.txt").read_text() == "A\n" and (root / "keep.log").read_text() == "mine\n"
    assert git(["status", "--porcelain"], root) == "" and not (root / ".agentic" / APPLY_MARKER).exists()


@pytest.mark.slow
@pytest.mark.proof
def test_kills_at_random_moments_leave_the_old_or_the_new_checkout(tmp_path: Path) -> None:
    """SIGKILL a large apply at random moments within it: after recovery, the checkout is exactly the
    old one or exactly the new one, never a mix, and the person's ignored files are intact. The
    moments are drawn from the time an apply takes on this machine, measured first."""
    files = {f"pkg/m{i:04d}.py": f"value = {i}\n" for i in range(800)}
    root = _repo(tmp_path, files)
    (root / "pkg" / "cache.log").write_text("mine\n")
    commit, base = _commit(root, {**{k: v + "# changed\n" for k, v in files.items()},
                                  **{f"new/n{i:04d}.txt": "n\n" for i in range(300)}})  # fmt: skip
    old = _state(root)

    def start() -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-c", KILLER, str(root), commit, base, "never"], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
        assert proc.stdout is not None and proc.stdout.readline() == "applying\n"
        return proc

    def back_to_base() -> dict[str, Any]:
        git(["update-ref", "HEAD", base], root)
        git(["read-tree", "-m", "-u", commit, base], root)
        return _state(root)

    calibration = start()
    took = float(calibration.communicate()[0].split()[-1])  # the apply alone, without the start-up
    old = back_to_base()
    rng = random.Random(14)
    outcomes, cut = set(), 0
    for _ in range(5):
        proc = start()
        time.sleep(rng.uniform(0.0, took))
        proc.send_signal(signal.SIGKILL)
        cut += "applied" not in proc.communicate()[0]
        if _state(root)["tree"] != old["tree"] and proc.returncode != 0:
            outcomes.add("cut mid-switch")
        recover_apply(root)
        now = _state(root)
        if now["head"] == commit + "\n":
            assert git(["status", "--porcelain"], root) == ""
            assert now["tree"]["pkg/cache.log"] == old["tree"]["pkg/cache.log"]
            outcomes.add("new")
            old = back_to_base()  # for the next kill
            continue
        assert now == old
        outcomes.add("old")
    assert outcomes & {"old", "new"}, outcomes
    assert cut, f"no kill fell inside the apply ({took:.2f} s)"
    print("outcomes", outcomes, "cut", cut)


# -- end to end: a real run, the real CLI ----------------------------------------------------------------


def test_apply_refuses_a_run_that_would_overwrite_an_untracked_file(tmp_path: Path) -> None:
    """A file the person keeps out of git (their own local settings, made after the run started, or
    ignored only by their global excludes, which the harness's git does not read) and that the run
    also creates."""
    repo = make_repo(tmp_path / "repo")
    write_file = {"name": "write_file", "arguments": {"path": "local_settings.py", "content": "DEBUG = True\n"}}
    script = write_script(tmp_path / "t.yaml", [{"tool_calls": [FIX, write_file]}, {"tool_calls": [FINISH]}])
    done = cli("run", "fix", "--model", f"script:{script}", "--json", cwd=repo)
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["status"] == "accepted", done.stderr
    (repo / "local_settings.py").write_text("SECRET_KEY = 'the person\\'s'\n")
    before = _state(repo)
    refused = cli("apply", summary["run_id"], cwd=repo)
    assert refused.returncode == 1
    assert "local_settings.py" in refused.stderr and "nothing was changed" in refused.stderr
    assert _state(repo) == before
