"""`agentic diff RUN`: a run's change as `git diff` prints it, for an accepted run (its commit) and a
rejected one (the last tree its gate judged), ready for `git apply` (issue 16, point 3)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from agentic.git.cmd import git
from tests.conftest import FINISH, FIX, cli, write_script

NOTES = {"name": "write_file", "arguments": {"path": "notes.py", "content": "# why the average was wrong\n"}}


def run(repo: Path, turns: list[dict[str, object]]) -> dict[str, object]:
    script = write_script(repo.parent / "turns.yaml", turns)
    done = cli("run", "fix the average", "--model", f"script:{script}", "--json", cwd=repo)
    summary: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return summary


def test_the_diff_of_an_accepted_run_applies_to_its_base(repo: Path) -> None:
    summary = run(repo, [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    assert summary["status"] == "accepted"
    shown = cli("diff", "last", cwd=repo)
    assert shown.returncode == 0, shown.stderr
    assert "--- a/calc.py\n+++ b/calc.py\n" in shown.stdout and "+    return sum(values) / len(values)\n" in shown.stdout
    stat = cli("diff", str(summary["run_id"])[:15], "--stat", cwd=repo)
    assert stat.stdout.splitlines()[-1].strip() == "1 file changed, 1 insertion(+), 1 deletion(-)", stat.stdout
    applied = subprocess.run(["git", "apply", "--index"], cwd=repo, input=shown.stdout, text=True, capture_output=True)
    assert applied.returncode == 0, applied.stderr
    assert git(["write-tree"], repo).strip() == git(["rev-parse", f"{summary['commit']}^{{tree}}"], repo).strip()


def test_the_diff_of_a_rejected_run_is_what_its_gate_judged(repo: Path) -> None:
    summary = run(repo, [{"tool_calls": [NOTES]}, {"tool_calls": [FINISH]}, {"text": "I give up."}, {"text": "Done."}])
    assert summary["status"] == "rejected"
    shown = cli("diff", "last", cwd=repo).stdout
    assert "+++ b/notes.py\n" in shown and "calc.py" not in shown


def test_a_run_never_judged_has_no_diff(repo: Path) -> None:
    summary = run(repo, [{"text": "Hmm."}, {"text": "Done."}])
    assert summary["status"] == "rejected"
    done = cli("diff", "last", cwd=repo)
    assert done.returncode == 2 and "was never judged by the gate" in done.stderr
