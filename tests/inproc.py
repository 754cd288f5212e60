"""Drive a governed run in process (runner.execute), for tests whose subject is not the CLI: a run, and
the resume of one."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import yaml

from agentic.config.settings import load_settings
from agentic.journal.records import payload, read_records
from agentic.models import load_model
from agentic.policy import engine as policy
from agentic.policy.contract import Contract, load_contract, tighten
from agentic.run.resume import open_tape
from agentic.run.runner import RunOutcome, RunRequest, execute
from agentic.workspace import find_repo


def run(
    repo: Path, turns: list[dict[str, Any]] | None, contract: Contract | str | None = None,
    approver: policy.Approver = policy.deny_all, task: str = "fix the bug", *,
    model: str | None = None, limits: dict[str, Any] | None = None,
) -> RunOutcome:  # fmt: skip
    """One run in `repo`, as `agentic run TASK --model M [--limit NAME=VALUE]...` makes it: of a scripted
    model over `turns` (or of `model`, a provider:model spec, with turns None), under `contract` (a
    preset name, a loaded contract, or the repository's own) tightened by `limits`."""
    req = request(repo, turns, contract, model=model, limits=limits)
    req.task, req.approver, req.argv = task, approver, ["agentic", "run", task]
    return execute(req)


def resume(repo: Path, ended: RunOutcome, turns: list[dict[str, Any]]) -> RunOutcome:
    """Go on with a run that did not end (failed, interrupted) from its journal, the scripted model
    answering from `turns` (the whole script: its first turns are the recorded ones)."""
    req = request(repo, turns)
    req.task, req.argv = "resumed", ["agentic", "resume", ended.run_id]
    req.tape, req.resuming = open_tape(ended.journal, ended.run_id), True
    return execute(req)


def request(
    repo: Path, turns: list[dict[str, Any]] | None, contract: Contract | str | None = None, *,
    model: str | None = None, limits: dict[str, Any] | None = None,
) -> RunRequest:  # fmt: skip
    if model is None:
        assert turns is not None, "a scripted run needs its turns"
        script = repo.parent / f"script-{len(list(repo.parent.glob('script-*.yaml')))}.yaml"
        script.write_text(yaml.safe_dump(turns, sort_keys=False), encoding="utf-8")
        model = f"script:{script}"
    info = find_repo(repo)
    settings = load_settings(info.root)
    if contract is None or isinstance(contract, str):
        contract = load_contract(contract or settings.contract, info.root)
    contract = tighten(contract, limits or {})
    options = settings.model_options()  # the output cap lowered by the contract, as the CLI does
    options = dataclasses.replace(options, max_output_tokens=contract.limits.output_cap(options.max_output_tokens))
    return RunRequest("fix the bug", info, settings, contract, load_model(model, options),
                      argv=["agentic", "run"], limit_flags=dict(limits or {}))  # fmt: skip


def records(outcome: RunOutcome, kind: str | None = None) -> list[dict[str, Any]]:
    """The payloads of the run's journal records (of one kind)."""
    found = []
    for record in read_records(outcome.journal):
        if kind is None or record["kind"] == kind:
            found.append({"kind": record["kind"], **payload(record, outcome.journal.parent)})
    return found


def tool_results(outcome: RunOutcome) -> list[dict[str, Any]]:
    return records(outcome, "tool.result")


def summary(outcome: RunOutcome) -> dict[str, Any]:
    """What `agentic run --json` prints last for the run."""
    return outcome.to_dict()


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
