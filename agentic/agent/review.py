"""Results judged on the change itself at the gate, whatever tool or command made them.

Commands run freely in the sandbox, so what matters is decided on what they leave behind:

- deleting a file the base commit tracks (`changes.delete_tracked`);
- adding or changing a file that runs code on a person's machine or in CI (`changes.runs_code`):
  CI workflows, pre-commit configuration, git hook managers, editor task files, `.envrc` and the
  like (`RUNS_CODE`, plus the contract's `changes.runs_code_paths`).

Each is allowed, asked (a person decides when the gate runs; refused without a terminal) or denied.
A path whose change a person already approved during the run (an asked `delete_file`, say) is not
asked again. The outcome is one gate check, `changes-reviewed`, whose detail tells the model what
to undo.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from agentic.policy.approval import Approver, Question
from agentic.policy.contract import Contract
from agentic.util import globs

CHECK_ID = "changes-reviewed"
RUNS_CODE: tuple[str, ...] = (
    # CI
    ".github/workflows/**", ".github/actions/**", ".gitlab-ci.yml", ".gitlab-ci/**", ".gitlab/ci/**",
    ".circleci/**", ".travis.yml", "azure-pipelines.yml", ".azure-pipelines/**", "Jenkinsfile", "**/Jenkinsfile",
    ".buildkite/**", "bitbucket-pipelines.yml", ".drone.yml", ".woodpecker.yml", ".woodpecker/**", "appveyor.yml",
    ".appveyor.yml", "cloudbuild.yaml", "cloudbuild.yml", ".cirrus.yml", "codemagic.yaml", ".semaphore/**",
    # pre-commit and git hook managers
    ".pre-commit-config.yaml", ".pre-commit-config.yml", ".pre-commit-hooks.yaml", ".husky/**", "lefthook.yml",
    "lefthook.yaml", ".lefthook.yml", ".lefthook.yaml", "lefthook-local.yml", ".lefthook/**", ".githooks/**",
    ".git-hooks/**", ".overcommit.yml", ".simple-git-hooks.json", ".simple-git-hooks.js", ".lintstagedrc*",
    "lint-staged.config.*",
    # editors and development environments
    ".vscode/tasks.json", ".vscode/launch.json", ".vscode/settings.json", "*.code-workspace", ".idea/**",
    ".devcontainer/**", ".envrc", "**/.envrc", ".mise.toml", "mise.toml", ".mise/**",
)  # fmt: skip


@dataclass(frozen=True)
class Finding:
    path: str
    what: str  # "deleted" | "runs code"
    verdict: str  # allow | ask | deny (before a person's answer)


def findings(contract: Contract, changes: Iterable[tuple[str, str]]) -> list[Finding]:
    """What in a change needs more than the contract's tool rules: (A/M/D/T, path) → findings."""
    rules = contract.changes
    runs_code = (*RUNS_CODE, *rules.runs_code_paths)
    found: list[Finding] = []
    for status, path in changes:
        if status == "D" and rules.delete_tracked != "allow":
            found.append(Finding(path, "deleted", rules.delete_tracked))
        elif status != "D" and rules.runs_code != "allow" and globs.match_any(runs_code, path) is not None:
            found.append(Finding(path, "runs code", rules.runs_code))
    return found


def review(found: Iterable[Finding], approve: Approver, approved: set[str], step: int = 0) -> tuple[bool, str]:
    """(passed, detail): every finding (see `findings`) allowed, or asked and approved by a person."""
    refused: list[str] = []
    notes: list[str] = []
    for f in found:
        action = f"{'delete' if f.what == 'deleted' else 'change'} {f.path}"
        if f.verdict == "ask" and (f.path in approved or approve(_question(f, step)).allow):
            notes.append(f"{f.path}: {f.what}, approved by the person")
            continue
        why = "the contract denies it" if f.verdict == "deny" else "a person must approve it, and none did"
        refused.append(f"- {action}: {_what(f)}; {why}")
    if refused:
        undo = ("Undo these changes (restore deleted files with `git checkout -- PATH`, revert the others) unless "
                "the task cannot be done without them; then say so in finish's summary.")  # fmt: skip
        return False, "\n".join([*refused, undo])
    return True, "\n".join(notes) or "nothing to review: no tracked file deleted, no file that runs code changed"


def _question(f: Finding, step: int) -> Question:
    rule = "changes.delete_tracked" if f.what == "deleted" else "changes.runs_code"
    return Question("gate", f"accept a change that {_what(f)}: {f.path}", rule,
                    "the contract asks a person before the gate accepts such a change", step=step)  # fmt: skip


def _what(f: Finding) -> str:
    if f.what == "deleted":
        return "deletes a tracked file"
    return "adds or changes a file that runs code on a person's machine or in CI"
