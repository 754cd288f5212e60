"""Everything a run produces is redacted before it leaves the harness (issue 14, point 4).

Attacks: a model that puts secrets in its `finish` summary (the commit message, the webhook body,
the notification command's stdin, the run database), in a file it writes (the HTML report's diff),
and credentials in the forms git and CI tools write them; a webhook URL with a token in its path
and query that must never appear whole in the journal or `audit`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from agentic.util.redact import Redactor
from tests import inproc
from tests.conftest import CONTRACT, FIX, cli, make_repo

GITHUB = "ghp_" + "A1b2C3d4E5" * 4  # a GitHub token's shape
DOTENV = "canary-0123456789abcdef"  # the fixture's .env value
ENV_VALUE = "canary-env-value-9876543210"
BASIC = "eC1hY2Nlc3MtdG9rZW46Z2hzX2FiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6MDEyMw=="
HOOK_TOKEN = "T0K3Nsecretpathpart42"
SECRETS = (GITHUB, DOTENV, ENV_VALUE, BASIC, HOOK_TOKEN, "qsecret77query")


@pytest.mark.parametrize(("text", "kept"), [
    (f"AUTHORIZATION: basic {BASIC}", "AUTHORIZATION: basic "),
    (f"http.https://github.com/.extraheader=Authorization: Basic {BASIC}", "http.https://github.com/.extraheader=Authorization: Basic "),
    ("authorization: bearer abcdefghijklmnopqrstuvwxyz012345", "authorization: bearer "),
    ("Authorization: Token 0123456789abcdef0123", "Authorization: Token "),
    ("HTTPS://x-access-token:v1.0123456789abcdef0123@github.com/o/r.git", "HTTPS://x-access-token:"),
    ("https://oauth2:glpat-abcdefghijklmnopqrst@gitlab.com/o/r.git", "https://oauth2:"),
    ("https://user:hunter2hunter2@example.com/r.git", "https://user:"),
    ("x-access-token:ghs_16C7e42F292c6912E7710c838347Ae178B4a", "x-access-token:"),
])  # fmt: skip
def test_credentials_in_the_forms_git_and_ci_tools_write_are_redacted(text: str, kept: str) -> None:
    shown = Redactor()(text)
    assert shown.startswith(kept) and "[REDACTED" in shown, shown
    assert text[len(kept):][:8] not in shown[len(kept):], shown


def test_nothing_a_run_produces_carries_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", ENV_VALUE)
    tools = {**CONTRACT["tools"], "write_file": {"allow": True}}
    repo = make_repo(tmp_path / "repo", {**CONTRACT, "tools": tools})
    dump = tmp_path / "stdin.json"
    script = tmp_path / "notify"
    script.write_text(f"#!{sys.executable}\nimport sys\nopen({str(dump)!r}, 'wb').write(sys.stdin.buffer.read())\n")
    script.chmod(0o755)
    hook = f"http://127.0.0.1:9/services/{HOOK_TOKEN}?token=qsecret77query"
    (repo / ".agentic.yaml").write_text(yaml.safe_dump({"notify": {"command": [str(script)], "webhook": hook,
                                                                    "retries": 0, "timeout_s": 2}}))  # fmt: skip
    subprocess.run(["git", "add", ".agentic.yaml"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "notify"], cwd=repo, check=True)
    summary = f"fixed it; the keys were {GITHUB}, {DOTENV} and {ENV_VALUE}; git had AUTHORIZATION: basic {BASIC}"
    leak = {"name": "write_file", "arguments": {"path": "notes.py", "content": f"KEY = '{ENV_VALUE}'\n"}}
    finish = {"name": "finish", "arguments": {"summary": summary}}
    outcome = inproc.run(repo, [{"tool_calls": [FIX, leak]}, {"tool_calls": [finish]}], task=f"fix it, token {GITHUB}")
    assert outcome.commit, outcome.reason
    produced = {
        "commit message": subprocess.run(["git", "log", "-1", "--format=%B", outcome.commit], cwd=repo,
                                         capture_output=True, text=True, check=True).stdout,
        "notification command's stdin": dump.read_text(),
        "journal": "".join(p.read_text(errors="replace") for p in outcome.journal.parent.rglob("*") if p.is_file()),
        "audit": cli("audit", outcome.run_id, "--json", cwd=repo).stdout,
        "runs": cli("runs", "--json", cwd=repo).stdout,
        "show --html": "",
    }
    html = tmp_path / "run.html"
    assert cli("show", outcome.run_id, "--html", str(html), cwd=repo).returncode == 0
    produced["show --html"] = html.read_text()
    assert "fixed it; the keys were" in produced["commit message"]
    assert json.loads(produced["notification command's stdin"])["summary"].startswith("fixed it")
    assert "127.0.0.1" in produced["audit"] and "notes.py" in produced["show --html"]
    for where, text in produced.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret[:12]}… in the {where}"
