"""Nothing a run writes ever runs on the host, now or later (issue 14, point 2).

Attacks: a run that rewrites the notification command's script (by file tool, by shell, by a
rename), one that plants a virtual environment whose `bin/python` `agentic init` and `doctor` would
run, and a notification command that reads the harness's API keys from its environment.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

from agentic.run.notify import NotifyConfig, run_command
from agentic.sandbox.hostexec import host_env, protected_globs
from agentic.util.globs import match_any
from tests import inproc
from tests.conftest import CONTRACT, FINISH, FIX, make_repo

OPEN = {**CONTRACT, "tools": {**CONTRACT["tools"], "run_command": {"allow": ["*"], "timeout_s": 30},
                              "write_file": {"allow": True}, "edit_file": {"allow": True}}}  # fmt: skip


def notifying_repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo", OPEN)
    script = repo / "scripts" / "notify"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\nimport sys; sys.stdin.read()\n")
    script.chmod(0o755)
    (repo / ".agentic.yaml").write_text(yaml.safe_dump({"notify": {"command": ["scripts/notify", "--quiet"]}}))
    for args in (["add", "--all"], ["commit", "-qm", "notify"]):
        __import__("subprocess").run(["git", *args], cwd=repo, check=True)
    return repo


@pytest.mark.parametrize("attack", [
    {"name": "write_file", "arguments": {"path": "scripts/notify", "content": "#!/bin/sh\ntouch /tmp/pwned\n"}},
    {"name": "edit_file", "arguments": {"path": "scripts/notify", "old_text": "import sys", "new_text": "import os"}},
    {"name": "run_command", "arguments": {"command": "echo 'touch /tmp/pwned' >> scripts/notify"}},
    {"name": "run_command", "arguments": {"command": "printf '#!/bin/sh\\n' > evil && mv evil scripts/notify"}},
    {"name": "delete_file", "arguments": {"path": "scripts/notify"}},
    {"name": "write_file", "arguments": {"path": ".venv/pyvenv.cfg", "content": "home = /usr/bin\n"}},
    {"name": "write_file", "arguments": {"path": "venv/bin/python", "content": "#!/bin/sh\ntouch /tmp/pwned\n"}},
    {"name": "run_command", "arguments": {"command": "mkdir -p env/bin && cp scripts/notify env/bin/python"}},
])  # fmt: skip
def test_a_run_cannot_change_what_the_harness_runs_on_the_host(tmp_path: Path, attack: dict) -> None:  # type: ignore[type-arg]
    repo = notifying_repo(tmp_path)
    outcome = inproc.run(repo, [{"tool_calls": [attack]}, {"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    first = inproc.tool_results(outcome)[0]
    refused = first["is_error"] or "Read-only file system" in first["content"] or "busy" in first["content"]
    verdicts = inproc.records(outcome, "gate.verdict")
    caught = any(c["id"] == "protected-unchanged" and not c["passed"] for v in verdicts for c in v["checks"])
    assert refused or caught, (first["content"], verdicts)  # stopped at the tool, or by the gate
    globs = protected_globs(repo, ["scripts/notify"])
    committed = [p for _, p in outcome.changes] if outcome.status == "accepted" else []
    assert not [p for p in committed if match_any(globs, p)], committed
    assert outcome.status != "accepted" or "calc.py" in committed


def test_the_protected_globs_name_the_notify_commands_paths_and_the_project_envs(tmp_path: Path) -> None:
    repo = notifying_repo(tmp_path)
    found = protected_globs(repo, ["scripts/notify", "--quiet", "/usr/bin/env", str(repo / "hooks" / "x.sh")])
    assert {"scripts/notify", "scripts/notify/**", "hooks/x.sh", ".venv/pyvenv.cfg", "venv/bin/**"} <= set(found)
    assert not any(g.startswith(("--", "/usr")) for g in found)


def test_a_notification_command_never_gets_the_harnesss_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "env.json"
    script = tmp_path / "dump"
    script.write_text(f"#!{sys.executable}\nimport json, os, sys\nsys.stdin.read()\n"
                      f"json.dump(dict(os.environ), open({str(out)!r}, 'w'))\n")  # fmt: skip
    script.chmod(0o755)
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "AGENTIC_WEBHOOK_SECRET"):
        monkeypatch.setenv(name, "sk-canary-should-never-leak-0123456789")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    delivery = run_command(NotifyConfig(command=(str(script),)), {"event": "run.end", "idempotency_key": "k"})
    assert delivery.ok, delivery
    seen = json.loads(out.read_text())
    assert "sk-canary" not in json.dumps(seen)
    assert seen["AGENTIC_EVENT"] == "run.end" and seen["LC_ALL"] == "C.UTF-8" and "PATH" in seen
    assert set(seen) <= {*host_env(environ=dict(os.environ)), "AGENTIC_EVENT", "AGENTIC_IDEMPOTENCY_KEY", "PWD"}
