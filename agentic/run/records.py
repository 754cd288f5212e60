"""What the runner writes about a run besides the loop's records: `run.start`, `run.resume`, and the
commit message of an accepted change."""

from __future__ import annotations

import dataclasses
import platform
from typing import Any

from agentic import __version__
from agentic.models.base import ToolSpec
from agentic.policy.budget import Budget
from agentic.policy.contract import Contract
from agentic.run.request import RunRequest
from agentic.sandbox import Sandbox
from agentic.workspace import Workspace, who


def start_record(req: RunRequest, workspace: Workspace, sandbox: Sandbox | None, system: str,
                 specs: list[ToolSpec]) -> dict[str, Any]:  # fmt: skip
    """What `run.start` says: enough to audit the run and to know what shaped its behaviour."""
    contract = req.contract
    return {
        "task": req.task, "model": req.model.name, "settings": req.settings.to_record(),
        "settings_origins": req.settings.origins, "contract": {"source": contract.source, "hash": contract.hash_ref},
        "base_commit": req.base_commit, "branch": workspace.branch, "worktree": str(workspace.path),
        "who": who(req.repo.root, req.argv, workspace.author),
        "harness": {"version": __version__, "python": platform.python_version()},
        "sandbox": sandbox.name if sandbox else None, "unsafe_no_sandbox": req.unsafe_no_sandbox,
        "system_prompt": system,
        "tools": [{"name": s.name, "description": s.description, "parameters": s.parameters} for s in specs],
        "contract_text": contract.text, "forked_from": req.forked_from,
        "continued_from": req.continued.record() if req.continued else (req.tape.start.continued_from if req.tape else None),
        "limits": dataclasses.asdict(contract.limits), "limit_flags": req.limit_flags,
        **({"generated": [[c.path, c.sha256] for c in workspace.carried]} if workspace.carried else {}),
    }  # fmt: skip


def warnings(req: RunRequest, budget: Budget) -> list[str]:
    """Said once, at the start of the run (and shown by its progress)."""
    if budget.price is not None:
        return []
    capped = " and max_cost_usd cannot bind" if req.contract.limits.max_cost_usd is not None else ""
    return [f"no price is known for {req.model.name}: its cost is not counted{capped}; token limits still "
            "bind (add the model under `prices:` in settings)"]  # fmt: skip


def resume_record(req: RunRequest, sandbox: Sandbox | None) -> dict[str, Any]:
    """What `run.resume` says: who goes on with the run, and where its journal had got to."""
    tape = req.tape
    assert tape is not None
    return {
        "who": who(req.repo.root, req.argv), "model": req.model.name,
        "harness": {"version": __version__, "python": platform.python_version()},
        "sandbox": sandbox.name if sandbox else None, "unsafe_no_sandbox": req.unsafe_no_sandbox,
        "after_status": tape.status, "records": tape.records, "steps": tape.steps,
        "elapsed_s": round(tape.elapsed_s, 3),
    }  # fmt: skip


def commit_message(task: str, summary: str, run_id: str, contract: Contract) -> str:
    title = " ".join(task.split())
    title = title if len(title) <= 68 else title[:67] + "…"
    body = summary.strip() or "(no summary)"
    return (
        f"agentic: {title}\n\n{body}\n\n"
        f"Agentic-Run: {run_id}\nAgentic-Contract: {contract.hash_ref}\nAgentic-Version: {__version__}\n"
    )
