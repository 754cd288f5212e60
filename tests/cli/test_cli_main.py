"""The CLI's wiring: every command is reachable from `agentic.cli.main`, `--help` lists them without
importing what they run, and errors are rendered in one place (message, hint, exit code, no traceback)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from agentic.cli import main
from agentic.errors import AgenticError, ConfigError, ProviderError, SandboxUnavailable, UsageError

ROOT = Path(__file__).resolve().parents[2]


def _first_paragraph(text: str) -> str:
    return " ".join(text.strip().split("\n\n")[0].split())


@pytest.mark.parametrize("name", list(main.Commands.lazy))
def test_each_summary_is_the_first_paragraph_of_its_commands_help(name: str) -> None:
    command = main.Commands.lazy[name].load()
    assert command.help is not None
    assert " ".join(main.Commands.lazy[name].summary.split()) == _first_paragraph(command.help)


def test_every_command_a_module_defines_is_wired() -> None:
    wired = {(entry.module, entry.typer_name, entry.command) for entry in main.Commands.lazy.values()}
    for module, typer_name, command in list(wired):
        if command is None:
            continue
        group = typer.main.get_group(getattr(importlib.import_module(module), typer_name))
        missing = [name for name in group.commands if (module, typer_name, name) not in wired]
        assert not missing, f"{module}.{typer_name} defines {missing}, which agentic.cli.main does not list"


def _loaded_by(*argv: str) -> set[str]:
    """The modules `agentic ARGV` imports, run in a fresh interpreter."""
    code = ("import runpy, sys\nsys.argv = ['agentic', *sys.argv[1:]]\ntry:\n"
            "    runpy.run_module('agentic', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write(' '.join(sorted(sys.modules)))\n")  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=60, check=True)  # fmt: skip
    assert "Usage:" in done.stdout
    return set(done.stderr.split())


HEAVY = ("openai", "anthropic", "jsonschema", "git", "tree_sitter", "opentelemetry", "jinja2", "yaml", "sqlite3")


def test_help_imports_no_command_module_and_nothing_heavy() -> None:
    loaded = _loaded_by("--help")
    commands = {entry.module for entry in main.Commands.lazy.values()}
    assert not commands & loaded, commands & loaded
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}
    for package in ("agent", "run", "eval", "sandbox", "gate", "tools", "models", "workspace", "config"):
        assert f"agentic.{package}" not in loaded, package


def test_a_commands_help_imports_its_module_only() -> None:
    loaded = _loaded_by("replay", "--help")
    assert "agentic.cli.running" in loaded
    assert not {"agentic.cli.evals", "agentic.cli.history", "agentic.cli.onboarding"} & loaded


def test_an_unknown_command_suggests_the_close_ones() -> None:
    done = CliRunner().invoke(main.app, ["rnu"])
    assert done.exit_code == 2
    assert "No such command 'rnu'. Did you mean 'run'" in done.output


@pytest.mark.parametrize(("error", "code", "label"), [
    (UsageError("no run 'x'", hint="list runs with `agentic runs`"), 2, "error:"),
    (ConfigError("must be an integer", file="c.yaml", line=3, field="limits.max_steps", hint="see docs"), 2,
     "configuration error:"),
    (SandboxUnavailable("no bubblewrap", hint="install bubblewrap"), 2, "error:"),
    (ProviderError("HTTP 500", hint="try again"), 4, "error:"),
])  # fmt: skip
def test_main_renders_an_error_with_its_hint_and_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: AgenticError, code: int, label: str
) -> None:
    def fail() -> None:
        raise error

    monkeypatch.setattr(main, "app", fail)
    with pytest.raises(SystemExit) as exited:
        main.main()
    assert exited.value.code == code
    said = capsys.readouterr().err
    assert said.startswith(f"{label} {error.message}")
    assert f"hint: {error.hint}" in said and "Traceback" not in said
