"""`agentic contract explain`: the verdict, the rule and the reason for a tool call, for people and CI."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import cli, make_repo


def test_a_script_is_explained_command_by_command(tmp_path: Path) -> None:
    done = cli("contract", "explain", "run_command", "cd src && python x.py | head -5", "--contract", "default",
               cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["allow", "tools.run_command.allow"]
    commands = [line.split() for line in lines if line.startswith("  ")]
    assert [c[:3] for c in commands] == [["allow", "command", "cd"], ["allow", "command", "python"],
                                         ["allow", "command", "head"]]  # fmt: skip
    assert commands[0][-1] == "shell-builtin" and commands[1][-1] == "tools.run_command.allow"


def test_json_has_the_verdict_rule_reason_and_commands(tmp_path: Path) -> None:
    done = cli("contract", "explain", "run_command", "pytest -q; curl http://example.com > out.txt", "--json",
               "--contract", "default", cwd=tmp_path)  # fmt: skip
    decision = json.loads(done.stdout)
    assert set(decision) == {"verdict", "rule", "reason", "commands"}
    assert decision["verdict"] == "deny" and "'curl *'" in decision["rule"] and "network" in decision["reason"]
    assert [(c["kind"], c["text"], c["verdict"]) for c in decision["commands"]] == [
        ("command", "pytest -q", "allow"), ("command", "curl http://example.com", "deny"),
        ("write", "out.txt", "allow")]  # fmt: skip


def test_file_tools_are_explained_by_path(tmp_path: Path) -> None:
    done = cli("contract", "explain", "write_file", "tests/test_x.py", "--json", "--contract", "default", cwd=tmp_path)
    assert json.loads(done.stdout) == {"verdict": "deny", "rule": "protected 'tests/**'",
                                       "reason": "tests/test_x.py is protected by the contract", "commands": []}  # fmt: skip
    done = cli("contract", "explain", "read_file", "src/app.py", "--contract", "strict", cwd=tmp_path)
    assert done.stdout.split()[:2] == ["allow", "tools.read_file.allow"]


def test_the_repository_contract_is_used_by_default(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")  # its contract allows `echo *` and unittest, nothing else
    assert cli("contract", "explain", "run_command", "echo hi", "--json", cwd=repo).stdout.count('"allow"') >= 1
    denied = json.loads(cli("contract", "explain", "run_command", "ls", "--json", cwd=repo).stdout)
    assert (denied["verdict"], denied["rule"]) == ("deny", "tools.run_command")


def test_batch_reads_json_lines_and_writes_one_decision_a_line(tmp_path: Path) -> None:
    calls = [
        {"tool": "run_command", "args": {"command": 'eval "$x"'}},
        {"tool": "read_file", "args": {"path": ".env"}},
        {"tool": "nope", "args": {}},
        "not an object",
        {"tool": "write_file", "args": {"path": "src/a.py"}},
    ]
    stdin = "\n".join(json.dumps(c) for c in calls) + "\n\n{broken\n"
    done = cli("contract", "explain", "run_command", "--batch", "--contract", "default", cwd=tmp_path, input=stdin)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o.get("verdict") for o in out] == ["ask", "deny", None, None, "allow", None]
    assert out[0]["rule"] == "unknown eval" and out[0]["commands"][0]["verdict"] == "ask"
    assert "unknown tool 'nope'" in out[2]["error"] and out[3]["error"].startswith("line 4:")
    assert out[5]["error"].startswith("line 7:")


def test_usage_errors_exit_2_with_a_message(tmp_path: Path) -> None:
    done = cli("contract", "explain", "shell", "ls", "--contract", "default", cwd=tmp_path)
    assert done.returncode == 2 and "unknown tool 'shell'" in done.stderr and "Traceback" not in done.stderr
    done = cli("contract", "explain", "run_command", "--contract", "default", cwd=tmp_path)
    assert done.returncode == 2 and "give the script" in done.stderr
    bad = tmp_path / "c.yaml"
    bad.write_text("version: 1\ntools:\n  run_command: {deny: [{pattern: 'x *'}]}\n")
    done = cli("contract", "explain", "run_command", "ls", "--contract", str(bad), cwd=tmp_path)
    assert done.returncode == 2 and "c.yaml:3" in done.stderr and "Traceback" not in done.stderr
