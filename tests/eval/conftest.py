"""What several eval tests share."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli

PROJECT = Path(__file__).resolve().parents[2]


@dataclass
class DogfoodEval:
    done: subprocess.CompletedProcess[str]
    json_file: Path
    summary: dict[str, Any]


@pytest.fixture(scope="session")
def dogfood_eval(tmp_path_factory: pytest.TempPathFactory) -> DogfoodEval:
    """`agentic eval scenarios/` of the project's own suite against its baseline, offline (scripted models),
    once per test worker: checked by test_dogfood and the local side of test_ray's comparison (both in
    the xdist group "ray", so on one worker)."""
    result = tmp_path_factory.mktemp("dogfood") / "eval.json"
    done = cli("eval", "scenarios/", "--repeats", "1", "--concurrency", "4", "--json", str(result),
               "--baseline", "scenarios/baseline.json", cwd=PROJECT, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return DogfoodEval(done, result, json.loads(result.read_text()))
