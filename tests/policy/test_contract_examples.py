"""`agentic contract check`: rules carry examples, and the check verifies each against `policy.decide`.

Exit codes: 0 valid and every example gets its expected verdict, 1 a mismatch (printed with file:line,
expected and actual verdict, and the rule), 2 an invalid contract.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agentic.policy.contract import PRESETS, load_contract_file
from tests.conftest import cli

ROOT = Path(__file__).resolve().parents[2]

CONTRACT = """\
version: 1
protected: ["tests/**"]
tools:
  read_file:
    allow: true
    deny: [".env*"]
    examples:
      allow: [src/app.py]
      deny: [.env, .env.local]
  write_file:
    allow: ["src/**"]
    examples:
      allow: [src/app.py]
      deny:
        - tests/test_app.py
        - docs/x.md
  delete_file:
    ask: true
    examples: {ask: [src/old.py]}
  run_command:
    allow: ["pytest *"]
    examples:
      allow: ["pytest -q", "timeout 5 pytest -q"]
      deny: ["pytest -p evil", "sudo pytest", "pytest; sh"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "contract.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_passes_contract_check(name: str) -> None:
    done = cli("contract", "check", f"policies/{name}.yaml", cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "examples verified" in done.stdout
    count = int(done.stdout.split("examples verified")[0].split()[-1])
    assert count >= 15  # the presets exercise their rules
    by_name = cli("contract", "check", name, cwd=ROOT / "agentic")  # a preset name, not a file here
    assert by_name.returncode == 0 and f"preset:{name}" in by_name.stdout


def test_examples_that_hold_exit_0_with_a_count(tmp_path: Path) -> None:
    done = cli("contract", "check", str(write(tmp_path, CONTRACT)), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid" in done.stdout and "12 examples verified" in done.stdout


def test_examples_are_loaded_with_their_lines(tmp_path: Path) -> None:
    contract = load_contract_file(write(tmp_path, CONTRACT))
    where = {(e.tool, e.expected, e.subject): e.line for e in contract.examples}
    assert where[("read_file", "deny", ".env.local")] == 9
    assert where[("write_file", "deny", "docs/x.md")] == 16
    assert where[("run_command", "deny", "sudo pytest")] == 24
    assert all(e.file == str(tmp_path / "contract.yaml") for e in contract.examples)


WRONG = """\
version: 1
tools:
  read_file:
    allow: true
    deny: [".env*"]
    examples:
      allow: [src/app.py, .env]
  delete_file:
    ask: true
    examples: {allow: [src/old.py]}
  run_command:
    allow: ["pytest *"]
    examples:
      allow:
        - pytest -q
        - pytest -p evil
      ask: [timeout 5 pytest]
"""


def test_a_mismatch_exits_1_with_file_line_verdicts_and_rule(tmp_path: Path) -> None:
    path = write(tmp_path, WRONG)
    done = cli("contract", "check", str(path), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "Traceback" not in out + done.stderr
    assert (
        f"{path}:7: read_file example '.env': expected allow, got deny by rule tools.read_file.deny[0] '.env*'"
        in out
    )
    assert (
        f"{path}:10: delete_file example 'src/old.py': expected allow, got ask by rule tools.delete_file.ask"
        in out
    )
    assert (
        f"{path}:16: run_command example 'pytest -p evil': expected allow, got deny by rule dangerous-flag pytest -p"
        in out
    )
    assert (f"{path}:17: run_command example 'timeout 5 pytest': expected ask, got allow by rule "
            "wrapper timeout → tools.run_command.allow[0] 'pytest *'") in out  # fmt: skip
    assert "src/app.py" not in out and "'pytest -q'" not in out  # only mismatches are listed
    assert "4 of 6 examples do not get their expected verdict" in out
    assert "examples verified" not in out


@pytest.mark.parametrize(
    ("snippet", "field"),
    [
        ("  run_tests: {allow: true, examples: {allow: [x]}}\n", "tools.run_tests.examples"),
        ("  read_file: {allow: true, examples: {maybe: [x]}}\n", "tools.read_file.examples.maybe"),
        ("  read_file: {allow: true, examples: {deny: [1]}}\n", "tools.read_file.examples.deny[0]"),
        ("  read_file: {allow: true, examples: {deny: ['']}}\n", "tools.read_file.examples.deny[0]"),
        ("  run_command: {allow: [pytest], examples: [pytest]}\n", "tools.run_command.examples"),
    ],
)
def test_malformed_examples_are_configuration_errors(tmp_path: Path, snippet: str, field: str) -> None:
    path = write(tmp_path, "version: 1\ntools:\n" + snippet)
    done = cli("contract", "check", str(path), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{path}:3: {field}" in done.stderr


def test_invalid_contract_still_exits_2_and_missing_file_too(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\ntools:\n  read_file: {allow: [../x], examples: {allow: [a]}}\n")
    done = cli("contract", "check", str(path), cwd=tmp_path)
    assert done.returncode == 2 and "bad glob" in done.stderr
    done = cli("contract", "check", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert done.returncode == 2 and "not found" in done.stderr


def test_a_contract_without_examples_checks_zero(tmp_path: Path) -> None:
    done = cli("contract", "check", str(write(tmp_path, "version: 1\ntools:\n  read_file: {allow: true}\n")),
               cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0 and "0 examples verified" in done.stdout


def test_the_repository_contract_is_checked_by_default(repo: Path) -> None:
    text = "version: 1\ntools:\n  read_file:\n    deny: ['.env*']\n    examples: {deny: [.env], allow: [.env.example]}\n"
    (repo / "policies" / "contract.yaml").write_text(text, encoding="utf-8")
    done = cli("contract", "check", cwd=repo)
    assert done.returncode == 1, done.stdout + done.stderr
    assert ("policies/contract.yaml:5: read_file example '.env.example': expected allow, got deny by rule "
            "tools.read_file.deny[0] '.env*'") in done.stdout  # fmt: skip
    assert "1 of 2 examples" in done.stdout
