"""The eval's fingerprint: a sha256 over everything that shapes the agent's behaviour (harness, system
prompt, tools, and each scenario's contract, model and settings), with the parts it covers, so a
comparison can say when a baseline was made under other conditions."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from agentic import __version__
from agentic.agent.prompts import SYSTEM
from agentic.eval.prepare import Prepared
from agentic.tools import builtin_tools, spec


def sha256(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _model_part(name: str | None, written: str | None) -> dict[str, Any]:
    """A model as it shapes behaviour: its name (a script as the scenario names it) and a script's content."""
    if name is None:
        return {"name": None}
    if name.startswith("script:"):
        path = Path(name[7:])
        content = sha256(path.read_bytes().decode("utf-8", "replace")) if path.is_file() else None
        return {"name": written or f"script:{path.name}", "script_sha256": content}
    return {"name": name}


def fingerprint(prepared: list[Prepared], model_override: str | None) -> dict[str, Any]:
    """sha256 over everything that shapes the agent's behaviour, with the components it covers."""
    tools = [{"name": s.name, "description": s.description, "parameters": s.parameters}
             for s in (spec(t) for t in builtin_tools().values())]  # fmt: skip
    contracts: dict[str, str | None] = {}
    models: dict[str, Any] = {}
    settings: dict[str, str | None] = {}
    for prep in sorted(prepared, key=lambda p: p.scenario.id):
        sid = prep.scenario.id
        contracts[sid] = prep.contract.hash_ref if prep.contract is not None else None
        written = None if model_override else prep.scenario.model_written
        models[sid] = _model_part(prep.model, written)
        settings[sid] = sha256(prep.settings.to_dict()) if prep.settings is not None else None
    parts: dict[str, Any] = {
        "harness": __version__,
        "system_prompt": sha256(SYSTEM),
        "tools": sha256(tools),
        "contracts": contracts,
        "models": models,
        "settings": settings,
    }
    return {"sha256": sha256(parts), **parts}


def scenario_identity(prep: Prepared, model_override: str | None) -> str:
    """What makes one scenario's attempts the same attempts: the fingerprint of its part, its base
    commit (a fixture's is its content's), its task and checks. `eval --resume` keeps an ended
    attempt only while this is unchanged."""
    scenario = prep.scenario
    return sha256({"fingerprint": fingerprint([prep], model_override)["sha256"], "base": prep.base,
                   "task": scenario.task, "checks": repr(scenario.checks)})  # fmt: skip
