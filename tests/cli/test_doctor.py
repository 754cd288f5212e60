"""`agentic doctor` and `--unsafe-no-sandbox`."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from agentic.git.cmd import git
from agentic.journal.records import payload, read_records
from tests.conftest import FINISH, FIX, cli, make_repo, write_script


def test_doctor_reports_each_check(repo: Path, tmp_path: Path) -> None:
    (repo / ".agentic.yaml").write_text("model: openai:gpt-test\nbase_url: http://127.0.0.1:9/v1\n")
    done = cli("doctor", "--json", cwd=repo, env={"OPENAI_API_KEY": "", "XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    checks = {c["name"]: c for c in map(json.loads, done.stdout.splitlines())}
    assert checks["git"]["ok"] and checks["repository"]["ok"] and checks["contract"]["ok"]
    assert checks["sandbox"]["ok"] and checks["sandbox"]["detail"].startswith("bubblewrap")
    assert checks["api key"]["ok"]  # a local base URL needs no key
    assert not checks["provider reachable"]["ok"] and "127.0.0.1:9" in checks["provider reachable"]["detail"]
    assert done.returncode == 1  # the provider is essential
    # the vendor's own URL, spelled out as a base URL, still needs the key
    (repo / ".agentic.yaml").write_text("model: openai:gpt-test\nbase_url: https://api.openai.com/v1\n")
    vendor = cli("doctor", "--json", cwd=repo, env={"OPENAI_API_KEY": "", "XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    key = next(c for c in map(json.loads, vendor.stdout.splitlines()) if c["name"] == "api key")
    assert not key["ok"] and "OPENAI_API_KEY" in key["fix"]
    table = cli("doctor", cwd=repo, env={"XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    assert "sandbox" in table.stdout and "how to fix" in table.stdout


def test_doctor_outside_a_repository(tmp_path: Path) -> None:
    done = cli("doctor", "--json", cwd=tmp_path, env={"XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    checks = {c["name"]: c for c in map(json.loads, done.stdout.splitlines())}
    assert not checks["repository"]["ok"] and done.returncode == 1
    assert checks["model"]["fix"]


def test_unsafe_no_sandbox_runs_without_bubblewrap_and_is_journaled(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "git").symlink_to(shutil.which("git") or "/usr/bin/git")
    (bindir / "python").symlink_to(sys.executable)
    script = write_script(tmp_path / "t.yaml", [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    strict = {"PATH": str(bindir), "AGENTIC_SANDBOX": "bubblewrap"}
    refused = cli("run", "x", "--model", f"script:{script}", cwd=repo, env=strict)
    assert refused.returncode == 2 and "--unsafe-no-sandbox" not in refused.stdout
    done = cli("run", "x", "--model", f"script:{script}", "--json", "--unsafe-no-sandbox", cwd=repo, env=strict)
    assert done.returncode == 0, done.stderr
    assert "unconfined" in done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    journal = Path(summary["journal"])
    start = payload(next(read_records(journal)), journal.parent)  # run.start is large: it lives in a blob
    assert start["unsafe_no_sandbox"] is True and start["sandbox"] == "none (unsafe)"


def test_without_bubblewrap_auto_falls_back_to_landlock(tmp_path: Path) -> None:
    import tempfile

    import pytest

    from agentic.sandbox import landlock

    if landlock.abi_version() <= 0:
        pytest.skip("Landlock is not available on this kernel")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("git", "setpriv"):
        (bindir / name).symlink_to(shutil.which(name) or f"/usr/bin/{name}")
    (bindir / "python").symlink_to(sys.executable)
    script = write_script(tmp_path / "t.yaml", [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    env = {"PATH": str(bindir)}
    # under a directory the sandbox's unprivileged user cannot enter, the fallback refuses cleanly
    closed = make_repo(tmp_path / "closed")
    refused = cli("run", "x", "--model", f"script:{script}", cwd=closed, env=env)
    assert refused.returncode == 2 and "Landlock" in refused.stderr and "Traceback" not in refused.stderr
    assert not list((closed / ".agentic" / "worktrees").glob("*"))
    assert "agentic/" not in git(["branch", "--list"], closed)
    # where it can, the run goes ahead under Landlock
    open_dir = Path(tempfile.mkdtemp(prefix="agentic-landlock-"))
    try:
        open_dir.chmod(0o755)
        repo = make_repo(open_dir / "r")
        done = cli("run", "x", "--model", f"script:{script}", "--json", cwd=repo, env=env)
        summary = json.loads(done.stdout.splitlines()[-1])
        journal = Path(summary["journal"])
        start = payload(next(read_records(journal)), journal.parent)
        assert start["sandbox"] == "landlock" and start["unsafe_no_sandbox"] is False
        doctor = cli("doctor", "--json", cwd=repo, env=env)
        level = next(c for c in map(json.loads, doctor.stdout.splitlines()) if c["name"] == "sandbox")
        assert level["ok"] and level["detail"].startswith("landlock")
    finally:
        shutil.rmtree(open_dir, ignore_errors=True)


def doctor_checks(repo: Path, tmp_path: Path, *args: str) -> tuple[int, dict[str, dict[str, object]]]:
    done = cli("doctor", "--json", *args, cwd=repo, env={"XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    return done.returncode, {c["name"]: c for c in map(json.loads, done.stdout.splitlines())}


def with_test(repo: Path, name: str, body: str) -> None:
    (repo / "tests" / name).write_text(body)
    git(["add", "--all"], repo)
    git(["commit", "--quiet", "-m", name], repo)


def test_doctor_runs_the_test_command_once_in_the_sandbox(repo: Path, tmp_path: Path) -> None:
    _, checks = doctor_checks(repo, tmp_path)
    tests = checks["test command"]
    assert not tests["ok"] and not tests["essential"]  # the fixture's bug: it runs, and a test fails on HEAD
    assert "tests fail on HEAD" in str(tests["detail"])
    (repo / "calc.py").write_text("def average(values):\n    return sum(values) / len(values) if values else 0.0\n")
    git(["commit", "--quiet", "-am", "fix"], repo)
    _, checks = doctor_checks(repo, tmp_path)
    assert checks["test command"]["ok"] and "passes in the sandbox" in str(checks["test command"]["detail"])
    _, quick = doctor_checks(repo, tmp_path, "--quick")
    assert "test command" not in quick


def test_doctor_names_the_cause_when_the_runner_cannot_work(repo: Path, tmp_path: Path) -> None:
    with_test(repo, "test_needs.py", "import unittest\nimport nonexistent_module_xyz\n")
    code, checks = doctor_checks(repo, tmp_path)
    tests = checks["test command"]
    assert code == 1 and not tests["ok"] and tests["essential"]
    assert "module nonexistent_module_xyz is missing" in str(tests["detail"]) and ".venv/bin/python" in str(tests["fix"])
    (repo / "tests" / "test_needs.py").write_text(
        "import socket, unittest\n\nclass T(unittest.TestCase):\n"
        "    def test_net(self):\n        socket.getaddrinfo('example.com', 80)\n")
    git(["commit", "--quiet", "-am", "network"], repo)
    _, checks = doctor_checks(repo, tmp_path)
    assert "needs the network" in str(checks["test command"]["detail"])


def test_a_src_layout_module_that_is_not_installed_gets_the_pythonpath_fix(repo: Path, tmp_path: Path) -> None:
    (repo / "src" / "srcpkg").mkdir(parents=True)
    (repo / "src" / "srcpkg" / "__init__.py").write_text("VALUE = 1\n")
    with_test(repo, "test_src.py", "import unittest\nimport srcpkg\n")
    _, checks = doctor_checks(repo, tmp_path)
    tests = checks["test command"]
    assert "module srcpkg is missing" in str(tests["detail"])
    assert "`env: {PYTHONPATH: src}`" in str(tests["fix"])
