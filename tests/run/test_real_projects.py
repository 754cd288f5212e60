"""Proof on real code nobody here wrote (issue 13, point 6): three public projects of different shapes,
from their sdists on the package index, taken through init, doctor and an accepted scripted run that
fixes a real upstream bug (tests/realprojects/). They share one xdist worker (`--dist loadgroup`), so
they never take both cores of a small machine; each records its run and gate wall time (the bare test
time beside them: benchmarks/real_projects.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.realprojects import projects

pytestmark = [pytest.mark.xdist_group("realprojects"), pytest.mark.slow, pytest.mark.proof]


@pytest.mark.parametrize("name", projects.NAMES)
def test_a_real_project_is_fixed_by_an_accepted_run(name: str, tmp_path: Path, record_property) -> None:
    project = projects.load(name)
    spec = project.spec
    try:
        seen = projects.walk(project, tmp_path, bare=False)  # benchmarks/real_projects.py times the bare suite
    except projects.Unreachable as exc:
        pytest.skip(str(exc))
    root = os.path.realpath(seen.repo)
    figures = {"project": spec["requirement"], "run_s": round(seen.run_s, 2), "gate_s": round(seen.gate_s, 2),
               "setup_s": round(seen.setup_s, 2)}  # fmt: skip
    for key, value in figures.items():
        record_property(key, value)
    (projects.cache_dir() / f"timings-{name}.json").write_text(json.dumps(figures) + "\n")
    print(f"\n{figures}")

    # agentic init chooses the project's runner, in the project's environment
    assert seen.init is not None and seen.init.returncode == 0, seen.init and seen.init.stdout + seen.init.stderr
    assert seen.contract["test_command"] == spec["test_command"], seen.init.stdout
    if seen.doctor_before_env is not None:  # without its import path, doctor names the missing module
        code, checks = seen.doctor_before_env
        tests = checks["test command"]
        assert code == 1 and not tests["ok"], tests
        assert f"module {spec['module']} is missing" in tests["detail"], tests
        assert "`env: {PYTHONPATH: src}`" in tests["fix"], tests  # and the fix the person then makes
    # doctor: every essential check passes, and the test command runs in the sandbox on HEAD, where
    # the upstream test the person committed fails (the run must make it pass)
    assert seen.doctor is not None
    code, checks = seen.doctor
    assert code == 0, checks
    assert all(c["ok"] for c in checks.values() if c["essential"]), checks
    assert "tests fail on HEAD" in checks["test command"]["detail"], checks["test command"]

    outcome = seen.outcome
    assert outcome.status == "accepted", outcome.reason
    # the commit holds the fix and nothing else: no reproduction script, report, cache or venv
    assert seen.committed == spec["fix_files"]
    # the reproduction imported the package from the repository's path, where the sandbox shows the
    # run's worktree: before the fix it shows the bug, after it the fixed behaviour ...
    runs = [r for r in seen.results if "FILE " in r]
    assert len(runs) == 2, seen.results
    for output in runs:
        assert [os.path.realpath(f) for f in projects.repro_lines(output, "FILE")] == \
            [f"{root}/{spec['imported_from']}"], output  # fmt: skip
    assert projects.repro_lines(runs[0], "RESULT")[0].startswith(spec["repro_bug"]), runs[0]
    assert projects.repro_lines(runs[1], "RESULT") == [spec["repro_fixed"]], runs[1]
    # ... while the person's checkout, the same path outside the sandbox, still has the bug, untouched
    assert projects.repro_lines(seen.repro_before, "RESULT")[0].startswith(spec["repro_bug"]), seen.repro_before
    assert projects.repro_lines(seen.repro_after, "RESULT")[0].startswith(spec["repro_bug"]), seen.repro_after
    assert [os.path.realpath(f) for f in projects.repro_lines(seen.repro_after, "FILE")] == \
        [os.path.realpath(f) for f in projects.repro_lines(runs[1], "FILE")]  # fmt: skip
    assert seen.after == seen.before
    # the failing test failed in the run before the fix, and the whole suite passed after it
    assert seen.results[3].rstrip().endswith("[exit status 1]"), seen.results[3]
    assert seen.results[-2].startswith(f"$ {' '.join(spec['test_command'])}\n"), seen.results[-2]
    assert seen.results[-2].rstrip().endswith("[exit status 0]"), seen.results[-2]
