"""`agentic init`: test-command detection on real repositories, the files it writes (and refuses to
overwrite), the non-interactive flags, the prompts, and `.agentic/` kept out of git."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from agentic.cli import init
from agentic.config.settings import load_settings
from agentic.git.cmd import git
from agentic.policy.contract import load_contract
from tests.conftest import cli, write

NPM_DEFAULT = {"scripts": {"test": 'echo "Error: no test specified" && exit 1'}}


def new_repo(root: Path, files: dict[str, str] | None = None, commit: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in (files or {}).items():
        write(root / rel, text)
    git(["init", "--quiet", "--initial-branch=main"], root)
    git(["config", "user.name", "Test Person"], root)
    git(["config", "user.email", "test@example.invalid"], root)
    if commit:
        git(["add", "--all"], root)
        git(["commit", "--quiet", "--allow-empty", "-m", "initial"], root)
    return root


ECOSYSTEMS = {
    "pyproject": ({"pyproject.toml": "[project]\nname = 'x'\n", "src/x.py": ""}, ["python", "-m", "pytest", "-q"]),
    "setup.cfg": ({"setup.cfg": "[metadata]\nname = x\n"}, ["python", "-m", "pytest", "-q"]),
    "pytest.ini": ({"pytest.ini": "[pytest]\n"}, ["python", "-m", "pytest", "-q"]),
    "conftest": ({"conftest.py": ""}, ["python", "-m", "pytest", "-q"]),
    "tests dir": ({"tests/test_x.py": "def test_x():\n    pass\n"}, ["python", "-m", "pytest", "-q"]),
    "npm": ({"package.json": json.dumps({"scripts": {"test": "jest"}}), "tests/a.test.js": ""}, ["npm", "test"]),
    "cargo": ({"Cargo.toml": "[package]\nname = 'x'\n", "tests/it.rs": ""}, ["cargo", "test"]),
    "go": ({"go.mod": "module example.com/x\n"}, ["go", "test", "./..."]),
    "make": ({"Makefile": "build:\n\tcc x.c\n\ntest: build\n\t./run-tests\n"}, ["make", "test"]),
}


@pytest.mark.parametrize("kind", list(ECOSYSTEMS))
def test_each_detector_on_a_real_repository(tmp_path: Path, kind: str) -> None:
    files, argv = ECOSYSTEMS[kind]
    found = init.detect_test_command(new_repo(tmp_path / "r", files))
    assert found is not None and list(found.argv) == argv


@pytest.mark.parametrize("files", [
    {},
    {"package.json": json.dumps(NPM_DEFAULT)},           # npm init's test script always fails
    {"package.json": json.dumps({"scripts": {"build": "tsc"}})},
    {"package.json": "{not json"},
    {"Makefile": "build:\n\tcc x.c\ntest_dir := t\n"},     # a variable, not a target
    {"tests/fixtures/data.txt": "x"},                    # a tests dir without Python
])  # fmt: skip
def test_nothing_detected(tmp_path: Path, files: dict[str, str]) -> None:
    assert init.detect_test_command(new_repo(tmp_path / "r", files)) is None


def test_python_markers_win_over_a_makefile_and_tests_dir_loses_to_cargo(tmp_path: Path) -> None:
    both = new_repo(tmp_path / "a", {"pyproject.toml": "", "Makefile": "test:\n\tpytest\n"})
    assert [d.argv[0] for d in init.detect_test_commands(both)] == ["python", "make"]
    rust = new_repo(tmp_path / "b", {"Cargo.toml": "", "tests/helper.py": ""})
    assert init.detect_test_command(rust).argv == ("cargo", "test")  # type: ignore[union-attr]


def check_ok(repo: Path) -> None:
    done = cli("contract", "check", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid" in done.stdout


@pytest.mark.parametrize("kind", ["pyproject", "npm", "cargo", "go", "make"])
def test_init_writes_settings_and_a_contract_that_checks(tmp_path: Path, kind: str) -> None:
    files, argv = ECOSYSTEMS[kind]
    repo = new_repo(tmp_path / "r", files)
    done = cli("init", cwd=repo)  # stdin is not a terminal: non-interactive, defaults
    assert done.returncode == 0, done.stderr
    assert "wrote .agentic.yaml" in done.stdout and "wrote policies/contract.yaml" in done.stdout
    assert "agentic doctor" in done.stdout and "agentic run" in done.stdout
    settings = load_settings(repo, environ={})
    assert settings.model == init.DEFAULT_MODEL and settings.contract == "policies/contract.yaml"
    contract = load_contract(settings.contract, repo)
    assert list(contract.test_command) == argv
    tests = next(inv for inv in contract.invariants if inv.id == "tests-pass")
    if argv[0] == "python":
        assert tests.check == {"tests": True}  # pytest: the gate reads its report
    else:
        assert tests.check == {"command": argv}  # judged by its exit status, and the contract says so
        assert "judged by the exit status" in (repo / "policies" / "contract.yaml").read_text()
        manifest = next(name for name in files if name in ("package.json", "Cargo.toml", "go.mod", "Makefile"))
        assert manifest in contract.protected  # the agent cannot redefine what the tests are
    check_ok(repo)


def test_agentic_dir_is_excluded_from_git(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "r", {"pyproject.toml": ""}, commit=False)  # a repository without commits works
    done = cli("init", "--yes", cwd=repo)
    assert done.returncode == 0, done.stderr
    write(repo / ".agentic" / "runs" / "x" / "journal.jsonl", "{}\n")
    ignored = git(["check-ignore", ".agentic/runs/x/journal.jsonl"], repo).strip()
    assert ignored == ".agentic/runs/x/journal.jsonl"
    assert git(["check-ignore", ".agentic.yaml", "policies/contract.yaml"], repo, check=False).strip() == ""
    again = cli("init", "--yes", "--force", cwd=repo)  # excluded once, not twice
    assert again.returncode == 0
    assert (repo / ".git" / "info" / "exclude").read_text().splitlines().count("/.agentic/") == 1


def test_existing_files_are_never_overwritten_without_force(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "r", {"pyproject.toml": ""})
    (repo / ".agentic.yaml").write_text("model: anthropic:claude-mine\n")
    done = cli("init", "--yes", cwd=repo)
    assert done.returncode == 2 and ".agentic.yaml already exists" in done.stderr and "--force" in done.stderr
    assert (repo / ".agentic.yaml").read_text() == "model: anthropic:claude-mine\n"
    assert not (repo / "policies" / "contract.yaml").exists()  # nothing half-written

    (repo / ".agentic.yaml").unlink()
    write(repo / "policies" / "contract.yaml", "version: 1\n")
    done = cli("init", "--yes", cwd=repo)
    assert done.returncode == 2 and "policies/contract.yaml already exists" in done.stderr
    assert (repo / "policies" / "contract.yaml").read_text() == "version: 1\n" and not (repo / ".agentic.yaml").exists()

    forced = cli("init", "--yes", "--force", cwd=repo)
    assert forced.returncode == 0, forced.stderr
    assert "agentic init" in (repo / "policies" / "contract.yaml").read_text()
    check_ok(repo)


def test_non_interactive_flags(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "r", {"pyproject.toml": "", "Makefile": "test:\n\tpytest\n"})
    done = cli("init", "--preset", "strict", "--model", "anthropic:claude-sonnet-4-5", "--test-command",
               "make test", "--contract-path", "ci/agentic.yaml", cwd=repo)  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = yaml.safe_load((repo / ".agentic.yaml").read_text())
    assert data == {"model": "anthropic:claude-sonnet-4-5", "contract": "ci/agentic.yaml"}
    text = (repo / "ci" / "agentic.yaml").read_text()
    assert "`strict` preset" in text and "test_command: [make, test]" in text
    contract = load_contract("ci/agentic.yaml", repo)
    assert contract.limits.max_gate_attempts == 2  # the strict preset's
    assert "ci/agentic.yaml" in contract.protected and "Makefile" in contract.protected
    check_ok(repo)


@pytest.mark.parametrize("args, message", [
    (["--preset", "lenient"], "unknown preset 'lenient'"),
    (["--model", "gpt-4"], "is not provider:model"),
    (["--test-command", "  "], "the test command is empty"),
    (["--test-command", "make test", "--no-tests"], "exclude each other"),
    (["--contract-path", "../outside.yaml"], "inside the repository"),
    (["--contract-path", ".agentic.yaml"], "reserved"),
])  # fmt: skip
def test_bad_flags_are_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    repo = new_repo(tmp_path / "r", {"pyproject.toml": ""})
    done = cli("init", "--yes", *args, cwd=repo)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert not (repo / ".agentic.yaml").exists()


def test_no_test_command_is_an_error_unless_a_placeholder_is_chosen(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "r", {"README.md": "hello\n"})
    done = cli("init", "--yes", cwd=repo)
    assert done.returncode == 2 and "no test command found" in done.stderr and "--no-tests" in done.stderr
    assert not (repo / ".agentic.yaml").exists() and not (repo / "policies").exists()

    chosen = cli("init", "--yes", "--no-tests", cwd=repo)
    assert chosen.returncode == 0, chosen.stderr
    assert "every run is rejected until you set test_command" in chosen.stdout
    contract = load_contract("policies/contract.yaml", repo)
    assert contract.test_command[:2] == ("sh", "-c") and "no test command is set yet" in contract.test_command[2]
    tests = next(inv for inv in contract.invariants if inv.id == "tests-pass")
    assert tests.check == {"command": list(contract.test_command)}  # the gate fails, saying why
    check_ok(repo)


def test_not_a_git_repository(tmp_path: Path) -> None:
    done = cli("init", "--yes", cwd=tmp_path)
    assert done.returncode == 2 and "not inside a git repository" in done.stderr


def test_every_preset_with_every_kind_of_test_command_validates(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "r", {"package.json": json.dumps({"scripts": {"test": "jest"}}), "go.mod": ""})
    for preset in init.PRESETS:
        for argv in (init.PYTEST, ("python", "-m", "unittest"), ("npm", "test"), ("go", "test", "./..."), None):
            files = init.plan(repo, init.Choices(preset=preset, test_command=argv))  # validates, examples too
            assert [f.rel for f in files] == [".agentic.yaml", "policies/contract.yaml"]


def test_prompts_ask_for_preset_model_and_test_command(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "r", {"go.mod": "module x\n"})
    console = Console(file=io.StringIO(), width=120)
    given = init.choices_from_flags(repo, require_tests=False)
    answers = io.StringIO("strict\nnot a model\nanthropic:claude-sonnet-4-5\n\n")  # Enter: the detected command
    choices = init.prompt_choices(repo, given, console, stream=answers)
    assert (choices.preset, choices.model, choices.test_command) == ("strict", "anthropic:claude-sonnet-4-5",
                                                                     ("go", "test", "./..."))  # fmt: skip
    assert choices.detection is not None and choices.detection.reason == "go.mod"
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "is not provider:model" in shown and "readonly" in shown and "detected from go.mod" in shown


def test_prompt_without_a_detected_command_offers_a_placeholder_only_when_confirmed(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "r")
    console = Console(file=io.StringIO(), width=120)
    given = init.choices_from_flags(repo, require_tests=False)
    typed = init.prompt_choices(repo, given, console, stream=io.StringIO("\nn\ncargo test --workspace\n"),
                                ask_preset=False, ask_model=False)  # fmt: skip
    assert typed.test_command == ("cargo", "test", "--workspace") and typed.preset == "default"
    placeholder = init.prompt_choices(repo, given, console, stream=io.StringIO("\ny\n"), ask_preset=False,
                                      ask_model=False)  # fmt: skip
    assert placeholder.test_command is None
