"""`agentic run --continue RUN "follow-up"`: a new run from where an earlier one ended, which records
its parent; applying it brings the earlier change too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentic.git.cmd import git
from agentic.journal.records import payload, read_records
from tests.conftest import FINISH, FIX, cli, summary_of, write_script

MEDIAN = {"name": "edit_file", "arguments": {"path": "calc.py", "old_text": "def average(values):",
                                             "new_text": "def median(values):\n    s = sorted(values)\n"
                                                         "    return s[len(s) // 2]\n\n\ndef average(values):"}}  # fmt: skip
DIFF = {"name": "read_file", "arguments": {"path": "calc.py"}}


def records(repo: Path, run_id: str) -> list[dict[str, Any]]:
    """(kind, data) of the run's journal records, as dicts with those keys."""
    journal = repo / ".agentic" / "runs" / run_id / "journal.jsonl"
    return [{"kind": r["kind"], "data": payload(r, journal.parent)} for r in read_records(journal)]


def start_of(repo: Path, run_id: str) -> dict[str, Any]:
    return next(r["data"] for r in records(repo, run_id) if r["kind"] == "run.start")


def run(repo: Path, script: Path, *args: str) -> dict[str, Any]:
    done = cli("run", *args, "--model", f"script:{script}", "--json", cwd=repo)
    return summary_of(done)


def test_a_follow_up_goes_on_from_an_accepted_run_and_apply_brings_both(repo: Path, tmp_path: Path) -> None:
    first = run(repo, write_script(tmp_path / "a.yaml", [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}]),
                "fix the average")  # fmt: skip
    assert first["status"] == "accepted"
    second = run(repo, write_script(tmp_path / "b.yaml", [{"tool_calls": [DIFF]}, {"tool_calls": [MEDIAN]},
                                                          {"tool_calls": [FINISH]}]),
                 "--continue", first["run_id"][:12], "also add a median")
    assert second["status"] == "accepted", second
    start = start_of(repo, second["run_id"])
    parent_tree = git(["rev-parse", f"{first['commit']}^{{tree}}"], repo).strip()
    assert start["continued_from"] == {"run": first["run_id"], "status": "accepted", "tree": parent_tree}
    assert start["base_commit"] == first["base_commit"] == second["base_commit"]
    task = start["task"]
    assert task.startswith("also add a median\n\n(This continues run " + first["run_id"] + ", which ended accepted")
    assert "changed: calc.py" in task and "Its task was: fix the average" in task and "Its last summary: fixed average" in task
    diff = next(r["data"] for r in records(repo, second["run_id"]) if r["kind"] == "tool.result")
    assert "return sum(values) / len(values)" in diff["content"]  # the earlier change is in place
    # the new commit holds both changes on the earlier run's base: apply brings both
    assert git(["rev-parse", f"{second['commit']}^"], repo).strip() == first["base_commit"]
    applied = cli("apply", second["run_id"], cwd=repo)
    assert applied.returncode == 0, applied.stderr
    calc = (repo / "calc.py").read_text()
    assert "def median(values):" in calc and "return sum(values) / len(values)" in calc
    shown = cli("runs", cwd=repo).stdout
    assert "also add a median" in shown
    audited = cli("audit", second["run_id"], cwd=repo).stdout
    assert f"continues                   run {first['run_id']} (accepted), from its tree {parent_tree}" in audited


def test_a_follow_up_goes_on_from_a_run_a_limit_stopped_with_its_change_in_place(repo: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "a.yaml", [{"tool_calls": [FIX]}] + [{"tool_calls": [DIFF]}] * 3)
    stopped = run(repo, script, "fix the average", "--limit", "max_steps=2")
    assert stopped["status"] == "limit_exceeded" and stopped["commit"] is None
    went_on = run(repo, write_script(tmp_path / "b.yaml", [{"tool_calls": [FINISH]}]),
                  "--continue", stopped["run_id"], "finish it")  # fmt: skip
    assert went_on["status"] == "accepted", went_on
    assert start_of(repo, went_on["run_id"])["continued_from"]["status"] == "limit_exceeded"
    assert "return sum(values) / len(values)" in git(["show", f"{went_on['commit']}:calc.py"], repo)


def test_continue_refuses_an_unknown_run_and_a_fork_of_a_continued_run_starts_where_it_did(
    repo: Path, tmp_path: Path
) -> None:
    unknown = cli("run", "x", "--continue", "nosuchrun", "--model", "script:x.yaml", cwd=repo)
    assert unknown.returncode == 2 and "nosuchrun" in unknown.stderr
    first = run(repo, write_script(tmp_path / "a.yaml", [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}]), "fix")
    second = run(repo, write_script(tmp_path / "b.yaml", [{"tool_calls": [DIFF]}, {"tool_calls": [MEDIAN]},
                                                          {"tool_calls": [FINISH]}]),
                 "--continue", first["run_id"], "median")
    forked = cli("fork", second["run_id"], "--from-step", "2", "--json", cwd=repo)
    assert summary_of(forked)["status"] == "accepted", forked.stderr
    fork_id = summary_of(forked)["run_id"]
    assert start_of(repo, fork_id)["continued_from"] == start_of(repo, second["run_id"])["continued_from"]
    replayed = cli("replay", second["run_id"], "--json", cwd=repo)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
