"""Real repository content never crashes a run, a resume, the gate or apply (issue 13, point 3).

The repository here carries what real projects carry: `working-tree-encoding` attributes (one
whose bytes are not in the declared encoding, as sphinx ships on purpose), a filter driver in its
config (which must never start on the host), an LFS pointer file, a file name that is not UTF-8,
a very deep tree and a symbolic link; the agent adds a FIFO and a file name that is not UTF-8.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from agentic.gate import hook
from agentic.git import staging
from agentic.git.cmd import git
from agentic.workspace import Workspace, ensure_excluded
from tests import inproc
from tests.conftest import CONTRACT, FINISH, FIX, cli, make_repo

LATIN1_NAME = os.fsdecode(b"caf\xe9.txt")  # not UTF-8: surrogate-escaped, as os.listdir gives it
NEW_NAME = os.fsdecode(b"na\xefve.txt")
POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 12345\n"
DEEP = "/".join(f"{i:02d}-" + "d" * 90 for i in range(40))  # 3,800 characters, 40 levels
OPEN = {**CONTRACT, "tools": {**CONTRACT["tools"], "run_command": {"allow": ["*"], "timeout_s": 30}}}


def person_git(root: Path, *args: str) -> None:
    """git as the person runs it (their config, their filters)."""
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def hostile_repo(root: Path, marker: Path) -> Path:
    make_repo(root, OPEN)
    (root / "policies" / "contract.yaml").write_text(yaml.safe_dump(OPEN, sort_keys=False), encoding="utf-8")
    (root / "wrongenc.inc").write_bytes(b"caf\xe9 au lait\n")  # latin-1 bytes, an encoding iconv lacks
    (root / "utf16.txt").write_bytes("h\u00e9llo\n".encode())
    (root / "blob.bin").write_bytes(b"\x00\x01 stored as is\n")
    (root / "model.dat").write_text(POINTER, encoding="utf-8")
    with open(os.fsencode(root / LATIN1_NAME), "wb") as fh:
        fh.write(b"named in latin-1\n")
    (root / DEEP).mkdir(parents=True)
    (root / DEEP / "leaf.txt").write_text("deep\n", encoding="utf-8")
    os.symlink("calc.py", root / "calc_link.py")
    person_git(root, "add", "--all")
    person_git(root, "commit", "--quiet", "-m", "real content")
    (root / ".gitattributes").write_text(  # attributes added later, as sphinx's history did
        "wrongenc.inc working-tree-encoding=iso-8859\n"
        "utf16.txt working-tree-encoding=UTF-16\n"
        "*.bin filter=spy\n"
        "*.dat filter=lfs diff=lfs merge=lfs -text\n",
        encoding="utf-8",
    )
    person_git(root, "add", ".gitattributes")
    person_git(root, "commit", "--quiet", "-m", "attributes")
    spy = f"sh -c 'touch {marker}; cat'"
    for key in ("clean", "smudge"):
        person_git(root, "config", f"filter.spy.{key}", spy)
        person_git(root, "config", f"filter.lfs.{key}", spy)
    person_git(root, "config", "filter.spy.required", "true")
    return root


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "filter-ran"
    return hostile_repo(tmp_path / "repo", marker), marker


def committed_files(repo: Path, commit: str) -> set[str]:
    out = git(["diff-tree", "--no-commit-id", "--name-only", "-r", "-z", f"{commit}^", commit], repo)
    return {p for p in out.split("\0") if p}


def test_a_run_on_hostile_content_commits_only_the_change(hostile: tuple[Path, Path]) -> None:
    repo, marker = hostile
    make_files = {"name": "run_command", "arguments": {"command": (
        "mkfifo pipe && python - <<'PY'\nopen(b'na\\xefve.txt', 'wb').write(b'x')\nPY\n"
        f"ls {DEEP}/leaf.txt && cat calc_link.py | head -1"
    )}}  # fmt: skip
    outcome = inproc.run(
        repo, [{"tool_calls": [make_files]}, {"tool_calls": [FIX]}, {"tool_calls": [FINISH]}]
    )
    assert outcome.status == "accepted", outcome.reason
    assert committed_files(repo, outcome.commit or "") == {"calc.py", NEW_NAME}
    assert not marker.exists(), "a filter driver ran on the host"
    assert "pipe" not in git(
        ["ls-tree", "-r", "--name-only", outcome.commit or ""], repo
    )  # a FIFO is no file

    for command in (["show", outcome.run_id], ["audit", outcome.run_id]):
        done = cli(*command, cwd=repo)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
    done = cli("apply", outcome.run_id, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert (repo / NEW_NAME).read_bytes() == b"x"
    assert (repo / "wrongenc.inc").read_bytes() == b"caf\xe9 au lait\n"
    done = cli("gate", cwd=repo)  # the gate on the person's applied checkout
    assert done.returncode == 0, done.stdout + done.stderr
    assert not marker.exists(), "a filter driver ran on the host"


def test_the_gate_judges_a_working_tree_whose_encoded_files_git_must_read_again(
    hostile: tuple[Path, Path], tmp_path: Path
) -> None:  # fmt: skip
    """`agentic gate` on the person's checkout once git must read again the files whose bytes are not in
    their `working-tree-encoding` (touched by an editor's save, or checked out in the second the index
    was written, as a fresh CI clone is): `git add` dies on them; the gate stages them as a run's
    snapshot does, finds them unchanged and gives its verdict (the repository's tests fail: exit 1)."""
    repo, marker = hostile
    later = time.time() + 5
    for name in ("utf16.txt", "wrongenc.inc"):
        os.utime(repo / name, (later, later))
    report = tmp_path / "gate.json"
    done = cli("gate", "--json", str(report), cwd=repo)
    assert done.returncode == 1, done.stdout + done.stderr
    result = json.loads(report.read_text(encoding="utf-8"))
    assert result["changes"] == [] and not result["passed"]
    assert [c["id"] for c in result["checks"] if not c["passed"]] == ["tests-pass"]
    assert not marker.exists(), "a filter driver ran on the host"


def test_snapshots_keep_encoded_files_as_checked_out_and_store_what_cannot_convert(
    hostile: tuple[Path, Path],
) -> None:
    repo, marker = hostile
    head = git(["rev-parse", "HEAD"], repo).strip()
    ws = Workspace(repo, "enc", head)
    ws.create()
    try:
        assert (ws.path / "model.dat").read_text(encoding="utf-8") == POINTER  # never smudged
        first = ws.snapshot()
        assert first.changes == [] and first.tree == git(["rev-parse", "HEAD^{tree}"], repo).strip()
        (ws.path / "utf16.txt").write_bytes("h\u00e9llo, world\n".encode("utf-16"))
        (ws.path / "wrongenc.inc").write_bytes(b"d\xe9j\xe0 vu\n")
        second = ws.snapshot()
        assert sorted(p for _, p in second.changes) == ["utf16.txt", "wrongenc.inc"]
        stored = git(["cat-file", "-p", f"{second.tree}:utf16.txt"], repo)
        assert stored == "h\u00e9llo, world\n"  # converted to UTF-8 as git stores it
        raw = subprocess.run(["git", "cat-file", "-p", f"{second.tree}:wrongenc.inc"], cwd=repo,
                             capture_output=True, check=True).stdout  # fmt: skip
        assert raw == b"d\xe9j\xe0 vu\n"  # cannot convert: stored as written
        ws.restore(first.tree)
        assert ws.snapshot().changes == []
        assert (ws.path / "wrongenc.inc").read_bytes() == b"caf\xe9 au lait\n"
    finally:
        ws.remove(keep_branch=False)
    assert not marker.exists(), "a filter driver ran on the host"


def test_resume_after_a_crash_on_hostile_content(hostile: tuple[Path, Path], tmp_path: Path) -> None:
    repo, marker = hostile
    script = tmp_path / "turns.yaml"
    script.write_text(yaml.safe_dump([{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}]), encoding="utf-8")
    hook = Path(__file__).parents[1] / "crashhook.py"
    done = subprocess.run(
        [sys.executable, str(hook), "run", "fix", "--model", f"script:{script}", "--json"], cwd=repo,
        env={**os.environ, "AGENTIC_CRASH_AFTER": "6"}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0, done.stdout
    runs = sorted((repo / ".agentic" / "runs").iterdir())
    assert runs, done.stderr
    resumed = cli("resume", runs[-1].name, "--json", cwd=repo)
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr
    assert not marker.exists()


def _same_second_edit(path: Path, index: Path) -> bool:
    """Rewrite `path` with bytes of the same size; whether that landed in the second the index was
    written (git then cannot tell the file changed from its stat data: only an index no newer than
    the entry makes it look at the content). If it did, wait for the next second, as a gate or a
    snapshot a little later would."""
    path.write_text(path.read_text().replace("len(values) - 1", "len(values) - 2"))
    second = int(index.stat().st_mtime)
    if int(path.stat().st_ctime) != second:
        return False
    while int(time.time()) <= second:
        time.sleep(0.02)
    return True


def test_an_edit_in_the_second_of_the_checkout_is_seen_by_the_gate_and_by_a_snapshot(tmp_path: Path) -> None:
    """Racy git: a same-size edit in the second the index was written looks unchanged by its stat data;
    git looks at the content only while the index is no newer than the entry. The gate and the run's
    snapshots stage in a copy of an index: a copy made now hid the edit (`agentic gate`: 0 files
    changed, 3 times in 12 quick edits). The copy keeps the index's time."""
    for attempt in range(20):  # until an edit lands in the index's second (nearly always the first)
        root = make_repo(tmp_path / f"gate-{attempt}")
        if _same_second_edit(root / "calc.py", root / ".git" / "index"):
            break
    else:
        pytest.skip("no edit landed in the index's second")
    ensure_excluded(root)  # as `agentic gate` prepares the repository
    (root / ".agentic").mkdir()
    tree, _ = hook.working_tree(hook.locate(root))
    assert git(["diff-tree", "-r", "--name-only", "HEAD", tree], root).split() == ["calc.py"]

    repo = make_repo(tmp_path / "run")
    head = git(["rev-parse", "HEAD"], repo).strip()
    for attempt in range(20):
        ws = Workspace(repo, f"racy-{attempt}", head)
        ws.create()
        try:
            if _same_second_edit(ws.path / "calc.py", ws.git_dir / "index"):
                assert [p for _, p in ws.snapshot().changes] == ["calc.py"]
                return
        finally:
            ws.remove(keep_branch=False)
    pytest.skip("no edit landed in the worktree index's second")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file: nothing is unreadable to it")
def test_an_unreadable_file_is_left_out_and_said(repo: Path) -> None:
    head = git(["rev-parse", "HEAD"], repo).strip()
    ws = Workspace(repo, "unreadable", head)
    ws.create()
    try:
        (ws.path / "notes.txt").write_text("private\n", encoding="utf-8")
        (ws.path / "notes.txt").chmod(0)
        (ws.path / "calc.py").write_text("x = 1\n", encoding="utf-8")
        snap = ws.snapshot()
        assert [p for _, p in snap.changes] == ["calc.py"]
        assert [(s.path, s.why) for s in snap.skipped] == [("notes.txt", "not readable (permission denied)")]
    finally:
        (ws.path / "notes.txt").chmod(0o644)
        ws.remove(keep_branch=False)


def test_a_repository_made_inside_the_worktree_is_left_out_and_said(repo: Path, tmp_path: Path) -> None:
    """A clone or `git init` inside the worktree (a model fetching a library to read it): git never
    looks inside, so its files are not part of the change, and the snapshot and the gate say so."""
    head = git(["rev-parse", "HEAD"], repo).strip()
    ws = Workspace(repo, "nested", head)
    ws.create()
    try:
        for where in (ws.path, repo):  # the run's worktree, and the person's checkout for `agentic gate`
            nested = where / "vendor" / "other"
            nested.mkdir(parents=True)
            subprocess.run(["git", "init", "-q", str(nested)], check=True)
            (nested / "lib.py").write_text("VALUE = 1\n", encoding="utf-8")
            (where / "notes.md").write_text("read vendor/other\n", encoding="utf-8")
        snap = ws.snapshot()
        assert [p for _, p in snap.changes] == ["notes.md"]
        assert [(s.path, s.why) for s in snap.skipped] == [("vendor/other", staging.NESTED)]
    finally:
        ws.remove(keep_branch=False)
    report = tmp_path / "gate.json"
    done = cli("gate", "--json", str(report), cwd=repo)
    result = json.loads(report.read_text(encoding="utf-8"))
    assert [c["path"] for c in result["changes"]] == ["notes.md"], done.stdout + done.stderr
    assert f"vendor/other: {staging.NESTED}" in "\n".join(result["notes"]), result


def with_submodule(tmp_path: Path) -> tuple[Path, str]:
    """A repository whose `vendor/lib` is a submodule, initialised in the person's clone."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "helper.py").write_text("VALUE = 41\n", encoding="utf-8")
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "."],
        ["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-qm", "lib"],
    ):
        person_git(lib, *args)
    repo = make_repo(tmp_path / "repo", OPEN)
    person_git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "vendor/lib")
    person_git(repo, "commit", "-qm", "vendor lib")
    return repo, git(["rev-parse", "HEAD:vendor/lib"], repo).strip()


def test_submodules_are_checked_out_read_only_and_never_committed(tmp_path: Path) -> None:
    repo, _ = with_submodule(tmp_path)
    probe = {
        "name": "run_command",
        "arguments": {
            "command": (
                "cat vendor/lib/helper.py; python - <<'PY'\nopen('vendor/lib/helper.py', 'w').write('VALUE = 0')\nPY\n"
            )
        },
    }
    write = {"name": "write_file", "arguments": {"path": "vendor/lib/helper.py", "content": "VALUE = 1\n"}}
    outcome = inproc.run(repo, [{"tool_calls": [probe]}, {"tool_calls": [write]}, {"tool_calls": [FIX]},
                                {"tool_calls": [FINISH]}])  # fmt: skip
    assert outcome.status == "accepted", outcome.reason
    shown, written = inproc.tool_results(outcome)[:2]
    assert "VALUE = 41" in shown["content"]  # the files are there, at the recorded commit
    assert "Read-only file system" in shown["content"]  # and commands cannot change them
    assert written["is_error"] and "protected" in written["content"]
    assert committed_files(repo, outcome.commit or "") == {"calc.py"}


def test_a_submodule_the_clone_lacks_refuses_the_run_at_start(tmp_path: Path) -> None:
    repo, _ = with_submodule(tmp_path)
    person_git(repo, "submodule", "deinit", "-q", "-f", "vendor/lib")
    subprocess.run(["rm", "-rf", str(repo / ".git" / "modules")], check=True)
    script = tmp_path / "turns.yaml"
    script.write_text(yaml.safe_dump([{"tool_calls": [FINISH]}]), encoding="utf-8")
    done = cli("run", "fix", "--model", f"script:{script}", cwd=repo)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "vendor/lib" in done.stderr and "git submodule update --init vendor/lib" in done.stderr
    assert "Traceback" not in done.stderr
    assert (
        not list((repo / ".agentic" / "worktrees").glob("*"))
        if (repo / ".agentic" / "worktrees").exists()
        else True
    )


def test_a_tracked_directory_replaced_by_a_link_or_a_file_is_a_change_not_a_crash(repo: Path) -> None:
    head = git(["rev-parse", "HEAD"], repo).strip()
    ws = Workspace(repo, "relinked", head)
    ws.create()
    try:
        for make in (lambda p: os.symlink("/tmp", p), lambda p: p.write_text("now a file\n")):
            if (ws.path / "tests").is_symlink() or (ws.path / "tests").is_file():
                (ws.path / "tests").unlink()
            else:
                shutil.rmtree(ws.path / "tests")
            make(ws.path / "tests")
            assert sorted(ws.snapshot().changes) == [("A", "tests"), ("D", "tests/__init__.py"),
                                                     ("D", "tests/test_calc.py")]  # fmt: skip
    finally:
        ws.remove(keep_branch=False)
