"""Output whose reader went away (`agentic run … | head`): printing stops, the command goes on and
ends with its own exit status, and nothing is said about the pipe (issue 16, point 4)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agentic.journal.records import read_records
from tests.conftest import FINISH, FIX, cli, write_script

TURNS = [
    {"text": "Reading.", "tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]},
    {"tool_calls": [FIX]},
    {"tool_calls": [{"name": "run_tests", "arguments": {}}]},
    {"tool_calls": [FINISH]},
]


def closed_reader(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run `agentic ARGS` with a standard output nobody reads: the read end is closed before the
    command writes anything, so every write to it fails. (exit status, standard error)"""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = cli(*args, cwd=cwd, stdout=write_end)
    finally:
        os.close(write_end)
    return done.returncode, done.stderr


def last_run_end(repo: Path) -> dict[str, object]:
    journal = max((repo / ".agentic" / "runs").glob("*/journal.jsonl"), key=lambda p: p.stat().st_mtime)
    return next(r for r in reversed(list(read_records(journal))) if r["kind"] == "run.end")["data"]


@pytest.mark.parametrize("json_out", [False, True], ids=["terminal-lines", "json"])
def test_a_run_whose_reader_went_away_completes(repo: Path, json_out: bool) -> None:
    script = write_script(repo.parent / "turns.yaml", TURNS)
    code, stderr = closed_reader(["run", "fix the average", "--model", f"script:{script}",
                                  *(["--json"] if json_out else [])], repo)  # fmt: skip
    assert code == 0, stderr
    assert last_run_end(repo)["status"] == "accepted"
    assert "Traceback" not in stderr and "Broken pipe" not in stderr and "Exception ignored" not in stderr


def test_listing_and_showing_to_a_closed_pipe_keep_their_exit_status(repo: Path) -> None:
    script = write_script(repo.parent / "turns.yaml", TURNS)
    done = cli("run", "fix", "--model", f"script:{script}", "--json", cwd=repo)
    assert json.loads(done.stdout.splitlines()[-1])["status"] == "accepted", done.stderr
    for args, want in ((["runs", "--json"], 0), (["show", "last"], 0), (["show", "no-such-run"], 2)):
        code, stderr = closed_reader(args, repo)
        assert code == want, (args, stderr)
        assert "Traceback" not in stderr and "Exception ignored" not in stderr, (args, stderr)


def test_plain_output_at_80_columns_keeps_every_value_whole(repo: Path) -> None:
    script = write_script(repo.parent / "turns.yaml", TURNS)
    narrow = {"COLUMNS": ""}  # not a terminal, no width given: rich's default of 80 columns
    done = cli("run", "fix the average in calc.py so that the tests pass", "--model", f"script:{script}",
               cwd=repo, env=narrow)  # fmt: skip
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    run_id = first.split()[1]
    assert first == f"run {run_id}  model script:{script}  contract policies/contract.yaml", first
    listed = cli("runs", cwd=repo, env=narrow).stdout.splitlines()
    fields = listed[0].split("  ")  # run, started, status, steps, tokens, cost, model, task
    assert (fields[0], fields[2], fields[3]) == (run_id, "accepted", "4") and fields[4].isdigit(), listed
    assert fields[5:] == ["$0.0000", f"script:{script}", "fix the average in calc.py so that the tests pass"], listed
    shown = cli("show", run_id, cwd=repo, env=narrow).stdout.splitlines()  # lines, not a table cut to 80 columns
    assert "      allow (contract) tools.run_tests.allow · run_tests → exit 0" in shown, shown
    demo = cli("demo", "--dir", str(repo.parent / "demo"), cwd=repo.parent, env=narrow).stdout.splitlines()
    assert "      allow (contract) tools.run_tests.allow · run_tests → exit 1" in demo, demo
    # tables (audit, doctor) are laid out as wide as their content: every cell whole, on one line
    audited = cli("audit", run_id, cwd=repo, env=narrow).stdout.splitlines()
    command = next(line for line in audited if line.strip().startswith("command line"))
    assert command.rstrip().endswith(f"--model script:{script}"), audited
    hashes = [line.split("sha256:")[1].split()[0] for line in audited if "sha256:" in line]
    assert hashes and all(len(h) == 64 for h in hashes), audited  # the contract's hash, not folded
    doctor = cli("doctor", "--quick", cwd=repo, env=narrow).stdout
    assert f"{repo} at " in doctor, doctor


def test_quiet_shows_only_the_outcome_and_verbose_the_text_and_output(repo: Path) -> None:
    script = write_script(repo.parent / "turns.yaml", TURNS)
    quiet = cli("run", "fix the average", "--model", f"script:{script}", "--quiet", cwd=repo)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.startswith("run ") and ": accepted in 4 steps" in quiet.stdout.splitlines()[0]
    assert "step 1" not in quiet.stdout and "read_file" not in quiet.stdout
    verbose = cli("run", "fix the average", "--model", f"script:{script}", "-v", cwd=repo).stdout.splitlines()
    assert verbose[1].startswith("step 1 ") and verbose[2:4] == ["   Reading.", "   ✓ read_file calc.py  [allow: tools.read_file.allow]"], verbose
    assert verbose[4].startswith("       ") and verbose[4].endswith("def average(values):"), verbose  # what it read
    assert any(line.startswith("       Ran 2 tests in ") for line in verbose), verbose  # the tests' output
    both = cli("run", "x", "--model", f"script:{script}", "-q", "-v", cwd=repo)
    assert both.returncode == 2 and "--quiet and --verbose contradict each other" in both.stderr
