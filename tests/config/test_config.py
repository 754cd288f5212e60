"""Settings and contracts: validation errors name file, line and field; precedence holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentic.config.settings import load_settings
from agentic.errors import ConfigError
from agentic.policy.contract import PRESETS, load_contract, load_contract_file
from tests.conftest import cli, write

GOOD = """\
version: 1
tools:
  read_file: {allow: true}
invariants:
  - {id: t, check: {tests: true}}
"""


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        ("version: 1\ntools:\n  read_file: {allow: [\n", 4, None, "invalid YAML"),
        (
            "version: 1\nlimits:\n  max_steps: 3\n  max_step: 4\n",
            4,
            "limits.max_step",
            "unknown key 'max_step'",
        ),
        ("version: 1\nlimits:\n  max_steps: many\n", 3, "limits.max_steps", "expected integer"),
        (
            "version: 1\ntools:\n  read_file: {allow: true}\n  shell: {allow: true}\n",
            4,
            "tools.shell",
            "unknown key 'shell'",
        ),
        (
            "version: 1\ntools:\n  write_file:\n    allow: ['src/**', 'a[b']\n",
            4,
            "tools.write_file.allow[1]",
            "bad glob",
        ),
        (
            "version: 1\ntools:\n  write_file:\n    allow: ['../x']\n",
            4,
            "tools.write_file.allow[0]",
            "bad glob",
        ),
        ("version: 1\nversion: 1\n", 2, None, "duplicate key 'version'"),
        ("version: 2\n", 1, "version", ""),
        (
            "version: 1\ninvariants:\n  - {id: a, check: {tests: true}}\n  - {id: a, check: {no_secrets: true}}\n",
            4,
            "invariants[1].id",
            "duplicate invariant id",
        ),
        (
            "version: 1\ninvariants:\n  - id: a\n    check: {tests: true, no_secrets: true}\n",
            4,
            "invariants[0].check",
            "",
        ),
        ("- just\n- a list\n", 1, None, "mapping"),
        (
            "version: 1\ntools:\n  run_command: {allow: ['pytest \"unclosed']}\n",
            3,
            "tools.run_command.allow[0]",
            "bad command pattern",
        ),
    ],
)
def test_contract_errors_name_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str | None, words: str
) -> None:
    path = tmp_path / "contract.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_contract_file(path)
    err = info.value
    assert err.file == str(path)
    assert err.line == line
    assert err.field == field
    assert words in err.message
    assert err.exit_code == 2


def test_good_contract_and_presets_load(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(GOOD, encoding="utf-8")
    contract = load_contract_file(path)
    assert contract.tools["read_file"].allow is True
    assert contract.invariants[0].kind == "tests"
    assert contract.limits.max_steps == 40
    assert ".git/**" in contract.protected
    for name in PRESETS:
        preset = load_contract(name, None)
        assert preset.source == f"preset:{name}"
        assert preset.invariants


def test_repo_contract_protects_itself(tmp_path: Path) -> None:
    write(tmp_path / "policies" / "contract.yaml", GOOD)
    contract = load_contract("policies/contract.yaml", tmp_path)
    assert "policies/contract.yaml" in contract.protected
    with pytest.raises(ConfigError, match="contract file not found"):
        load_contract("nope.yaml", tmp_path)


def test_settings_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    write(home / "agentic" / "config.yaml", "model: openai:user-model\nmax_output_tokens: 5\nstream: true\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    repo = tmp_path / "repo"
    write(repo / ".agentic.yaml", "model: anthropic:repo-model\nmax_output_tokens: 4\n")
    env = {"AGENTIC_MAX_OUTPUT_TOKENS": "3"}
    settings = load_settings(repo, {"model": None}, environ=env)
    assert settings.model == "anthropic:repo-model"
    assert settings.max_output_tokens == 3
    assert settings.stream is True
    assert settings.origins["max_output_tokens"] == "env AGENTIC_MAX_OUTPUT_TOKENS"
    assert settings.origins["stream"].endswith("config.yaml")
    flagged = load_settings(repo, {"model": "script:x.yaml"}, environ=env)
    assert flagged.model == "script:x.yaml"
    assert flagged.origins["model"] == "flag --model"


def test_settings_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nohome"))
    write(tmp_path / ".agentic.yaml", "model: openai:x\ntemperature: hot\n")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, environ={})
    assert info.value.line == 2 and info.value.field == "temperature"
    write(tmp_path / ".agentic.yaml", "model: openai:x\n")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, environ={"AGENTIC_MAX_OUTPUT_TOKENS": "-1"})
    assert "AGENTIC_MAX_OUTPUT_TOKENS" in str(info.value)


def test_cli_renders_config_errors_without_traceback(tmp_path: Path, repo: Path) -> None:
    (repo / "policies" / "contract.yaml").write_text(
        "version: 1\nlimits:\n  max_steps: lots\n", encoding="utf-8"
    )
    done = cli("run", "do it", "--model", "script:none.yaml", cwd=repo)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "policies/contract.yaml:3: limits.max_steps: expected integer" in done.stderr
    done = cli("contract", "check", "policies/contract.yaml", cwd=repo)
    assert done.returncode == 2 and "limits.max_steps" in done.stderr


def test_cli_usage_errors(tmp_path: Path, repo: Path) -> None:
    done = cli("run", "task", cwd=tmp_path)
    assert done.returncode == 2 and "not inside a git repository" in done.stderr
    done = cli("run", "task", "--model", "nope:x", cwd=repo)
    assert done.returncode == 2 and "unknown model" in done.stderr
    done = cli("run", "task", cwd=repo, env={"XDG_CONFIG_HOME": str(tmp_path / "empty")})
    assert done.returncode == 2 and "no model configured" in done.stderr
    done = cli("show", "nosuchrun", cwd=repo)
    assert done.returncode == 2 and "no run" in done.stderr
    (repo / "bad.yaml").write_text("- {text: hi, tool_calls: [{arguments: {}}]}\n", encoding="utf-8")
    done = cli("run", "task", "--model", "script:bad.yaml", cwd=repo)
    assert done.returncode == 2 and "bad.yaml:1" in done.stderr and "Traceback" not in done.stderr
    for done in (cli("run", "--help", cwd=repo), cli("--help", cwd=repo)):
        assert done.returncode == 0


def test_non_utf8_files_are_config_errors(tmp_path: Path, repo: Path) -> None:
    (repo / "policies" / "contract.yaml").write_bytes(b"\xff\xfeversion: 1\n")
    done = cli("contract", "check", cwd=repo)
    assert done.returncode == 2 and "not UTF-8" in done.stderr and "Traceback" not in done.stderr
    (repo / ".agentic.yaml").write_bytes(b"model: \xff\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(repo, environ={})
