"""The sandbox: isolation, hidden host, seccomp, limits, links at mount targets, fallbacks.

Hostile cases 10, 11, 12, 14, 15, 18, 19, 20 and 27 (docs: /work/shared/hostile-cases.md).
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import agentic.sandbox as sandbox
from agentic.errors import SandboxUnavailable
from agentic.git.cmd import git as host_git
from agentic.sandbox import (
    BubblewrapSandbox,
    CommandResult,
    LandlockSandbox,
    UnsafeNoSandbox,
    command_env,
    landlock,
    probe,
    require_sandbox,
    sandbox_level,
    sandbox_user,
    seccomp,
    users,
)
from agentic.sandbox.hostview import host_view
from agentic.tools.commands import script_argv
from tests.conftest import CONTRACT, cli, commit_initial, make_repo, write

ROOT = os.geteuid() == 0


def uid_of(box: Any) -> int:
    """Who the sandbox's commands run as: a uid of the worktree's own when the harness is root."""
    return box.run_as[0] if box.run_as else os.geteuid()


def make_worktree(parent: Path) -> Path:
    worktree = parent / "wt"
    worktree.mkdir()
    (worktree / ".git").write_text("gitdir: /nowhere\n")
    return worktree


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory everyone may search, outside /tmp (which the sandbox replaces anyway).

    pytest's tmp_path is 0700 under root and lives in /tmp: hiding anything there proves nothing.
    """
    path = Path(tempfile.mkdtemp(prefix="agentic-test-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(params=[False, True], ids=["one-off", "persistent"])
def box(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[BubblewrapSandbox]:
    """Both kinds: a sandbox per command (gate checkouts) and one kept for the run (its worktree)."""
    sandbox = BubblewrapSandbox(make_worktree(tmp_path), persistent=request.param)
    yield sandbox
    sandbox.close()


def sh(box: sandbox.Sandbox, script: str, timeout: float = 20, cap: int = 60_000) -> CommandResult:
    return box.run(["sh", "-c", script], timeout_s=timeout, max_output_bytes=cap)


def py(box: sandbox.Sandbox, code: str, timeout: float = 20, python: str = sys.executable) -> CommandResult:
    return box.run([python, "-c", textwrap.dedent(code)], timeout_s=timeout)


def live_processes(uid: int) -> list[int]:
    """Pids of processes (zombies excepted) that belong to uid."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            status = Path("/proc", entry, "status").read_text()
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if int(fields["Uid"].split()[0]) == uid and not fields["State"].strip().startswith(("Z", "X")):
                pids.append(int(entry))
    return pids


def wait_until_gone(uid: int, before: set[int], timeout: float = 3.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in live_processes(uid) if p not in before]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


# --- the worktree, the environment, namespaces -------------------------------------------------


def test_worktree_writable_root_readonly_git_link_readonly(box: BubblewrapSandbox, tmp_path: Path) -> None:
    result = sh(box, "echo data > new.txt && cat new.txt; touch /usr/x 2>&1; echo hi >> .git 2>&1; "
                     f"touch {tmp_path}/outside 2>&1; true")  # fmt: skip
    assert result.ok
    assert (box.worktree / "new.txt").read_text() == "data\n"
    assert "touch: cannot touch '/usr/x': Read-only file system" in result.output
    assert (box.worktree / ".git").read_text() == "gitdir: /nowhere\n"
    assert not (tmp_path / "outside").exists()


def test_environment_is_an_allow_list(box: BubblewrapSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-never-be-seen-0000000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-should-never-be-seen")
    result = box.run(["env"], timeout_s=10)
    names = {line.split("=", 1)[0] for line in result.output.splitlines() if "=" in line}
    assert "OPENAI_API_KEY" not in names and "AWS_SECRET_ACCESS_KEY" not in names
    assert names <= set(command_env()) | {"PWD", "SHLVL", "_", "OLDPWD"}
    assert "should-never-be-seen" not in result.output


def test_no_network_and_own_pid_namespace(box: BubblewrapSandbox) -> None:
    result = sh(box, "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; echo pid=$$; ls /proc | grep -c '^[0-9]'")
    lines = result.output.split()
    assert lines[0] == "lo" and not any(x.startswith(("eth", "ens", "veth")) for x in lines)
    assert int(lines[-1]) < 6  # only the sandbox's own processes are visible
    host_pid = os.getpid()
    assert f"pid={host_pid}" not in result.output


def test_harness_process_is_invisible_and_ptrace_refused(box: BubblewrapSandbox) -> None:
    """Case 11: /proc/<harness>/environ is not there, and ptrace is refused by the filter."""
    result = py(box, f"""
        import ctypes, os
        print("visible", os.path.exists("/proc/{os.getpid()}/environ") and {os.getpid()} > 3)
        libc = ctypes.CDLL(None, use_errno=True)
        print("ptrace", libc.ptrace(0, 0, 0, 0), ctypes.get_errno())  # PTRACE_TRACEME
    """)
    assert "visible False" in result.output
    assert "ptrace -1 1" in result.output  # EPERM


def test_runs_as_an_unprivileged_user_and_the_harness_keeps_access(box: BubblewrapSandbox) -> None:
    (box.worktree / "later").mkdir()  # written by the harness after the sandbox was made
    (box.worktree / "later" / "file.txt").write_text("harness\n")
    result = sh(box, "id -u; echo sandbox >> later/file.txt && touch later/new && echo wrote")
    assert result.ok, result.output
    assert result.output.split()[0] == str(uid_of(box)) and (not ROOT or uid_of(box) >= 1_500_000_000)
    assert "wrote" in result.output
    assert (box.worktree / "later" / "file.txt").read_text() == "harness\nsandbox\n"
    (box.worktree / "later" / "new").write_text("the harness can still write here\n")


@pytest.mark.skipif(not ROOT, reason="only root hands the worktree to another user")
def test_adopt_hands_the_tree_over_without_following_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    worktree = make_worktree(tmp_path)
    host_file = tmp_path / "host.txt"
    host_file.write_text("host\n")
    (worktree / "pkg").mkdir()
    (worktree / "pkg" / "mod.py").write_text("x = 1\n")
    (worktree / "pkg" / "out").symlink_to(tmp_path)  # a link to a directory outside
    (worktree / "hard").hardlink_to(host_file)
    seen: dict[str, tuple[tuple[int, int, int], list[str]]] = {}
    real_now = time.time_ns
    monkeypatch.setattr(users.time, "time_ns", lambda: real_now() + 10 * 10**9)  # every directory settled
    users.adopt(str(worktree), 65534, 65534, skip=[str(worktree / ".git")], seen=seen)
    owner = lambda p: os.lstat(p).st_uid  # noqa: E731
    assert owner(worktree) == owner(worktree / "pkg") == owner(worktree / "pkg" / "mod.py") == 65534
    assert owner(worktree / "pkg" / "out") == 65534 and owner(tmp_path) == 0  # the link, not its target
    assert owner(host_file) == 0 and owner(worktree / ".git") == 0  # hard-linked and skipped entries
    assert str(worktree / "pkg") in seen
    time.sleep(0.05)  # past the file-system timestamp tick
    (worktree / "pkg" / "new.py").write_text("by the harness\n")
    assert users.adopt(str(worktree), 65534, 65534, seen=seen) >= 1
    assert owner(worktree / "pkg" / "new.py") == 65534


# --- network and sockets (cases 14, 15) ----------------------------------------------------------


@pytest.mark.parametrize(("filtered", "expected"), [(True, "errno 101"), (False, "errno 111")])
def test_tcp_to_a_host_listener_fails(tmp_path: Path, filtered: bool, expected: str) -> None:
    """Filtered: socket() says ENETUNREACH. Unfiltered: the empty network namespace refuses (ECONNREFUSED)."""
    box = BubblewrapSandbox(make_worktree(tmp_path), seccomp=filtered)
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        port = server.getsockname()[1]
        result = py(box, f"""
            import socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=2)
                print("connected")
            except OSError as exc:
                print("errno", exc.errno)
        """)
        with pytest.raises(BlockingIOError):
            server.accept()
    assert expected in result.output and "connected" not in result.output


@pytest.mark.parametrize("filtered", [True, False])
def test_udp_and_dns_do_not_leave_the_sandbox(tmp_path: Path, filtered: bool) -> None:
    box = BubblewrapSandbox(make_worktree(tmp_path), seccomp=filtered)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.setblocking(False)
        port = server.getsockname()[1]
        result = py(box, f"""
            import socket
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.sendto(b"exfiltrated", ("127.0.0.1", {port}))
                print("sent")
            except OSError as exc:
                print("udp errno", exc.errno)
            try:
                socket.getaddrinfo("example.com", 443)
                print("resolved")
            except OSError as exc:
                print("dns failed", type(exc).__name__)
        """)
        time.sleep(0.1)
        with pytest.raises(BlockingIOError):
            server.recv(100)
    assert "resolved" not in result.output and "dns failed" in result.output
    assert ("udp errno 101" in result.output) if filtered else ("sent" in result.output)


@pytest.mark.parametrize("filtered", [True, False])
def test_host_unix_socket_in_the_worktree_is_refused(tmp_path: Path, filtered: bool) -> None:
    """Case 14: the socket file is visible (it is in the worktree), so only the filter stops it."""
    box = BubblewrapSandbox(make_worktree(tmp_path), seccomp=filtered)
    path = box.worktree / "agent.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        path.chmod(0o777)
        server.listen(1)
        server.setblocking(False)
        result = py(box, """
            import socket
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect("agent.sock")
            print("connected")
        """)
        if filtered:
            assert "PermissionError: [Errno 1] Operation not permitted" in result.output
            with pytest.raises(BlockingIOError):
                server.accept()
        else:  # the control: without the filter the same command gets through
            assert "connected" in result.output
            server.accept()[0].close()


def test_socketpair_asyncio_and_the_filter_are_on(box: BubblewrapSandbox) -> None:
    result = py(box, """
        import asyncio, socket
        a, b = socket.socketpair()
        a.sendall(b"ok"); print("pair", b.recv(2).decode())
        async def main():
            await asyncio.sleep(0)
            return "loop ok"
        print(asyncio.run(main()))
        print(open("/proc/self/status").read().split("Seccomp:")[1].split()[0])
    """)
    assert result.ok, result.output
    assert result.output.split() == ["pair", "ok", "loop", "ok", "2"]


def test_filter_refuses_namespaces_io_uring_and_keyrings(box: BubblewrapSandbox) -> None:
    result = py(box, """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        def errno_of(*args):
            ctypes.set_errno(0)
            libc.syscall(*args)
            return ctypes.get_errno()
        print("unshare", errno_of(272, 0x10000000))        # unshare(CLONE_NEWUSER)
        print("io_uring", errno_of(425, 8, None))           # io_uring_setup
        print("keyctl", errno_of(250, 0, 0, 0, 0, 0))       # keyctl
        print("bpf", errno_of(321, 0, None, 0))             # bpf
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        print("fork ok")
    """)
    assert result.ok, result.output
    for name in ("unshare", "io_uring", "keyctl", "bpf"):
        assert f"{name} 1\n" in result.output  # EPERM
    assert "fork ok" in result.output


def test_test_runners_work_through_path_python(box: BubblewrapSandbox) -> None:
    """`python` from PATH (here possibly a pyenv shim under a hidden $HOME) runs pytest and unittest."""
    (box.worktree / "test_it.py").write_text(textwrap.dedent("""
        import asyncio, socket, unittest

        class T(unittest.TestCase):
            def test_it(self):
                self.assertEqual(asyncio.run(asyncio.sleep(0, "x")), "x")
                socket.socketpair()
    """))
    pytest_run = box.run(["python", "-m", "pytest", "-q", "test_it.py"], timeout_s=60)
    assert pytest_run.ok, pytest_run.output
    assert "1 passed" in pytest_run.output
    unittest_run = box.run(["python", "-m", "unittest", "test_it"], timeout_s=60)
    assert unittest_run.ok, unittest_run.output
    assert "OK" in unittest_run.output


# --- the host is hidden (cases 10, 12) -----------------------------------------------------------


@pytest.fixture
def fake_home(open_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A $HOME with secrets in files anyone could read, were the directory not hidden."""
    home = open_dir / "home"
    for name, text in {".ssh/id_ed25519": "PRIVATE KEY\n", ".aws/credentials": "aws_secret=abc\n",
                       ".netrc": "machine x password hunter2\n", ".git-credentials": "https://u:tok@h\n",
                       "notes.txt": "plain\n"}.items():  # fmt: skip
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text(text)
    tool = home / "bin" / "hello"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\necho hello from home\n")
    tool.chmod(0o755)
    home.chmod(0o755)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", f"{home / 'bin'}{os.pathsep}{os.environ['PATH']}")
    return home


def test_home_is_hidden_but_its_path_entries_still_run(tmp_path: Path, fake_home: Path) -> None:
    box = BubblewrapSandbox(make_worktree(tmp_path))
    result = sh(box, f"hello; cat {fake_home}/.ssh/id_ed25519 {fake_home}/.aws/credentials {fake_home}/notes.txt; "
                     "ls -A /run /home; ls -A /root")  # fmt: skip
    assert "hello from home" in result.output
    for secret in ("PRIVATE KEY", "aws_secret", "plain"):
        assert secret not in result.output
    listed = set(result.output.split())
    assert not listed & {".ssh", ".aws", ".netrc", ".gitconfig", ".bashrc"}


@pytest.mark.parametrize("private", ["/tmp", "/dev/shm"])
def test_a_virtual_environment_on_path_runs_as_itself_where_it_lives_out_of_sight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, private: str
) -> None:  # fmt: skip
    """Its bin/ on PATH, not activated (no VIRTUAL_ENV), two directories down in /tmp or /dev/shm, which
    the sandbox replaces with tmpfs of its own: its python still finds ../pyvenv.cfg and ../lib there, and
    runs as the environment, not as its base interpreter, for the sandbox user too (the directories
    above it made in the sandbox's tmpfs searchable, as they are on the host)."""
    if not os.access(private, os.W_OK):
        pytest.skip(f"{private} is not writable here")
    top = Path(tempfile.mkdtemp(prefix="agentic-test-venv-", dir=private))
    os.chmod(top, 0o755)  # searchable by everyone, so nothing above the environment is hidden on its way
    venv = top / "tools" / "runner"
    try:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        monkeypatch.delenv("VIRTUAL_ENV", raising=False)
        monkeypatch.setenv("PATH", f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")
        box = BubblewrapSandbox(make_worktree(tmp_path))
        result = sh(box, "python -c 'import sys; print(sys.prefix)'")
        assert result.ok and result.output.strip() == str(venv), result.output
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_a_tool_installed_with_pipx_runs_from_its_link_in_the_hidden_home(tmp_path: Path, fake_home: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """pipx (and `uv tool`) put each tool in a virtual environment of its own under the home and link
    its script from ~/.local/bin: the link is on PATH, the environment it points into comes back too."""
    venv = fake_home / ".local" / "pipx" / "venvs" / "tool"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    script = venv / "bin" / "tool"
    script.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\nprint('tool in', sys.prefix)\n")
    script.chmod(0o755)
    (fake_home / ".local" / "bin").mkdir()
    (fake_home / ".local" / "bin" / "tool").symlink_to(script)
    monkeypatch.setenv("PATH", f"{fake_home / '.local' / 'bin'}{os.pathsep}{os.environ['PATH']}")
    box = BubblewrapSandbox(make_worktree(tmp_path))
    result = sh(box, f"tool; cat {fake_home}/.ssh/id_ed25519")
    assert f"tool in {venv}" in result.output, result.output
    assert "PRIVATE KEY" not in result.output  # the rest of the home stays hidden


def test_the_environment_a_test_command_names_by_path_comes_back_from_the_hidden_home(
    tmp_path: Path, fake_home: Path
) -> None:  # fmt: skip
    """Poetry (and Pipenv, Hatch) keep a project's environment under the home, out of PATH: a contract
    names its interpreter by path. It comes back read-only, in the run's sandbox and the gate's
    (exit 127 before); nothing else of the home does."""
    venv = fake_home / ".cache" / "pypoetry" / "virtualenvs" / "calc-AbCd-py3.11"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    assert sandbox.program_envs([python, "-m", "pytest"]) == [venv]
    assert sandbox.program_envs(["python", "-m", "pytest"]) == [] and sandbox.program_envs(["/usr/bin/python3"]) == []
    box = BubblewrapSandbox(make_worktree(tmp_path), expose=sandbox.program_envs([python]))
    result = box.run([python, "-c", "import sys; print(sys.prefix)"], timeout_s=30)
    assert result.exit_code == 0 and str(venv) in result.output, result.output
    assert "PRIVATE KEY" not in sh(box, f"cat {fake_home}/.ssh/id_ed25519").output

    contract = {**copy.deepcopy(CONTRACT), "test_command": [python, "-m", "unittest", "discover", "-s", "tests", "-t", "."]}
    repo = make_repo(tmp_path / "repo", contract)
    gate = cli("gate", cwd=repo)
    assert gate.returncode == 1 and "FAIL: test_average" in gate.stdout, gate.stdout + gate.stderr  # it ran


def test_a_rustup_toolchain_in_the_hidden_home_runs_and_cargo_s_home_stays_hidden(tmp_path: Path, fake_home: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """rustup's proxies (~/.cargo/bin/cargo) find the toolchain in ~/.rustup through HOME, which is another
    in the sandbox: its toolchains come back read-only and RUSTUP_HOME names them; ~/.cargo's
    credentials stay out of sight. (`cargo test` failed: rustup could not choose a version of cargo.)"""
    bin_dir = fake_home / ".cargo" / "bin"
    bin_dir.mkdir(parents=True)
    (fake_home / ".cargo" / "credentials.toml").write_text('[registry]\ntoken = "cio-secret"\n')
    toolchain = fake_home / ".rustup" / "toolchains" / "stable" / "bin"
    toolchain.mkdir(parents=True)
    (fake_home / ".rustup" / "settings.toml").write_text('default_toolchain = "stable"\n')
    (toolchain / "cargo").write_text("#!/bin/sh\necho real cargo \"$@\"\n")
    proxy = '#!/bin/sh\nexec "$RUSTUP_HOME/toolchains/$(sed -n \'s/default_toolchain = "\\(.*\\)"/\\1/p\' ' \
            '"${RUSTUP_HOME:-$HOME/.rustup}/settings.toml")/bin/$(basename "$0")" "$@"\n'
    for name, text in (("rustup", "#!/bin/sh\n"), ("cargo", proxy)):
        (bin_dir / name).write_text(text)
    for path in (*bin_dir.iterdir(), toolchain / "cargo"):
        path.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    box = BubblewrapSandbox(make_worktree(tmp_path))
    result = sh(box, f"cargo test; cat {fake_home}/.cargo/credentials.toml; echo home=$HOME")
    assert "real cargo test" in result.output, result.output
    assert "cio-secret" not in result.output and f"home={fake_home}" not in result.output


def test_a_conda_environment_on_path_comes_back_whole_from_the_hidden_home(tmp_path: Path, fake_home: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A conda environment's bin/ on PATH: its programs read their libraries and conda-meta/ beside bin/."""
    root = fake_home / "miniconda3"
    (root / "conda-meta").mkdir(parents=True)
    (root / "conda-meta" / "history").write_text("==> conda create <==\n")
    tool = root / "bin" / "conda-tool"
    tool.parent.mkdir()
    tool.write_text('#!/bin/sh\ncat "$(dirname "$0")/../conda-meta/history"\n')
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}")
    result = sh(BubblewrapSandbox(make_worktree(tmp_path)), f"conda-tool; cat {fake_home}/notes.txt")
    assert "conda create" in result.output, result.output
    assert "plain" not in result.output  # the rest of the home stays hidden


def test_a_repository_that_is_a_virtual_environment_stays_hidden(open_dir: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Its bin/ on PATH brings back bin/ only: the person's checkout (where the environment is) stays out of
    sight of a sandbox on the run's worktree."""
    repo = open_dir / "repo"
    write(repo / "pyvenv.cfg", "home = /usr/bin\n")
    write(repo / "bin" / "tool", "#!/bin/sh\n")
    commit_initial(repo)
    worktree = repo / ".agentic" / "worktrees" / "run"
    host_git(["worktree", "add", "--quiet", "--detach", str(worktree)], repo)
    monkeypatch.setenv("PATH", f"{repo / 'bin'}{os.pathsep}{os.environ['PATH']}")
    view = host_view(os.path.realpath(worktree), None)
    assert os.path.realpath(repo) in view.hidden and os.path.realpath(repo) not in view.exposed
    assert os.path.realpath(repo / "bin") in view.exposed


def test_secrets_inside_an_exposed_directory_are_masked(tmp_path: Path, fake_home: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A PATH entry that is $HOME itself exposes it: the known secret files are masked, the rest shows."""
    monkeypatch.setenv("PATH", f"{fake_home}{os.pathsep}{os.environ['PATH']}")
    box = BubblewrapSandbox(make_worktree(tmp_path))
    result = sh(box, f"cd {fake_home} && cat notes.txt .netrc .git-credentials .aws/credentials; ls -A .ssh; "
                     "echo x > notes.txt; echo end")  # fmt: skip
    assert "plain" in result.output and "end" in result.output
    for secret in ("hunter2", "tok@h", "aws_secret", "id_ed25519"):
        assert secret not in result.output
    assert (fake_home / "notes.txt").read_text() == "plain\n"  # exposed read-only


@pytest.mark.parametrize("persistent", [False, True], ids=["one-off", "persistent"])
def test_hidden_worktree_files_read_empty_and_leave_nothing_on_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, persistent: bool
) -> None:
    """A file the contract denies to read shows as an empty read-only regular file (git must not see a
    device), a denied directory as empty; no stand-in file is left in the host's temporary directory."""
    host_tmp = tmp_path / "host-tmp"
    host_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(host_tmp))
    worktree = make_worktree(tmp_path)
    (worktree / ".env").write_text("API_TOKEN=hunter2\n")
    (worktree / "secrets").mkdir()
    (worktree / "secrets" / "key").write_text("k3y\n")
    (worktree / "config").mkdir()
    (worktree / "config" / ".env.local").write_text("API_TOKEN=hunter3\n")
    hidden = [Path(".env"), worktree / "secrets", Path("config/.env.local")]  # each file its own descriptor
    box = BubblewrapSandbox(worktree, hidden=hidden, persistent=persistent)
    try:
        result = sh(box, "cat .env config/.env.local; test -f .env && ! test -s .env && echo regular-empty; "
                         "test -f config/.env.local && ! test -s config/.env.local && echo also-empty; ls -A secrets; "
                         "echo x > .env || echo refused; echo end")  # fmt: skip
    finally:
        box.close()
    assert "hunter" not in result.output and "k3y" not in result.output and "key" not in result.output
    assert "regular-empty" in result.output and "also-empty" in result.output and "refused" in result.output and "end" in result.output
    assert (worktree / ".env").read_text() == "API_TOKEN=hunter2\n"
    assert list(host_tmp.iterdir()) == []


def test_git_works_inside_and_the_persons_checkout_is_hidden(open_dir: Path) -> None:
    repo = open_dir / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}  # fmt: skip

    def git(*args: str, cwd: Path = repo) -> str:
        return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout

    git("init", "-q")
    (repo / "a.txt").write_text("a\n")
    git("add", "a.txt")
    git("commit", "-qm", "base")
    (repo / ".env").write_text("API_TOKEN=untracked-secret\n")
    worktree = repo / ".agentic" / "worktrees" / "run1"
    git("worktree", "add", "-q", "-b", "agentic/run1", str(worktree))
    box = BubblewrapSandbox(worktree)
    (worktree / "a.txt").write_text("changed\n")
    result = sh(box, f"git status --short; git log --oneline | wc -l; cat {repo}/.env; echo ==; pwd; ls -A {repo}; "
                     "cat a.txt; git commit -qam nope 2>&1 | head -1")  # fmt: skip
    assert " M a.txt" in result.output and "\n1\n" in result.output
    # the worktree is seen at the repository's own path; the person's checkout (its untracked .env,
    # its .agentic/) is hidden beneath it
    assert "untracked-secret" not in result.output
    seen = result.output.split("==\n", 1)[1].split()
    assert seen[:4] == [os.path.realpath(repo), ".git", "a.txt", "changed"], seen
    assert git("log", "--oneline", "agentic/run1").count("\n") == 1  # the sandbox could not commit
    # the harness's own git (with an explicit git dir, as agentic.workspace does) still works as root
    status = git(f"--git-dir={repo}/.git/worktrees/run1", f"--work-tree={worktree}", "status", "--short", cwd=worktree)
    assert "a.txt" in status


# --- links at mount targets (case 27) ------------------------------------------------------------


def test_symlinked_git_is_refused_before_any_mount(tmp_path: Path) -> None:
    worktree = make_worktree(tmp_path)
    box = BubblewrapSandbox(worktree)
    target = tmp_path / "host-file"
    target.write_text("host\n")
    (worktree / ".git").unlink()
    (worktree / ".git").symlink_to(target)  # planted between two commands
    result = box.run(["sh", "-c", f"echo pwned > .git; echo pwned > {target}"], timeout_s=10)
    assert not result.ok and result.exit_code == sandbox.REFUSED_EXIT
    assert "`.git` inside the worktree is a symbolic link" in result.output
    assert target.read_text() == "host\n"
    with pytest.raises(sandbox.MountRefused):
        box.wrap(["true"])


def test_readonly_paths_are_read_only_and_links_anywhere_on_their_path_refused(tmp_path: Path) -> None:
    worktree = make_worktree(tmp_path)
    (worktree / "tests").mkdir()
    (worktree / "tests" / "test_gate.py").write_text("ORIGINAL\n")
    (worktree / "contract.yaml").write_text("contract\n")
    box = BubblewrapSandbox(worktree, readonly=[worktree / "tests" / "test_gate.py", Path("contract.yaml")])
    result = sh(box, "echo x > tests/test_gate.py; echo x > contract.yaml; echo x > tests/other.py && echo ok")
    assert "ok" in result.output and "Read-only file system" in result.output
    assert (worktree / "tests" / "test_gate.py").read_text() == "ORIGINAL\n"
    assert (worktree / "contract.yaml").read_text() == "contract\n"

    host_dir = tmp_path / "host"
    host_dir.mkdir()
    (host_dir / "test_gate.py").write_text("host\n")
    shutil.move(worktree / "tests", tmp_path / "moved-tests")
    (worktree / "tests").symlink_to(host_dir)  # a link as a directory component of a read-only target
    refused = sh(box, "true")
    assert refused.exit_code == sandbox.REFUSED_EXIT and "`tests` inside the worktree" in refused.output

    (worktree / "tests").unlink()  # the target vanished: skipped, and the command runs
    assert sh(box, "echo runs").output == "runs\n"
    with pytest.raises(ValueError):
        BubblewrapSandbox(worktree, readonly=[tmp_path / "elsewhere"])


# --- resources (cases 18, 19, 20) ----------------------------------------------------------------


def test_memory_and_file_size_are_bounded_and_the_run_goes_on(box: BubblewrapSandbox) -> None:
    memory = py(box, "x = bytearray(8 * 1024**3)")
    assert not memory.ok and "MemoryError" in memory.output
    big = py(box, """
        with open("big.bin", "wb") as fh:
            fh.seek(2 * 1024**3)
            fh.write(b"x")
    """)
    assert not big.ok and "File too large" in big.output
    assert not (box.worktree / "big.bin").exists() or (box.worktree / "big.bin").stat().st_size == 0
    assert sh(box, "echo still working").output == "still working\n"


def test_cpu_seconds_are_bounded(tmp_path: Path) -> None:
    box = BubblewrapSandbox(make_worktree(tmp_path), cpu_s=1)
    start = time.monotonic()
    result = py(box, "while True: pass", timeout=20)
    assert not result.ok and not result.timed_out
    assert time.monotonic() - start < 10  # SIGXCPU after one CPU second, long before the timeout


def test_fork_bomb_is_bounded_and_leaves_nothing_behind(box: BubblewrapSandbox) -> None:
    before = set(live_processes(uid_of(box)))
    start = time.monotonic()
    # the bomb is at its process limit well within a second; every second past it burns both cores
    result = sh(box, "bomb() { bomb | bomb & }; bomb; sleep 60", timeout=1.5, cap=4000)
    assert isinstance(result, CommandResult) and not result.ok
    assert time.monotonic() - start < 8
    assert "fork" in result.output.lower()  # the process limit was hit
    assert wait_until_gone(uid_of(box), before) == []
    assert sh(box, "echo after").output == "after\n"


@pytest.mark.skipif(not ROOT, reason="a harness that is not root runs every sandbox as itself")
def test_a_fork_bomb_in_one_sandbox_does_not_starve_another(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    bombed = BubblewrapSandbox(make_worktree(tmp_path / "a"), persistent=True)
    other = BubblewrapSandbox(make_worktree(tmp_path / "b"), persistent=True)
    try:
        assert uid_of(bombed) != uid_of(other)  # each its own user, so its own process limit
        hold = """
            import os, time
            try:
                while True:  # as many processes as the limit allows, each kept alive
                    if os.fork() == 0:
                        time.sleep(30)
                        os._exit(0)
            except OSError:
                print("at the limit", flush=True)
            time.sleep(30)
        """
        bomb = threading.Thread(target=py, args=(bombed, hold), kwargs={"timeout": 4})
        bomb.start()
        time.sleep(2)  # the bomb holds its limit now
        forks = py(other, """
            import os
            for _ in range(20):  # os.fork fails at once, no retry, when the user is at its limit
                pid = os.fork()
                if pid == 0:
                    os._exit(0)
                os.waitpid(pid, 0)
            print("forked")
        """)
        bomb.join()
        assert forks.ok and forks.output == "forked\n", forks.output
    finally:
        bombed.close()
        other.close()


def test_timeout_kills_the_whole_tree_including_setsid_children(box: BubblewrapSandbox, tmp_path: Path) -> None:
    marker = box.worktree / "survivor"
    script = f"(setsid sh -c 'sleep 2; touch {marker}' &) ; (nohup sh -c 'sleep 2; touch {marker}' &) ; sleep 60"
    start = time.monotonic()
    result = sh(box, script, timeout=1)
    assert result.timed_out and result.exit_code is None and not result.ok
    assert time.monotonic() - start < 5
    assert "timeout" in result.summary()
    time.sleep(2.5)
    assert not marker.exists()


def test_output_is_capped_head_and_tail_kept(box: BubblewrapSandbox) -> None:
    result = sh(box, "echo FIRST; head -c 5000000 /dev/zero | tr '\\0' x; echo; echo LAST", cap=2000)
    assert result.truncated and result.ok
    assert result.output.startswith("FIRST") and result.output.rstrip().endswith("LAST")
    assert "bytes of output cut" in result.output
    assert len(result.output) < 2200


def test_private_tmp_is_size_limited(tmp_path: Path) -> None:
    box = BubblewrapSandbox(make_worktree(tmp_path), tmp_bytes=1024**2)
    result = sh(box, "head -c 2000000 /dev/zero > /tmp/fill; echo rc=$?; head -c 100 /dev/zero > /dev/shm/x && echo shm")
    assert "No space left on device" in result.output and "shm" in result.output


def test_missing_program_is_reported(box: BubblewrapSandbox) -> None:
    result = box.run(["definitely-not-a-program"], timeout_s=10)
    assert not result.ok and "command not found inside the sandbox" in result.output


def test_the_persistent_sandbox_finds_a_program_as_execvp_does(tmp_path: Path) -> None:
    """Its server searches PATH by stat, not by trying execve in each directory: the first executable
    file wins, a missing program is 127 and one only found without the execute bit 126."""
    worktree = make_worktree(tmp_path)
    write(worktree / "bin1" / "prog", "#!/bin/sh\necho one\n")  # not executable: skipped
    write(worktree / "bin2" / "prog", "#!/bin/sh\necho two\n")
    (worktree / "bin2" / "prog").chmod(0o755)
    seen = os.path.realpath(worktree)
    box = BubblewrapSandbox(worktree, persistent=True, env={"PATH": f"{seen}/bin1:{seen}/bin2:/usr/bin:/bin"})
    try:
        assert box.run(["prog"], timeout_s=10).output == "two\n"
        missing = box.run(["definitely-not-a-program"], timeout_s=10)
        assert missing.exit_code == 127 and "command not found inside the sandbox" in missing.output
        (worktree / "bin2" / "prog").chmod(0o644)
        denied = box.run(["prog"], timeout_s=10)
        assert denied.exit_code == 126 and "Permission denied" in denied.output, denied.output
    finally:
        box.close()


# --- levels, fail closed, seccomp off ------------------------------------------------------------


@pytest.fixture
def fresh_probes() -> Iterator[None]:
    caches = (probe._probe_bwrap, sandbox.sandbox_level, seccomp.status, seccomp.program)
    for fn in caches:
        fn.cache_clear()
    yield
    for fn in caches:
        fn.cache_clear()


def test_sandbox_level_describes_what_is_blocked() -> None:
    level = sandbox_level()
    assert level.name == "bubblewrap" and level.features["seccomp filter"]
    assert level.features["unprivileged user"] and level.features["resource limits"]
    assert "bubblewrap" in level.summary() and require_sandbox() is level


def test_without_libseccomp_the_sandbox_runs_and_says_seccomp_is_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_probes: None
) -> None:
    monkeypatch.setattr(seccomp, "_load_pyseccomp", lambda: (None, "libseccomp is not usable: test"))
    assert seccomp.status() == (False, "libseccomp is not usable: test")
    level = sandbox_level()
    assert level.name == "bubblewrap" and not level.features["seccomp filter"] and "seccomp is off" in level.fix
    box = BubblewrapSandbox(make_worktree(tmp_path))
    result = sh(box, "grep Seccomp: /proc/self/status")
    assert result.ok and result.output.split() == ["Seccomp:", "0"]


def test_without_bubblewrap_it_fails_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_probes: None
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on PATH
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        require_sandbox()
    with pytest.raises(SandboxUnavailable):
        BubblewrapSandbox(make_worktree(tmp_path))
    level = sandbox_level()
    if landlock.abi_version() > 0:
        assert level.name == "landlock" and require_sandbox(fallback=True) is level
    else:
        assert level.name == "none"
        with pytest.raises(SandboxUnavailable):
            require_sandbox(fallback=True)


# --- the Landlock fallback -----------------------------------------------------------------------


needs_landlock = pytest.mark.skipif(landlock.abi_version() < 1, reason="Landlock is not available")
FALLBACK_PYTHON = "/usr/bin/python3" if ROOT and os.path.exists("/usr/bin/python3") else sys.executable


@needs_landlock
def test_landlock_fallback_confines_files_network_and_sessions(open_dir: Path) -> None:
    worktree = make_worktree(open_dir)
    (worktree / "contract.yaml").write_text("contract\n")
    outside = open_dir / "outside.txt"
    box = LandlockSandbox(worktree, readonly=[Path("contract.yaml")])
    # the host's /tmp and /dev/shm are out of reach as bubblewrap's private ones keep them out of sight,
    # whatever the files' modes say
    shared = [Path(tempfile.mkstemp(prefix="agentic-host-", dir=d)[1]) for d in ("/tmp", "/dev/shm")]
    for path in shared:
        path.write_text("host secret\n")
        path.chmod(0o644)
    try:
        result = sh(box, f"id -u; echo data > new.txt; echo x > {outside}; echo x > /etc/agentic-x; "
                         "echo x >> contract.yaml; ls /root /home; echo tmp > $TMPDIR/t && echo tmp-ok; "
                         f"cat {shared[0]} {shared[1]}; ls /tmp /dev/shm; "
                         "setsid true || echo setsid-refused")  # fmt: skip
    finally:
        for path in shared:
            path.unlink()
    assert "host secret" not in result.output
    assert all(f"cat: {path}: Permission denied" in result.output for path in shared), result.output
    assert all(f"cannot open directory '{d}'" in result.output for d in ("/tmp", "/dev/shm")), result.output
    assert result.output.split()[0] == str(uid_of(box))
    assert (worktree / "new.txt").read_text() == "data\n"
    assert not outside.exists() and not Path("/etc/agentic-x").exists()
    assert (worktree / "contract.yaml").read_text() == "contract\n"
    assert "tmp-ok" in result.output and "setsid-refused" in result.output
    assert "cannot open directory '/root'" in result.output
    net = py(box, "import socket; socket.create_connection(('127.0.0.1', 9), 2)", python=FALLBACK_PYTHON)
    assert "Network is unreachable" in net.output


@needs_landlock
def test_landlock_fallback_kills_the_tree_and_bounds_resources(open_dir: Path) -> None:
    box = LandlockSandbox(make_worktree(open_dir))
    before = set(live_processes(uid_of(box)))
    result = sh(box, "(sleep 30 &); (nohup sleep 30 &); sleep 30", timeout=1)
    assert result.timed_out
    assert wait_until_gone(uid_of(box), before) == []
    memory = py(box, "x = bytearray(8 * 1024**3)", python=FALLBACK_PYTHON)
    assert "MemoryError" in memory.output


@pytest.mark.parametrize("kind", ["bubblewrap", "persistent", "landlock"])
def test_a_sandboxed_git_has_an_index_of_its_own(open_dir: Path, kind: str) -> None:
    """The sandbox gives git a writable copy of the worktree's index (GIT_INDEX_FILE, in bubblewrap's
    /tmp or the fallback's per-command TMPDIR): `git status` sees the worktree as it is, and
    `git checkout -- FILE` and `git rm --cached` work (git writes a new index and renames it over the copy)."""
    if kind == "landlock" and landlock.abi_version() < 1:
        pytest.skip("Landlock is not available")
    repo = open_dir / "repo"
    write(repo / "a.txt", "a\n")
    commit_initial(repo)
    worktree = repo / ".agentic" / "worktrees" / "run1"
    host_git(["worktree", "add", "-q", "-b", "agentic/run1", str(worktree)], repo)
    write(worktree / "a.txt", "changed\n")
    box = (
        LandlockSandbox(worktree) if kind == "landlock" else BubblewrapSandbox(worktree, persistent=kind == "persistent")
    )
    try:
        script = "git status --short; echo ==; git checkout -- a.txt && cat a.txt; echo ==; git rm -q --cached a.txt"
        result = box.run(script_argv(script + " && git status --short"), timeout_s=30)
        status, restored, removed = result.output.split("==\n")
        assert (status, restored, removed) == (" M a.txt\n", "a\n", "D  a.txt\n?? a.txt\n"), result.output
        again = box.run(script_argv("git status --short"), timeout_s=30).output
        # The persistent sandbox keeps its index between commands; a new sandbox starts from the worktree's.
        assert again == ("D  a.txt\n?? a.txt\n" if kind == "persistent" else ""), again
    finally:
        box.close()


@pytest.mark.skipif(not ROOT, reason="only root hands the worktree to another user")
def test_landlock_fallback_refuses_a_worktree_the_user_cannot_reach(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    if landlock.abi_version() < 1:
        pytest.skip("Landlock is not available")
    with pytest.raises(SandboxUnavailable, match="cannot reach the worktree"):
        LandlockSandbox(make_worktree(tmp_path))


def test_unsafe_mode_keeps_the_environment_limits_and_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-never-be-seen-0000000000")
    box = UnsafeNoSandbox(make_worktree(tmp_path))
    assert box.name == "none (unsafe)"
    result = sh(box, "env; grep 'Max address space' /proc/self/limits")
    assert "should-never-be-seen" not in result.output and "4294967296" in result.output
    assert sh(box, "sleep 30", timeout=0.5).timed_out


# --- the run's sandbox, kept between commands -------------------------------------------------


@pytest.fixture
def kept(open_dir: Path) -> Iterator[BubblewrapSandbox]:
    sandbox = BubblewrapSandbox(make_worktree(open_dir), persistent=True)
    yield sandbox
    sandbox.close()


def test_what_a_command_leaves_running_dies_when_it_ends(kept: BubblewrapSandbox) -> None:
    marker = kept.worktree / "survivor"
    started = sh(kept, f"(setsid sh -c 'sleep 1; touch {marker}' &) ; (nohup sleep 30 >/dev/null &) ; echo started")
    assert started.ok and started.output == "started\n"
    time.sleep(1.5)
    assert not marker.exists()
    left = sh(kept, "ps -e -o comm=").output.split()
    assert "sleep" not in left and len(left) == 4, left  # bwrap's init, the server, and this sh and ps


@pytest.mark.parametrize("memory", [4 * 1024**3, 512 * 1024**2])  # spawned by the server, or forked (little memory)
def test_a_kept_sandbox_starts_each_command_with_its_limits_in_a_session_of_its_own(open_dir: Path, memory: int) -> None:
    kept = BubblewrapSandbox(make_worktree(open_dir), persistent=True, memory_bytes=memory)
    code = """
        import os, resource
        print([list(resource.getrlimit(r)) for r, _, _ in %s])
        print(os.getsid(0) == os.getpid(), sorted(os.listdir("/proc/self/fd")))
    """
    try:
        for timeout in (20, 7):  # CPU time follows each command's timeout
            limits = kept.limits(timeout)
            result = py(kept, code % [tuple(limit) for limit in limits], timeout=timeout)
            assert result.output.splitlines() == [str([[soft, hard] for _, soft, hard in limits]),
                                                  "True ['0', '1', '2', '3']"], result.output  # fmt: skip
        piped = sh(kept, "yes | head -2; echo status ${PIPESTATUS:-done}")  # SIGPIPE ends `yes` quietly
        assert piped.output == "y\ny\nstatus done\n", piped.output
    finally:
        kept.close()


def test_a_command_that_closes_its_output_is_still_waited_for_and_timed(kept: BubblewrapSandbox) -> None:
    done = sh(kept, "echo before; exec >&- 2>&-; sleep 0.3; exit 3")
    assert (done.exit_code, done.output, done.timed_out) == (3, "before\n", False)
    start = time.monotonic()
    hung = sh(kept, "echo before; exec >&- 2>&-; sleep 60", timeout=1)
    assert hung.timed_out and hung.exit_code is None and hung.output == "before\n"
    assert time.monotonic() - start < 5
    assert sh(kept, "echo again").output == "again\n"  # a new sandbox for the next command


def test_the_server_cannot_be_reached_by_commands(kept: BubblewrapSandbox) -> None:
    probe = py(kept, """
        import os
        for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
            if pid == os.getpid():
                continue
            try:
                print(pid, os.listdir(f"/proc/{pid}/fd"))
            except OSError as exc:
                print(pid, type(exc).__name__)
    """)
    assert probe.ok, probe.output
    lines = dict(line.split(" ", 1) for line in probe.output.splitlines())
    assert lines and all(v == "PermissionError" for k, v in lines.items() if k in ("1", "2")), probe.output
    # killing it only fails the command; the next one gets a new sandbox
    killed = sh(kept, "kill -9 2; sleep 1")
    assert not killed.ok and "sandbox" in killed.output
    assert sh(kept, "echo again").output == "again\n"


def test_it_dies_with_the_harness(open_dir: Path) -> None:
    worktree = make_worktree(open_dir)
    uid = sandbox_user(os.path.realpath(worktree))[0] if ROOT else os.geteuid()
    before = set(live_processes(uid))
    code = f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parents[2])!r})
        from pathlib import Path
        from agentic.sandbox import BubblewrapSandbox
        box = BubblewrapSandbox(Path({str(worktree)!r}), persistent=True)
        assert box.run(["true"], timeout_s=10).ok
        os.kill(os.getpid(), signal.SIGKILL)
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, timeout=30)
    assert done.returncode == -9, done.stderr
    assert wait_until_gone(uid, before) == []


def test_sandboxes_left_on_a_path_can_be_killed(kept: BubblewrapSandbox) -> None:
    assert sh(kept, "echo up").ok
    assert sandbox.kill_sandboxes([os.path.realpath(kept.worktree)]) >= 1
    assert sandbox.kill_sandboxes(["/nowhere/else"]) == 0
    server = kept._server
    if server is not None:  # SIGKILL is asynchronous: let it land, as a resume's recovery does before going on
        server.proc.wait(timeout=10)
    assert sh(kept, "echo again").output == "again\n"  # the next command starts a new sandbox


@pytest.mark.parametrize("kind", ["bubblewrap", "persistent", "landlock", "unsafe"])
def test_standard_input_standard_error_apart_and_a_read_only_worktree(open_dir: Path, kind: str) -> None:
    """What hooks need: a JSON document on standard input, standard error apart from the output (it is
    the reason a hook gives), and a worktree the command can read but not change."""
    if kind == "landlock" and landlock.abi_version() < 1:
        pytest.skip("Landlock is not available")
    worktree = make_worktree(open_dir)
    (worktree / "a.txt").write_text("a\n")
    boxes = {"bubblewrap": lambda ro: BubblewrapSandbox(worktree, read_only_worktree=ro),
             "persistent": lambda ro: BubblewrapSandbox(worktree, persistent=True, read_only_worktree=ro),
             "landlock": lambda ro: LandlockSandbox(worktree, read_only_worktree=ro),
             "unsafe": lambda ro: UnsafeNoSandbox(worktree, read_only_worktree=ro)}  # fmt: skip
    script = "cat a.txt; echo out; wc -c; echo err >&2; echo x > b.txt && echo wrote"
    payload = b"{" + b'"k": "v", ' * 20_000 + b"}"  # more than a pipe holds: it is fed as it is read
    for read_only in (False, True):
        box = boxes[kind](read_only)
        try:
            apart = box.run(script_argv(script), timeout_s=30, stdin=payload, split_stderr=True)
            merged = box.run(script_argv("echo err >&2; cat"), timeout_s=30)
        finally:
            box.close()
        assert apart.output.splitlines()[:3] == ["a", "out", str(len(payload))], apart
        assert apart.stderr.splitlines()[0] == "err", apart
        assert merged.output == "err\n" and merged.stderr == ""  # no input: /dev/null
        enforced = read_only and kind != "unsafe"  # without a sandbox nothing is enforced (documented)
        assert ("wrote" in apart.output) is not enforced and (worktree / "b.txt").exists() is not enforced
        (worktree / "b.txt").unlink(missing_ok=True)
