"""The project's own scenario suite (scenarios/), run offline with its scripted models: every scenario
must pass, and none may regress against the blessed baseline. This is how the README's test command (and so .ci/run) runs the offline eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import cli

PROJECT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_offline_eval_of_the_projects_scenarios_passes(tmp_path: Path) -> None:
    result = tmp_path / "eval.json"
    done = cli("eval", "scenarios/", "--repeats", "1", "--json", str(result), "--baseline", "scenarios/baseline.json",
               cwd=PROJECT, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(result.read_text())
    assert summary["overall"]["scenarios"] >= 10
    failed = {s["scenario"]: [a["reason"] for a in s["results"]] for s in summary["scenarios"] if s["status"] != "pass"}
    assert not failed, failed
    tags = {t for s in summary["scenarios"] for t in s["tags"]}
    assert {"bugfix", "refactor", "policy", "refusal", "gate", "limits", "multi-file"} <= tags
