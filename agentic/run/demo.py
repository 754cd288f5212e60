"""`agentic demo`: the whole loop offline, on a throw-away repository with a real bug."""

from __future__ import annotations

import dataclasses
import tempfile
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from agentic.config.settings import Settings
from agentic.errors import UsageError
from agentic.git.cmd import git
from agentic.models.scripted import ScriptedModel
from agentic.observe.progress import for_output
from agentic.policy.contract import load_contract
from agentic.reports.summary import timeline, timeline_view
from agentic.run.runner import RunRequest, execute
from agentic.workspace import find_repo

# demo_data file -> path in the demo repository
FILES = {
    "calc.py": "calc.py",
    "test_calc.py": "tests/test_calc.py",
    "README.md": "README.md",
    "env.txt": ".env",
    "contract.yaml": "policies/contract.yaml",
}


def build_repo(target: Path) -> Path:
    """Create the demo repository (one commit) in `target`, which must be empty or missing."""
    if target.exists() and any(target.iterdir()):
        raise UsageError(f"{target} is not empty", hint="pass --dir with a new or empty directory")
    data = resources.files("agentic").joinpath("demo_data")
    for source, dest in FILES.items():
        path = target / dest
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data.joinpath(source).read_text("utf-8"), encoding="utf-8")
    (target / "tests" / "__init__.py").write_text("", encoding="utf-8")
    git(["init", "--quiet", "--initial-branch=main"], target)
    git(["config", "user.name", "agentic demo"], target)
    git(["config", "user.email", "demo@agentic.invalid"], target)
    git(["add", "--all"], target)
    git(["commit", "--quiet", "-m", "calc: statistics helpers (with a bug)"], target)
    return target


def script_path() -> Path:
    return Path(str(resources.files("agentic").joinpath("demo_data", "script.yaml")))


def run_demo(directory: Path | None, console: Console) -> int:
    target = directory or Path(tempfile.mkdtemp(prefix="agentic-demo-"))
    repo = find_repo(build_repo(target.resolve()))
    console.rule("[bold]agentic demo")
    console.print(f"A throw-away repository with a bug: [cyan]{escape(str(repo.root))}[/]")
    console.print("Task: make the failing test pass. Model: a scripted agent (offline, no key).\n")
    contract = load_contract("policies/contract.yaml", repo.root)
    model = ScriptedModel(str(script_path()))
    settings = Settings(model=model.name, contract="policies/contract.yaml")
    task = "The test suite fails: find the bug in calc.py and fix it without touching the tests."
    with for_output(False, console, limits=dataclasses.asdict(contract.limits)) as progress:
        outcome = execute(RunRequest(task, repo, settings, contract, model, argv=["agentic", "demo"],
                                     on_record=progress))  # fmt: skip
    console.print()
    console.print(timeline_view(timeline(outcome.journal), f"timeline of run {outcome.run_id}", console))
    if outcome.commit:
        console.print(f"\n[bold green]Accepted.[/] Commit {outcome.commit[:12]} on branch {escape(str(outcome.branch))}:")
        console.print(git(["show", "--stat", "--patch", "--format=%s%n%n%b", outcome.commit], repo.root).rstrip(), markup=False)
    console.print(f"\njournal: {escape(str(outcome.journal))}")
    console.print(f"Explore: cd {escape(str(repo.root))} && agentic runs && agentic show {outcome.run_id}")
    return outcome.exit_code
