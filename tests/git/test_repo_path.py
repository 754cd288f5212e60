"""The sandbox shows the run's worktree at the repository's own path: editable installs, `.pth` files
and absolute paths in configuration resolve to the run's code, never to the person's checkout, which
stays hidden beneath it (issue 13, point 1). The checkout's own virtual environment stays visible."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from agentic.git.cmd import git
from tests.conftest import CONTRACT, FINISH, FIX, make_repo, write
from tests.inproc import run, tool_results
from tests.policy.test_shell_runs import DEFAULT


def editable_repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo")
    write(repo / "src" / "pkg" / "__init__.py", 'VALUE = "base"\n')
    write(repo / "pyproject.toml", """\
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "pkg"
        version = "0"

        [tool.setuptools.packages.find]
        where = ["src"]
        """)
    write(repo / "settings.cfg", f"data = {os.path.realpath(repo)}/data.txt\n")  # an absolute path to the checkout
    write(repo / "data.txt", "from the base\n")
    write(repo / ".gitignore", ".venv/\n")
    git(["add", "--all"], repo)
    git(["commit", "--quiet", "-m", "a src layout"], repo)
    venv = repo / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    # an editable install as setuptools makes one for a src layout: a .pth naming the checkout's src/
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    (site / "__editable__.pkg-0.pth").write_text(f"{os.path.realpath(repo)}/src\n")
    (repo / "untracked-note.txt").write_text("only in the person's checkout\n")
    return repo


def test_an_editable_install_imports_the_runs_code_at_the_repositorys_path(tmp_path: Path) -> None:
    repo = editable_repo(tmp_path)
    change = {"name": "edit_file", "arguments": {"path": "src/pkg/__init__.py", "old_text": '"base"',
                                                 "new_text": '"the run"'}}  # fmt: skip
    data = {"name": "write_file", "arguments": {"path": "data.txt", "content": "from the run\n"}}
    show = {"name": "run_command", "arguments": {"command": (
        'pwd; .venv/bin/python -c "import pkg; print(pkg.VALUE, pkg.__file__)"; '
        'cat "$(sed -n "s/^data = //p" settings.cfg)"; cat untracked-note.txt 2>&1 | head -1')}}  # fmt: skip
    outcome = run(repo, [{"tool_calls": [change, data]}, {"tool_calls": [show]}, {"tool_calls": [FIX]},
                         {"tool_calls": [FINISH]}], contract=DEFAULT)  # fmt: skip
    assert outcome.status == "accepted", outcome.reason
    output = tool_results(outcome)[2]["content"].splitlines()
    root = os.path.realpath(repo)
    assert output[1] == root
    assert output[2] == f"the run {root}/src/pkg/__init__.py"  # the run's code, at the repository's path
    assert output[3] == "from the run"  # an absolute path to the checkout reads the run's file
    assert "No such file" in output[4]  # the person's untracked files stay out of sight
    assert (repo / "src" / "pkg" / "__init__.py").read_text() == 'VALUE = "base"\n'  # the checkout untouched


def person(root: Path, *args: str) -> str:
    """git as the person runs it."""
    done = subprocess.run(["git", "-c", "protocol.file.allow=always", *args], cwd=root, check=True,
                          capture_output=True, text=True)  # fmt: skip
    return done.stdout


def personal_state(repo: Path) -> None:
    """What git must never show a run: a credential in the config, a stash, another branch."""
    person(repo, "config", "credential.helper", "store --file /somewhere/credentials")
    person(repo, "branch", "person-only")
    (repo / "calc.py").write_text((repo / "calc.py").read_text() + "# work in progress\n")
    person(repo, "stash", "--quiet")


OPEN = {**CONTRACT, "tools": {**CONTRACT["tools"], "run_command": {"allow": ["*"], "timeout_s": 30}}}


def layout(kind: str, base: Path) -> tuple[Path, list[Path]]:
    """The person's working tree in one of git's layouts, and paths the sandbox must not show."""
    if kind == "separate-git-dir":
        repo = make_repo(base / "repo", OPEN)
        person(repo, "init", "--quiet", f"--separate-git-dir={base / 'store.git'}")
        return repo, [base / "store.git"]
    if kind == "linked-worktree":
        main = make_repo(base / "main", OPEN)
        person(main, "worktree", "add", "--quiet", "-b", "work", str(base / "work"))
        return base / "work", [main / ".git", main / "calc.py"]
    if kind == "submodule":
        origin = make_repo(base / "origin", OPEN)
        top = base / "super"
        top.mkdir()
        (top / "secret.txt").write_text("the superproject's own file\n")
        person(top, "init", "--quiet")
        person(top, "submodule", "add", "--quiet", str(origin), "sub")
        for key, value in (("user.name", "P"), ("user.email", "p@example.invalid")):
            person(top / "sub", "config", key, value)
        return top / "sub", [top / "secret.txt", top / ".git"]
    repo = make_repo(base / "repo", OPEN)
    return repo, [repo / ".git" / "config", repo / ".git" / "index"]


@pytest.mark.parametrize("kind", [".git-directory", "separate-git-dir", "linked-worktree", "submodule"])
def test_git_in_the_sandbox_sees_the_runs_branch_and_nothing_of_the_persons(kind: str) -> None:
    base = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="agentic-layout-"))  # outside the sandbox's private /tmp
    try:
        repo, unseen = layout(kind, base)
        personal_state(repo)
        probe = "; ".join([
            "pwd", "git rev-parse --abbrev-ref HEAD", "git for-each-ref refs/heads refs/tags refs/stash | wc -l", "git stash list | wc -l",
            "git worktree list | wc -l", "git cat-file --batch-all-objects --batch-check | grep -c commit", "grep -qs credential \"$(git rev-parse --git-common-dir)/config\" && echo CREDENTIAL || echo no-credential",
            "git status --short", "git log --oneline | wc -l",
            *(f"test -e {p} && echo VISIBLE {p} || echo hidden" for p in unseen),
        ])  # fmt: skip
        outcome = run(repo, [{"tool_calls": [FIX]}, {"tool_calls": [{"name": "run_command", "arguments": {"command": probe}}]},
                             {"tool_calls": [FINISH]}])  # fmt: skip
        assert outcome.status == "accepted", outcome.reason
        lines = tool_results(outcome)[1]["content"].splitlines()[1:]
        history = person(repo, "rev-list", "--count", "HEAD").strip()
        assert lines[:9] == [os.path.realpath(repo), f"agentic/{outcome.run_id}", "1", "0", "1",
                             history,  # every object there is, and not one commit of the stash among them
                             "no-credential", " M calc.py", history], lines  # fmt: skip
        assert lines[9:9 + len(unseen)] == ["hidden"] * len(unseen), lines
        assert person(repo, "stash", "list").strip()  # the person's stash is still theirs
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_the_views_object_store_holds_what_its_tips_reach_and_stays_few_packs(tmp_path: Path) -> None:
    from agentic.git.view import MAX_PACKS, object_store

    repo = make_repo(tmp_path / "repo")
    common, store = repo / ".git", tmp_path / "store"
    (repo / "calc.py").write_text("stashed work\n")
    person(repo, "stash", "--quiet")
    tips = []
    for n in range(MAX_PACKS + 3):
        tree = git(["rev-parse", "HEAD^{tree}"], repo).strip()
        parent = tips[-1] if tips else git(["rev-parse", "HEAD"], repo).strip()
        tips.append(git(["commit-tree", tree, "-p", parent, "-m", f"gate {n}"], repo).strip())
        assert object_store(common, store, [tips[-1]]) == store
    packs = list((store / "pack").glob("*.pack"))
    assert 1 <= len(packs) <= MAX_PACKS
    env = {**os.environ, "GIT_OBJECT_DIRECTORY": str(store)}

    def has(sha: str) -> bool:
        return subprocess.run(["git", "cat-file", "-e", sha], cwd=repo, env=env).returncode == 0

    assert all(has(t) for t in tips) and has(git(["rev-parse", "HEAD:calc.py"], repo).strip())
    assert not has(person(repo, "rev-parse", "refs/stash").strip())  # the person's stash is not there


def test_a_checkout_is_shown_at_another_working_tree_only_when_its_state_says_so_and_it_is_one(tmp_path: Path) -> None:
    """show_at/shown_at (an eval's clone of a local repository): the marker in the harness's .agentic/
    names another working tree, which may hold the checkout (an eval's --workdir inside the repository);
    anything else (no marker, a link, a relative path, a directory that is no working tree, the checkout
    itself or a directory in it) leaves the checkout where it is."""
    from agentic.git.view import SHOWN_AT, show_at, shown_at

    clone, other = make_repo(tmp_path / "clone"), make_repo(tmp_path / "other")
    where = os.path.realpath(clone)
    assert shown_at(where) == where
    show_at(clone, str(other))
    assert shown_at(where) == os.path.realpath(other)
    marker = clone / ".agentic" / SHOWN_AT
    inner = make_repo(other / "work" / "clone")
    show_at(inner, str(other))
    assert shown_at(os.path.realpath(inner)) == os.path.realpath(other)
    for named in ("relative/path", str(tmp_path / "missing"), str(tmp_path), where, str(clone / "tests"), "/"):
        marker.write_text(named + "\n")
        assert shown_at(where) == where, named
    (tmp_path / "plain").mkdir()
    marker.write_text(f"{tmp_path / 'plain'}\n")  # a directory, but no working tree
    assert shown_at(where) == where
    marker.unlink()
    (tmp_path / "elsewhere").write_text(f"{other}\n")
    marker.symlink_to(tmp_path / "elsewhere")
    assert shown_at(where) == where
