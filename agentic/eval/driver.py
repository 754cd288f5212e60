"""One `agentic eval` from what was asked to its summary: the scenarios chosen, the executor (this
process's threads, or Ray), every ended try written to the eval's state as it ends, a resumed eval's
ended attempts kept (while their scenario is unchanged) and only the others run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentic.errors import UsageError
from agentic.eval.attempt import AttemptResult
from agentic.eval.fingerprint import scenario_identity
from agentic.eval.onray import RayExecutor, import_ray
from agentic.eval.runner import Evaluator, Options, summary_of
from agentic.eval.scenarios import Scenario, load_all, select
from agentic.eval.state import EvalState
from agentic.eval.stats import EvalSummary
from agentic.models.pricing import price_of

EXECUTORS = ("local", "ray")


@dataclass
class EvalRequest:
    paths: list[Path]
    tags: list[str] = field(default_factory=list)
    options: Options = field(default_factory=Options)
    state_dir: Path | None = None  # the invoking repository's .agentic (None: not in one; no --resume then)
    resume: str | None = None  # an eval id


@dataclass
class EvalRun:
    summary: EvalSummary
    scenarios: list[Scenario]
    state: EvalState | None
    kept: int  # attempts a resume kept from before


def plan_eval(req: EvalRequest) -> tuple[EvalRequest, EvalState | None]:
    """The request as it will run (a resume's is the original's, with this command's executor options)."""
    if req.options.executor not in EXECUTORS:
        raise UsageError(f"--executor {req.options.executor!r} is not one of {', '.join(EXECUTORS)}")
    if req.options.executor == "ray":
        import_ray()  # a missing extra is said before anything runs
    if req.resume is None:
        return req, None
    if req.state_dir is None:
        raise UsageError("--resume needs the repository the eval ran from", hint="run it from that repository")
    state = EvalState.load(req.state_dir, req.resume)
    asked = state.asked
    options = Options(**{**req.options.__dict__, "repeats": asked.get("repeats"), "model": asked.get("model")})
    return EvalRequest([Path(p) for p in asked["paths"]], list(asked.get("tags") or []), options, req.state_dir,
                       req.resume), state  # fmt: skip


def chosen_scenarios(req: EvalRequest) -> list[Scenario]:
    chosen = select(load_all(req.paths), req.tags)
    if not chosen:
        raise UsageError(f"no scenario has the tag {' or '.join(map(repr, req.tags))}")
    return chosen


def run_eval(req: EvalRequest, state: EvalState | None, chosen: list[Scenario],
             on_attempt: Callable[[AttemptResult], None]) -> EvalRun:  # fmt: skip
    options = req.options
    started = time.time()
    if state is None and req.state_dir is not None:
        state = EvalState.create(req.state_dir, {"paths": [str(p) for p in req.paths], "tags": req.tags,
                                                 "repeats": options.repeats, "model": options.model,
                                                 "executor": options.executor})  # fmt: skip
    with Evaluator(chosen, options) as evaluator:
        todo, kept = _todo(evaluator, state, req.resume is not None)
        _check_budget(evaluator, options, [s for s, _ in todo])

        def ended(result: AttemptResult) -> None:
            if state is not None:
                state.record(result, identity=_identity(evaluator, result.attempt.scenario))
            on_attempt(result)

        if options.executor == "ray":
            results = RayExecutor(evaluator, state).run(ended, todo)
        else:
            results = evaluator.run(ended, todo)
        results = sorted(kept + results, key=lambda r: (r.attempt.scenario, r.attempt.attempt))
        paths = [str(p) for p in req.paths]
        summary = summary_of(evaluator, results, started, paths, executor=options.executor)
    return EvalRun(summary, chosen, state, len(kept))


def _identity(evaluator: Evaluator, scenario_id: str) -> str:
    scenario = next(s for s in evaluator.scenarios if s.id == scenario_id)
    return scenario_identity(evaluator.prepared(scenario), evaluator.options.model)


def _todo(evaluator: Evaluator, state: EvalState | None,
          resuming: bool) -> tuple[list[tuple[Scenario, int]], list[AttemptResult]]:  # fmt: skip
    """The attempts to run, and those a resume keeps: ended with a final verdict, their scenario unchanged."""
    if state is None or not resuming:
        return evaluator.plan(), []
    finals = state.finals()
    todo, kept = [], []
    for scenario, n in evaluator.plan():
        ended = finals.get((scenario.id, n))
        if ended is not None and ended[1] == _identity(evaluator, scenario.id):
            kept.append(ended[0])
        else:
            todo.append((scenario, n))
    return todo, kept


def _check_budget(evaluator: Evaluator, options: Options, scenarios: list[Scenario]) -> None:
    """--max-cost-usd binds only models with a known price: refuse rather than not enforce it."""
    if options.max_cost_usd is None:
        return
    for scenario in {s.id: s for s in scenarios}.values():
        prep = evaluator.prepared(scenario)
        prices: dict[str, Any] | None = prep.settings.prices if prep.settings is not None else None
        if prep.problem is None and prep.model and price_of(prep.model, prices) is None:
            raise UsageError(f"--max-cost-usd: the model {prep.model} of scenario {scenario.id} has no known price",
                             hint="give it one in the settings' `prices:`, or cap tokens with --max-total-tokens")  # fmt: skip
