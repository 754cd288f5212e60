"""`agentic doctor` and `--unsafe-no-sandbox`."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from agentic.journal import payload, read_records
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
    refused = cli("run", "x", "--model", f"script:{script}", cwd=repo, env={"PATH": str(bindir)})
    assert refused.returncode == 2 and "--unsafe-no-sandbox" not in refused.stdout
    done = cli("run", "x", "--model", f"script:{script}", "--json", "--unsafe-no-sandbox", cwd=repo,
               env={"PATH": str(bindir)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "unconfined" in done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    journal = Path(summary["journal"])
    start = payload(next(read_records(journal)), journal.parent)  # run.start is large: it lives in a blob
    assert start["unsafe_no_sandbox"] is True and start["sandbox"] == "none (unsafe)"
