"""`agentic init`: write `.agentic.yaml` and a contract from a preset, and keep `.agentic/` out of git.

The logic is plain functions over a repository directory (detect the test command, render both
files, check that nothing would be overwritten, write); `prompt_choices` is the only part that talks
to a person, and the CLI calls it only at a terminal. The contract is rendered from the preset's text
(comments and anchors kept) with the test command swapped in, and is validated, examples included,
before anything is written: init never leaves a contract that `agentic contract check` rejects.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml
from rich.console import Console
from rich.markup import escape
from rich.prompt import Confirm, Prompt

from agentic.config.settings import DEFAULT_CONTRACT, REPO_FILE
from agentic.errors import ConfigError, UsageError
from agentic.gate.detect import MAKEFILES, Candidate, Findings, detect
from agentic.gate.pins import protect_globs
from agentic.git.cmd import git, run_git
from agentic.policy.contract import PRESETS, is_pytest, is_unittest, parse_contract, preset_text
from agentic.policy.engine import check_examples
from agentic.tools import builtin_tools
from agentic.util import safeyaml, yamlfile
from agentic.workspace import ensure_excluded, version_files

DEFAULT_MODEL = "openai:gpt-4.1-mini"
PYTEST = ("python", "-m", "pytest", "-q")
# The files that define how a runner's tests run: protected, so the agent cannot redefine "pass".
MANIFESTS = {"npm": ("package.json",), "yarn": ("package.json",), "pnpm": ("package.json",),
             "cargo": ("Cargo.toml",), "go": ("go.mod",), "make": MAKEFILES}  # fmt: skip

Detection = Candidate  # a detected test command: its argv, the evidence for it, whether it starts


def detect_test_commands(root: Path) -> list[Detection]:
    """Every test command the repository suggests, best supported first (agentic.detect weighs them)."""
    return list(detect(root).candidates)


def detect_test_command(root: Path) -> Detection | None:
    """The best supported test command that starts in the project's environment, or None."""
    return detect(root).chosen


def parse_test_command(text: str) -> tuple[str, ...]:
    """A test command as typed (`npm test`, `python -m pytest -q tests`) split into argv, never a shell."""
    try:
        argv = tuple(shlex.split(text))
    except ValueError as exc:
        raise UsageError(f"cannot read the test command {text!r}: {exc}") from None
    if not argv:
        raise UsageError("the test command is empty", hint="e.g. --test-command 'python -m pytest -q'")
    return argv


def placeholder_command(contract_path: str) -> tuple[str, ...]:
    """A test command that fails loudly until the person sets a real one: every gate says why."""
    message = f"agentic: no test command is set yet; edit test_command in {contract_path}"
    return ("sh", "-c", f'echo "{message}" >&2; exit 1')


@dataclass(frozen=True)
class Choices:
    preset: str = "default"
    model: str = DEFAULT_MODEL
    test_command: tuple[str, ...] | None = PYTEST  # None: the placeholder (the person chose it)
    contract_path: str = DEFAULT_CONTRACT
    detection: Detection | None = None  # where test_command came from, when it was detected
    findings: Findings | None = None  # all the candidates, when init looked for them


@dataclass(frozen=True)
class PlannedFile:
    rel: str  # relative to the repository root, as shown to people
    text: str
    summary: str


@dataclass
class InitResult:
    written: list[PlannedFile] = field(default_factory=list)
    exclude_file: Path | None = None


def repo_root(start: Path) -> Path:
    """The top of the git work tree holding `start` (a repository without commits is fine)."""
    if not start.is_dir():
        raise UsageError(f"{start} is not a directory")
    done = run_git(["rev-parse", "--show-toplevel"], start)
    if done.returncode != 0 or not done.stdout.strip():
        raise UsageError(f"{start} is not inside a git repository", hint="run `git init` first")
    return Path(done.stdout.strip())


def check_contract_path(rel: str) -> str:
    path = Path(rel)
    if path.is_absolute() or ".." in path.parts or not path.parts or rel.endswith("/"):
        raise UsageError(f"--contract-path {rel!r}: expected a file path inside the repository",
                         hint=f"e.g. {DEFAULT_CONTRACT}")  # fmt: skip
    if path.as_posix() in (REPO_FILE,) or path.parts[0] in (".git", ".agentic"):
        raise UsageError(f"--contract-path {rel!r}: that path is reserved for agentic or git")
    return path.as_posix()


