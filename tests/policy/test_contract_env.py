"""The command environment is documented and configurable (issue 13, point 2): the contract's `env`
sets or removes variables for every sandboxed command, `env_passthrough` passes named host variables,
and nothing that looks like a secret ever passes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from agentic.errors import ConfigError
from agentic.policy.contract import command_env, parse_contract
from agentic.sandbox import make_sandbox
from agentic.util.yamlfile import parse
from tests.conftest import CONTRACT, FINISH, FIX, cli, make_repo, write_script

SECRET = "sk-" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6"


def contract_with(text: str) -> str:
    return yaml.safe_dump(CONTRACT, sort_keys=False) + text


def load(text: str):  # type: ignore[no-untyped-def]
    return parse_contract(parse(text, "policies/contract.yaml"), text, None)


def test_env_sets_and_removes_variables_and_passthrough_passes_named_ones(tmp_path: Path) -> None:
    contract = load(contract_with("env: {PYTHONPATH: src, TERM: xterm-256color, NO_COLOR: null}\n"
                                  "env_passthrough: [AGENTIC_TEST_LOCALE, AGENTIC_TEST_UNSET]\n"))  # fmt: skip
    variables = command_env(contract, {"AGENTIC_TEST_LOCALE": "de_DE.UTF-8"})
    assert variables == {"AGENTIC_TEST_LOCALE": "de_DE.UTF-8", "PYTHONPATH": "src", "TERM": "xterm-256color",
                         "NO_COLOR": None}  # fmt: skip
    worktree = tmp_path / "wt"
    worktree.mkdir()
    box = make_sandbox(worktree, [], env=variables)
    seen = dict(line.split("=", 1) for line in box.run(["env"], timeout_s=30).output.splitlines() if "=" in line)
    box.close()
    assert seen["PYTHONPATH"] == "src" and seen["TERM"] == "xterm-256color" and "NO_COLOR" not in seen
    assert seen["AGENTIC_TEST_LOCALE"] == "de_DE.UTF-8" and "AGENTIC_TEST_UNSET" not in seen
    assert seen["HOME"] == "/tmp" and seen["GIT_CONFIG_KEY_0"] == "safe.directory"  # defaults stay


@pytest.mark.parametrize(("text", "message"), [
    ("env: {OPENAI_API_KEY: x}\n", "OPENAI_API_KEY looks like a secret's name"),
    ("env: {DB_PASSWORD: x}\n", "DB_PASSWORD looks like a secret's name"),
    (f"env: {{SETTINGS: {SECRET}}}\n", "the value of SETTINGS looks like a secret"),
    ("env: {GIT_CONFIG_COUNT: '0'}\n", "GIT_CONFIG_COUNT keeps git safe"),
    ("env_passthrough: [LANG, GITHUB_TOKEN]\n", "GITHUB_TOKEN looks like a secret's name"),
    ("env: {'bad name': x}\n", "bad name"),
])  # fmt: skip
def test_secrets_are_refused_where_the_contract_names_them(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(contract_with(text))
    assert message in str(raised.value) and "policies/contract.yaml:" in str(raised.value)


def test_a_passed_through_value_that_looks_like_a_secret_stops_the_run_before_it_starts(tmp_path: Path) -> None:
    contract = {**CONTRACT, "env_passthrough": ["AGENTIC_TEST_SETTING"]}
    repo = make_repo(tmp_path / "repo", contract)
    script = write_script(tmp_path / "turns.yaml", [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    done = cli("run", "fix", "--model", f"script:{script}", cwd=repo, env={"AGENTIC_TEST_SETTING": SECRET})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the value of AGENTIC_TEST_SETTING looks like a secret" in done.stderr and "Traceback" not in done.stderr
    assert SECRET not in done.stderr + done.stdout
    assert not (repo / ".agentic" / "runs").exists() or not any((repo / ".agentic" / "runs").iterdir())
    branches = subprocess.run(["git", "branch", "--list", "agentic/*"], cwd=repo, capture_output=True, text=True)
    assert branches.stdout.strip() == ""  # nothing of the run was created


def test_files_the_contract_denies_to_read_file_are_empty_for_commands_too(tmp_path: Path) -> None:
    from tests import inproc

    tools = {**CONTRACT["tools"], "run_command": {"allow": ["*"], "timeout_s": 30},
             "read_file": {"allow": True, "deny": [".env*", "**/.env*"]}}  # fmt: skip
    repo = make_repo(tmp_path / "repo", {**CONTRACT, "tools": tools})
    (repo / "config").mkdir()
    (repo / "config" / ".env.local").write_text("API_TOKEN=canary-local-0123456789\n", encoding="utf-8")
    subprocess.run(["git", "add", "-f", "config"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "local env"], cwd=repo, check=True)
    look = {"name": "run_command", "arguments": {"command": (
        "cat .env config/.env.local; wc -c .env; grep -r canary . | wc -l; git status --short; git diff HEAD; "
        "git show HEAD:.env; git log -p | grep -c canary-; git --no-replace-objects show HEAD:.env 2>&1 | head -1")}}
    outcome = inproc.run(repo, [{"tool_calls": [look]}, {"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    assert outcome.status == "accepted", outcome.reason
    shown = inproc.tool_results(outcome)[0]["content"]
    assert "canary-" not in "\n".join(shown.splitlines()[1:]), shown
    lines = shown.splitlines()[1:]
    assert lines[:2] == ["0 .env", "0"]  # empty; git sees no change either, and no commit shows it
    assert lines[2] == "0" and "fatal: bad object" in lines[3], lines  # not in the view's objects: no flag helps
    assert (repo / ".env").read_text(encoding="utf-8").startswith("SECRET_TOKEN=canary")  # the person's file is whole


@pytest.mark.parametrize(("read_file", "expected"), [
    ({"allow": True}, ()), ({"deny": True}, ()), ({"allow": True, "deny": [".env*", "*.pem"]}, (".env*", "*.pem")),
])  # fmt: skip
def test_the_secret_globs_are_the_read_files_deny_patterns_only(read_file: dict, expected: tuple) -> None:  # type: ignore[type-arg]
    from agentic.run.confine import secret_globs

    text = yaml.safe_dump({**CONTRACT, "tools": {**CONTRACT["tools"], "read_file": read_file}})
    assert secret_globs(load(text)) == expected
