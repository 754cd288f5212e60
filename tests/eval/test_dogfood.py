"""The project's own scenario suite (scenarios/), run offline with its scripted models: every scenario
must pass, and none may regress against the blessed baseline. A proof (`python -m pytest -q -n 4 -m proof`,
which .ci/run runs after the suite): sixteen scripted runs through `agentic eval`, whose machinery
tests/eval/test_eval.py tests in the suite."""

from __future__ import annotations

import pytest

from tests.eval.conftest import DogfoodEval


@pytest.mark.slow
@pytest.mark.proof
@pytest.mark.xdist_group("ray")  # test_ray compares its Ray eval with this eval (dogfood_eval, once per worker)
def test_the_offline_eval_of_the_projects_scenarios_passes(dogfood_eval: DogfoodEval) -> None:
    summary = dogfood_eval.summary
    assert summary["overall"]["scenarios"] >= 10
    failed = {s["scenario"]: [a["reason"] for a in s["results"]] for s in summary["scenarios"] if s["status"] != "pass"}
    assert not failed, failed
    tags = {t for s in summary["scenarios"] for t in s["tags"]}
    assert {"bugfix", "refactor", "policy", "refusal", "gate", "limits", "multi-file"} <= tags
    assert "eval ok" in dogfood_eval.done.stdout