def check_model(model: str) -> str:
    doc = yamlfile.Document("--model", {"model": model}, yamlfile.Locator(None))
    try:
        yamlfile.validate(doc, "settings")
    except ConfigError:
        raise UsageError(f"model {model!r} is not provider:model",
                         hint="e.g. openai:gpt-4.1-mini, anthropic:claude-sonnet-4-5, openai-responses:gpt-4.1, "
                              "script:turns.yaml") from None  # fmt: skip
    return model


def _flow(items: Sequence[str]) -> str:
    return str(yaml.safe_dump(list(items), default_flow_style=True, width=10_000)).strip()


def _manifests(root: Path, argv: Sequence[str]) -> list[str]:
    """What the contract protects for `argv`: the files that define what it runs (runtests.py for
    `python runtests.py`, …) that exist in the repository, and every file its runner reads for its
    configuration, wherever it searches (agentic.pins; the gate also pins them from the base commit)."""
    names = MANIFESTS.get(Path(argv[0]).name, ()) if argv else ()
    if len(argv) > 1 and Path(argv[0]).name.startswith("python") and argv[1] in ("runtests.py", "manage.py"):
        names = (argv[1],)
    found = [name for name in names if (root / name).is_file()]
    return list(dict.fromkeys([*found, *protect_globs(argv)]))


def _replace_line(text: str, key: str, value: str) -> str:
    pattern = re.compile(rf"^{key}:.*$", re.MULTILINE)
    if pattern.search(text):
        return pattern.sub(lambda _: f"{key}: {value}", text, count=1)
    return re.sub(r"^(version: 1)[ \t]*$", lambda m: f"{m.group(1)}\n{key}: {value}", text, count=1,
                  flags=re.MULTILINE)  # fmt: skip


def _protect(text: str, paths: Sequence[str]) -> str:
    listed = set(re.findall(r'^  - "?([^"\n]+?)"?[ \t]*$', text.split("\nlimits:", 1)[0], re.MULTILINE))
    paths = [p for p in paths if p not in listed]
    if not paths:
        return text
    items = "".join(f"\n  - {json.dumps(p)}" for p in paths)
    block = re.compile(r"^protected:[ \t]*$", re.MULTILINE)
    if block.search(text):
        return block.sub(lambda m: m.group(0) + items, text, count=1)
    return re.sub(r"^(test_command:.*)$", lambda m: f"{m.group(1)}\nprotected:{items}", text, count=1,
                  flags=re.MULTILINE)  # fmt: skip


def _tests_check(text: str, argv: Sequence[str], placeholder: bool) -> str:
    """pytest and unittest keep `tests: true` (the gate reads their report); any other command is
    judged by its exit status, said plainly in the contract."""
    if not placeholder and (is_pytest(tuple(argv)) or is_unittest(tuple(argv))):
        return text
    shown = "the placeholder test command (set a real one)" if placeholder else f"`{shlex.join(argv)}`"

    def swap(m: re.Match[str]) -> str:
        indent = m.group(1)
        return (f"{indent}# judged by the exit status of {shown}; if it writes a JUnit XML report,\n"
                f"{indent}# use {{tests: true, junit_report: PATH}} to have the verdict read from that report\n"
                f"{indent}check: {{command: {_flow(argv)}}}")  # fmt: skip

    return re.sub(r"^([ \t]*)check: \{tests: true\}[ \t]*$", swap, text, flags=re.MULTILINE)


def render_contract(root: Path, choices: Choices, generated: list[str]) -> str:
    """The contract: the preset's text with the test command (and the files defining it) swapped in, and
    the `generated` files listed."""
    if choices.preset not in PRESETS:
        raise UsageError(f"unknown preset {choices.preset!r}", hint=f"choose one of: {', '.join(PRESETS)}")
    placeholder = choices.test_command is None
    argv = placeholder_command(choices.contract_path) if placeholder else choices.test_command
    assert argv is not None
    origin = "a placeholder that fails every run until you set one" if placeholder else (
        f"detected from {choices.detection.reason}" if choices.detection else "given")  # fmt: skip
    header = (f"# Written by `agentic init` from the `{choices.preset}` preset; test command: {origin}.\n"
              "# Check it with `agentic contract check`; every key is described in agentic's contract schema.\n")  # fmt: skip
    text = _replace_line(preset_text(choices.preset), "test_command", _flow(argv))
    text = _protect(text, _manifests(root, argv))
    if generated:
        text = re.sub(r"^(test_command:.*)$", lambda m: f"{m.group(1)}\n{GENERATED_NOTE}\ngenerated: {_flow(generated)}",
                      text, count=1, flags=re.MULTILINE)  # fmt: skip
    return header + _tests_check(text, argv, placeholder)


