"""What a run starts from: the repository, its settings and contract, and the model."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from agentic.config.settings import Settings, load_settings
from agentic.errors import UsageError
from agentic.models import Model, load_model
from agentic.policy.contract import Contract, load_contract, tighten
from agentic.workspace import RepoInfo, find_repo

from .common import err


def configure(repo: Path, flags: dict[str, Any]) -> tuple[RepoInfo, Settings, Contract]:
    """The repository, its settings (flags on top) and the contract they name."""
    info = find_repo(repo)
    settings = load_settings(info.root, flags)
    ref = settings.contract
    if ref == "policies/contract.yaml" and settings.origins.get("contract") == "default" and not (
        info.root / ref
    ).is_file():
        ref = "default"
        err().print("[dim]no policies/contract.yaml in this repository: using the shipped `default` contract[/]")
    return info, settings, load_contract(ref, info.root)


def model_for(info: RepoInfo, settings: Settings, contract: Contract, name: str | None = None) -> Model:
    """The model named (or the settings'), its output cap lowered by the contract's max_tokens_per_step."""
    model_path = name or settings.model
    if model_path is None:
        raise UsageError(
            "no model configured",
            hint="pass --model (e.g. openai:gpt-4.1-mini, anthropic:claude-sonnet-4-5, script:turns.yaml) "
            "or set `model:` in .agentic.yaml",
        )
    if model_path.startswith("script:") and not Path(model_path[7:]).is_absolute():
        candidate = Path.cwd() / model_path[7:]
        model_path = f"script:{candidate if candidate.exists() else info.root / model_path[7:]}"
    options = settings.model_options()
    options = dataclasses.replace(options, max_output_tokens=contract.limits.output_cap(options.max_output_tokens))
    return load_model(model_path, options)


def prepare(repo: Path, model: str | None, contract: str | None,
            limits: dict[str, Any] | None = None) -> tuple[RepoInfo, Settings, Contract, Model]:  # fmt: skip
    info, settings, loaded = configure(repo, {"model": model, "contract": contract})
    loaded = tighten(loaded, limits or {})
    return info, settings, loaded, model_for(info, settings, loaded)
