"""examples/github-actions.yml, run as GitHub Actions would run it, on a real project's pull request in
which a person adds a test and changes pyproject.toml, committed through the pre-commit hooks of
docs/howto/pre-commit.md with the real `pre-commit` package (issue 16, point 5).

The project is cachetools from its sdist (tests/realprojects), set up as docs/howto/github-actions.md
says: `agentic init`, a scenario and its blessed baseline. The pull request is a merge commit whose
first parent is the base branch, as GitHub checks it out. Every `run:` step of the workflow runs as
Actions runs it (`bash --noprofile --norc -eo pipefail`, `GITHUB_SHA` set), in a virtual environment
that stands for the runner's Python; what cannot run here is said: the `uses:` actions (checkout is
the merge commit made here, setup-python the venv, upload-artifact is not needed), the step that
installs bubblewrap and agentic with sudo (both are installed here: .ci/run), and the real-model
eval (its `if:` is false without an OPENAI_API_KEY secret).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("pre_commit")

from tests import forkshim, hermetic
from tests.gate.test_precommit import CONFIG as PRE_COMMIT
from tests.gate.test_precommit import person
from tests.realprojects import projects

WORKFLOW = Path(__file__).parents[2] / "examples" / "github-actions.yml"
NEEDS_ROOT = "Install bubblewrap and agentic"
SCENARIO = """\
id: nothing-to-do
task: Nothing needs changing; finish.
repo: {git: ..}
model: script:scripts/finish.yaml
checks: {status: accepted}
"""
NEW_TEST = ("from cachetools import LRUCache\n\n\ndef test_a_person_s_new_test():\n"
            "    cache = LRUCache(maxsize=1)\n    cache[1] = 1\n    cache[2] = 2\n    assert list(cache) == [2]\n")  # fmt: skip


def workflow_steps() -> list[dict[str, Any]]:
    return list(yaml.safe_load(WORKFLOW.read_text())["jobs"]["agentic"]["steps"])


def actions_step(script: str, repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


@pytest.mark.slow
@pytest.mark.proof
def test_the_actions_example_passes_a_pull_request_that_adds_a_test_and_changes_pyproject(tmp_path: Path) -> None:
    agentic_bin = Path(sys.executable).parent / "agentic"
    if not agentic_bin.exists():
        pytest.skip("agentic is not installed beside this interpreter")
    try:
        repo = projects.checkout(projects.load("cachetools"), tmp_path)
    except projects.Unreachable as exc:
        pytest.skip(f"the package index cannot be reached: {exc}")
    git = lambda *args: projects.git(repo, *args)  # noqa: E731
    # the maintainer's set-up, on the base branch
    assert projects.cli("init", "--yes", cwd=repo).returncode == 0
    contract = repo / "policies" / "contract.yaml"
    contract.write_text(contract.read_text() + "env: {PYTHONPATH: src}\n")  # as tests/run/test_real_projects.py
    (repo / "scenarios" / "scripts").mkdir(parents=True)
    (repo / "scenarios" / "nothing-to-do.yaml").write_text(SCENARIO)
    (repo / "scenarios" / "scripts" / "finish.yaml").write_text(
        yaml.safe_dump([{"tool_calls": [{"name": "finish", "arguments": {"summary": "nothing to do"}}]}]))
    (repo / ".pre-commit-config.yaml").write_text(PRE_COMMIT)
    git("add", "--all")
    git("commit", "-qm", "agentic: contract, a scenario, the pre-commit hooks")
    blessed = projects.cli("eval", "bless", "scenarios/", "--out", "scenarios/baseline.json", cwd=repo)
    assert blessed.returncode == 0, blessed.stdout + blessed.stderr
    git("add", "scenarios/baseline.json")
    git("commit", "-qm", "eval baseline")
    # the person's pull request: a new test and a pyproject.toml change (both protected from the agent),
    # committed through the hooks: the gate runs for the person and passes
    git("checkout", "-q", "-b", "person")
    hooks = person(repo, tmp_path, sys.executable, "-m", "pre_commit", "install")
    assert hooks.returncode == 0, hooks.stdout + hooks.stderr
    (repo / "tests" / "test_person.py").write_text(NEW_TEST)
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n# a person's change\n")
    person(repo, tmp_path, "git", "add", "tests/test_person.py", "pyproject.toml")
    committed = person(repo, tmp_path, "git", "commit", "-m", "a new test, and pyproject.toml")
    said = committed.stdout + committed.stderr
    assert committed.returncode == 0 and "agentic gate" in said and "Passed" in said, said
    git("checkout", "-q", "main")
    git("checkout", "-q", "--detach")
    git("merge", "-q", "--no-ff", "-m", "Merge pull request", "person")  # what actions/checkout gives a PR
    merge = git("rev-parse", "HEAD").strip()

    venv = tmp_path / "runner-python"  # stands for actions/setup-python's Python
    # with pip and pytest (and what they require) linked in from this interpreter: a pip of its own
    # (ensurepip) costs 3.5 CPU-s, and is no part of what is tested; this interpreter's other packages
    # stay out, as on a fresh runner (its pytest plugins would load in every gate's test run)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    hermetic.link(next(venv.glob("lib/python*/site-packages")), hermetic.closure("pip") + hermetic.closure("pytest"))
    env = {**os.environ, "GITHUB_SHA": merge, "AGENTIC_PIP_SPEC": ".", "NO_COLOR": "1",
           # `agentic`: the CLI started by the session's fork server (tests/forkshim.py)
           "PATH": forkshim.path_with(tmp_path / "forkshim", f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")}  # fmt: skip
    # not activated (setup-python sets no VIRTUAL_ENV): its bin/ on PATH is what the sandbox brings back, with
    # the environment around it, into its own /tmp, where tmp_path is out of sight
    env.pop("VIRTUAL_ENV", None)
    ran: list[str] = []
    for step in workflow_steps():
        if "run" not in step or step.get("name") == NEEDS_ROOT or "HAS_OPENAI_KEY" in str(step.get("if", "")):
            continue
        done = actions_step(step["run"], repo, env)
        assert done.returncode == 0, f"step {step['name']!r} failed:\n{done.stdout}\n{done.stderr}"
        ran.append(step["name"])
    assert ran == ["Install the project and its test dependencies", "Gate the pull request's change",
                   "Offline eval (scripted models) against the baseline"]  # fmt: skip
    assert git("rev-parse", "HEAD").strip() == merge  # the gate step's trap put HEAD back
    gate = json.loads((repo / "gate.json").read_text())
    checks = {c["id"]: c for c in gate["checks"]}
    assert gate["passed"] and checks["tests-pass"]["passed"], gate
    assert "protected-unchanged" not in checks  # binds the agent; a person may change tests and pyproject.toml
    changed = {c["path"] for c in gate["changes"]}  # (+ the sdist's tracked egg-info, which the install rewrote)
    assert {"pyproject.toml", "tests/test_person.py"} <= changed, changed
    assert (repo / "gate.xml").is_file() and (repo / "eval.xml").is_file()