GENERATED_NOTE = ("# ignored files the build writes (pyproject.toml) that the package imports: each run's worktree\n"
                  "# and each gate checkout gets your copy (build it first: pip install -e .)")  # fmt: skip


def generated_files(root: Path) -> list[str]:
    """The version files pyproject.toml has the build write (setuptools-scm, hatch-vcs, versioningit)
    that git does not track: a clean checkout lacks them, so the contract lists them under `generated:`."""
    declared = version_files(root)
    if not declared:
        return []
    tracked = git(["ls-files", "-z", "--", *(f":(top,literal){p}" for p in declared)], root).split("\0")
    return [p for p in declared if p not in tracked]


def render_settings(choices: Choices) -> str:
    body = yaml.safe_dump({"model": choices.model, "contract": choices.contract_path}, sort_keys=False)
    return ("# agentic's settings for this repository (written by `agentic init`). Every key is optional;\n"
            "# see .agentic.yaml.example in agentic's sources. Environment variables (AGENTIC_MODEL, …)\n"
            "# and command-line flags override these values.\n" + body)  # fmt: skip


def validate_files(root: Path, choices: Choices, settings_text: str, contract_text: str) -> None:
    """Both files as `agentic` will read them: schema, globs, invariants and the rules' own examples."""
    doc = yamlfile.parse(settings_text, REPO_FILE)
    yamlfile.validate(doc, "settings")
    contract = parse_contract(yamlfile.parse(contract_text, choices.contract_path), contract_text,
                              choices.contract_path)  # fmt: skip
    kinds = {name: tool.kind for name, tool in builtin_tools().items()}
    failed = [check.describe() for check in check_examples(contract, kinds) if not check.ok]
    if failed:  # the presets are tested: this means the rendering broke a rule
        raise ConfigError(f"the rendered contract fails its own examples: {failed[0]}", file=choices.contract_path)


def plan(root: Path, choices: Choices) -> list[PlannedFile]:
    """The files init would write, validated; nothing is written."""
    settings_text = render_settings(choices)
    generated = generated_files(root)
    contract_text = render_contract(root, choices, generated)
    validate_files(root, choices, settings_text, contract_text)
    command = "placeholder" if choices.test_command is None else shlex.join(choices.test_command)
    command += f"; generated: {', '.join(generated)}" if generated else ""
    return [
        PlannedFile(REPO_FILE, settings_text, f"model {choices.model}, contract {choices.contract_path}"),
        PlannedFile(choices.contract_path, contract_text, f"preset {choices.preset}, test command: {command}"),
    ]


def existing(root: Path, rels: Sequence[str]) -> list[str]:
    return [rel for rel in rels if os.path.lexists(root / rel)]


def refuse_overwrite(root: Path, rels: Sequence[str], force: bool) -> None:
    """Never overwrite silently: an existing file is an error (exit 2) unless --force."""
    if force:
        return
    found = existing(root, rels)
    if found:
        names = f"{found[0]} already exists" if len(found) == 1 else f"{' and '.join(found)} already exist"
        raise UsageError(f"{names}: not overwritten", hint="keep what is there, or pass --force to overwrite")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def init_repository(root: Path, choices: Choices, force: bool = False) -> InitResult:
    """Validate, check for existing files, write both files, and exclude `.agentic/` from git."""
    files = plan(root, choices)
    refuse_overwrite(root, [f.rel for f in files], force)
    for planned in files:
        _write(root / planned.rel, planned.text)
    ensure_excluded(root)
    common = Path(git(["rev-parse", "--git-common-dir"], root).strip())
    return InitResult(files, (common if common.is_absolute() else root / common) / "info" / "exclude")


