"""What an attempt needs from its scenario, made ready once: the contract it runs under, the model,
and an attempt that measured nothing (an error) with its reason."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from agentic.config.settings import DEFAULT_CONTRACT, Settings
from agentic.errors import AgenticError, ConfigError
from agentic.eval.scenarios import Scenario, merge
from agentic.eval.stats import Attempt
from agentic.models import load_model
from agentic.models.base import Model
from agentic.policy.contract import PRESETS, Contract, load_contract, parse_contract
from agentic.sandbox.hostview import project_envs, under
from agentic.util import safeyaml
from agentic.workspace.generated import GeneratedFiles


@dataclass
class Prepared:
    """A scenario made ready once for all its attempts."""

    scenario: Scenario
    template: Path | None = None
    base: str = ""
    settings: Settings | None = None
    contract: Contract | None = None
    model: str | None = None
    problem: str | None = None  # set: every attempt is an error, with this reason
    setup_s: float = 0.0  # fixture → template repository (or clone), once
    generated: GeneratedFiles = ()  # the contract's `generated:` files, for each attempt's repository
    shown_at: str | None = None  # a local repository's path, where the sandbox shows the clones' worktrees (show_at)


def program_problem(contract: Contract, template: Path, shown_at: str | None = None) -> str | None:
    """Why the test command cannot start in the scenario's repository: it names a program inside the
    checkout (the `.venv/bin/python` `agentic init` writes) that a clone does not hold (git does not
    track a virtual environment), or None. A clone shown at its local repository's path (`shown_at`)
    finds that repository's virtual environments there, as a run does."""
    program = contract.test_command[0] if contract.test_command else ""
    if "/" not in program or os.path.isabs(program) or os.path.lexists(template / program):
        return None
    there = os.path.normpath(os.path.join(shown_at, program)) if shown_at is not None else ""
    if there and os.path.lexists(there) and any(under(there, env) for env in project_envs(str(shown_at))):
        return None
    return (f"the test command's program {program} is not in the scenario's repository (a clone holds only what git "
            "tracks: a virtual environment is not cloned); give the scenario a contract whose test_command names an "
            "interpreter outside the checkout (python on PATH with the project's packages, or the environment's "
            "absolute path) and `env: {PYTHONPATH: src}` for a src layout")  # fmt: skip


def error_attempt(scenario: Scenario, n: int, reason: str) -> Attempt:
    return Attempt(scenario=scenario.id, attempt=n, verdict="error", status="", reason=reason, run_id=None, steps=0,
                   tool_calls=0, tokens=0, cost_usd=None, duration_s=0.0, checks={}, tags=scenario.tags)  # fmt: skip


def cancelled_attempt(scenario: Scenario, n: int, reason: str) -> Attempt:
    """An attempt the eval's cancel stopped before it started."""
    return replace(error_attempt(scenario, n, f"cancelled before it started: {reason}"), verdict="cancelled")


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, AgenticError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def scenario_contract(scenario: Scenario, root: Path, settings: Settings) -> Contract:
    """The scenario's contract: a preset or file it names, its mapping merged over the repository's
    contract, or the repository's contract as `agentic run` would choose it."""
    if isinstance(scenario.contract, str):
        return load_contract(scenario.contract, root)
    ref = settings.contract
    if ref == DEFAULT_CONTRACT and settings.origins.get("contract") == "default" and not (root / ref).is_file():
        ref = "default"
    repo_contract = load_contract(ref, root)
    if scenario.contract is None:
        return repo_contract
    assert scenario.contract_doc is not None
    data = merge(safeyaml.load(repo_contract.text), scenario.contract)
    text = yaml.safe_dump(data, sort_keys=False)
    doc = replace(scenario.contract_doc, data=data)
    try:
        merged = parse_contract(doc, text, ref if ref not in PRESETS else None)
    except ConfigError as exc:
        raise ConfigError(exc.reason, file=exc.file, line=exc.line,
                          field=f"contract.{exc.field}" if exc.field else "contract") from None  # fmt: skip
    return replace(merged, source=f"{doc.path}#contract over {repo_contract.source}")


def load_scenario_model(name: str, settings: Settings, contract: Contract) -> Model:
    """The model, its output capped by the contract's max_tokens_per_step (as `agentic run` does)."""
    options = settings.model_options()
    options = replace(options, max_output_tokens=contract.limits.output_cap(options.max_output_tokens))
    return load_model(name, options)