def choices_from_flags(root: Path, preset: str | None = None, model: str | None = None,
                       test_command: str | None = None, no_tests: bool = False, contract_path: str | None = None,
                       require_tests: bool = True) -> Choices:  # fmt: skip
    """The choices the flags make, the defaults for the rest. With `require_tests` (no terminal to ask
    at), neither a test command given nor one detected is an error: never a silent placeholder."""
    rel = check_contract_path(contract_path or DEFAULT_CONTRACT)
    if preset is not None and preset not in PRESETS:
        raise UsageError(f"unknown preset {preset!r}", hint=f"choose one of: {', '.join(PRESETS)}")
    argv: tuple[str, ...] | None = None
    detection = findings = None
    if no_tests and test_command is not None:
        raise UsageError("--test-command and --no-tests exclude each other")
    if test_command is not None:
        argv = parse_test_command(test_command)
    elif not no_tests:
        findings = detect(root)
        detection = findings.chosen
        if detection is None and require_tests:
            raise UsageError(
                "no test command found (looked at pytest's configuration, tox.ini, noxfile.py, a Makefile test "
                "target, package.json, Cargo.toml, go.mod, runtests.py, manage.py and Python test files)",
                hint="pass --test-command 'COMMAND', or --no-tests for a placeholder that fails every run until "
                     "you set test_command in the contract",
            )  # fmt: skip
        argv = detection.argv if detection else None
    return Choices(preset or "default", check_model(model or DEFAULT_MODEL), argv, rel, detection, findings)


def explain_detection(choices: Choices) -> list[str]:
    """For a run without questions: the test command detected, from what, over what, and how to change it."""
    if choices.findings is None or choices.detection is None:
        return []
    return choices.findings.explain(choices.contract_path)


def preset_description(name: str) -> str:
    data: Any = safeyaml.load(preset_text(name))
    return str(data.get("description", "")) if isinstance(data, dict) else ""


def prompt_choices(root: Path, given: Choices, console: Console, stream: TextIO | None = None,
                   ask_preset: bool = True, ask_model: bool = True, ask_tests: bool = True) -> Choices:  # fmt: skip
    """Ask at a terminal for what the flags left open; the flags' values are the defaults shown."""
    preset, model, argv, detection = given.preset, given.model, given.test_command, given.detection
    if ask_preset:
        for name in PRESETS:
            console.print(f"  [bold]{name}[/]: {preset_description(name)}")
        preset = Prompt.ask("Contract preset", choices=list(PRESETS), default=preset, console=console, stream=stream)
    while ask_model:
        answer = Prompt.ask("Model (provider:model)", default=given.model, console=console, stream=stream).strip()
        try:
            model = check_model(answer)
            break
        except UsageError as exc:
            console.print(f"[red]{escape(exc.message)}[/]; {escape(exc.hint or '')}")
    if ask_tests:
        candidates = _show_candidates(given, console)
        argv, detection = _ask_test_command(detection, console, stream, candidates)
    return Choices(preset, model, argv, given.contract_path, detection, given.findings)


def _show_candidates(given: Choices, console: Console) -> tuple[Candidate, ...]:
    """Where the detected command came from; every candidate with its evidence when there is a choice
    to make (runners disagree, several commands fit, or the best supported one cannot start)."""
    findings, detection = given.findings, given.detection
    if detection is None:
        return ()
    console.print(f"[dim]test command detected from {escape(detection.reason)}[/]")
    if findings is None or not (findings.unclear or len(findings.candidates) > 1):
        return ()
    if findings.disputed:
        console.print("[yellow]the evidence disagrees on how the tests run:[/]")
    for number, candidate in enumerate(findings.candidates, 1):
        start = "[green]starts[/]" if candidate.start.ok else "[red]cannot start[/]"
        default = " (default)" if candidate is detection else ""
        console.print(f"  {number}. [bold]{escape(candidate.text)}[/]{default}: {start}, {escape(candidate.start.detail)}")
        for evidence in candidate.evidence:
            console.print(f"       {escape(str(evidence))}")
    return findings.candidates


def _ask_test_command(detection: Detection | None, console: Console, stream: TextIO | None,
                      candidates: Sequence[Candidate] = ()) -> tuple[tuple[str, ...] | None, Detection | None]:  # fmt: skip
    while True:
        default = detection.text if detection else ""
        label = "Test command" if detection else "Test command (none detected; leave empty for a placeholder)"
        if candidates:
            label = f"Test command (or a number, 1-{len(candidates)})"
        text = Prompt.ask(label, default=default, show_default=bool(default), console=console, stream=stream).strip()
        if text.isdigit() and 1 <= int(text) <= len(candidates):
            picked = candidates[int(text) - 1]
            return picked.argv, picked
        if text:
            argv = parse_test_command(text)
            return argv, next((c for c in (detection, *candidates) if c is not None and c.argv == argv), None)
        if Confirm.ask("No test command: write a placeholder that fails every run until you set test_command?",
                       default=False, console=console, stream=stream):  # fmt: skip
            return None, None
