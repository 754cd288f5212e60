"""Hostile content never hangs, crashes or exhausts the harness (issue 14, point 5).

Attacks: tool arguments nested deeper than anything a tool takes, through every provider SDK, and
nested deeper than Python's JSON parser goes; YAML whose values parse into types the schema does not
expect; trees thousands of levels deep; a run that fills the disk through many files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FINISH, FIX, cli
from tests.fakeprovider import FakeProvider
from tests.models.test_run_providers import PROVIDERS, provider_env


def nested(levels: int) -> dict:  # type: ignore[type-arg]
    value: object = "calc.py"
    for _ in range(levels):
        value = [value]
    return {"path": value}


@pytest.mark.parametrize(("model", "vendor", "path"), PROVIDERS, ids=[p[0].split(":")[0] for p in PROVIDERS])
def test_arguments_nested_too_deep_are_a_tool_error_through_every_sdk(repo: Path, model: str, vendor: str,
                                                                      path: str) -> None:  # fmt: skip
    deep = "{\"path\": " + "[" * 100_000 + "]" * 100_000 + "}"  # deeper than Python's JSON parser goes
    calls = [{"name": "read_file", "arguments": nested(200)}]
    if vendor == "OPENAI":  # its arguments travel as a string: the SDK never parses them
        calls.append({"name": "read_file", "arguments": deep})
    turns = [{"tool_calls": calls}, {"tool_calls": [FIX]}, {"tool_calls": [FINISH]}]
    with FakeProvider(turns) as fp:
        done = cli("run", "fix", "--model", model, "--json", cwd=repo, env=provider_env(fp, vendor, False))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["status"] == "accepted"
    journal = Path(summary["journal"]).read_text()
    assert journal.count("nest deeper than 64 levels") >= len(calls)
    for command in (["show", summary["run_id"]], ["audit", summary["run_id"]],
                    ["show", summary["run_id"], "--html", str(repo.parent / "run.html")]):  # fmt: skip
        shown = cli(*command, cwd=repo)
        assert shown.returncode == 0 and "Traceback" not in shown.stderr, (command, shown.stderr[-2000:])


@pytest.mark.parametrize(("body", "message"), [
    ("? [a, b]\n: c\n", "a key must be a plain value"),
    ("? {a: 1}\n: 2\n", "a key must be a plain value"),
    ("limits: {timeout_s: .inf}\n", "a number must be finite"),
    ("limits: {max_steps: .nan}\n", "a number must be finite"),
    ("limits: {timeout_s: 2024-01-01 10:00:00}\n", 'limits.timeout_s: expected number, got "2024-01-01 10:00:00"'),
    ("tools: {read_file: {allow: [2024-01-01]}}\nlimits: {max_steps: 2024-01-01}\n", "limits.max_steps"),
])  # fmt: skip
def test_yaml_that_parses_into_unexpected_types_is_a_clear_error(repo: Path, body: str, message: str) -> None:
    path = repo / "policies" / "contract.yaml"
    path.write_text("version: 1\ntest_command: [python, -m, unittest]\n" + body)
    done = cli("contract", "check", str(path), cwd=repo)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_date_where_text_is_expected_stays_text(repo: Path) -> None:
    path = repo / "policies" / "contract.yaml"
    path.write_text("version: 1\ntest_command: [python, -m, 2024-01-01]\n")
    done = cli("contract", "check", str(path), cwd=repo)
    assert done.returncode == 0, done.stderr


DEEP_TREE = """python - <<'PY'
import os
fd = os.open(".", os.O_RDONLY)
for _ in range(3000):
    os.mkdir("d", dir_fd=fd)
    child = os.open("d", os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = child
os.write(os.open("leaf.py", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), b"deep = 1\\n")
PY
echo built"""


@pytest.mark.proof
def test_a_tree_thousands_of_levels_deep_is_walked_without_exhausting_anything(tmp_path: Path) -> None:
    from tests import inproc
    from tests.conftest import CONTRACT, make_repo

    tools = {**CONTRACT["tools"], "run_command": {"allow": ["*"], "timeout_s": 60}}
    repo = make_repo(tmp_path / "repo", {**CONTRACT, "tools": tools})
    calls = [{"name": "run_command", "arguments": {"command": DEEP_TREE}},
             {"name": "list_files", "arguments": {}}, {"name": "search", "arguments": {"pattern": "deep = 1"}},
             {"name": "run_command", "arguments": {"command": "find d | wc -l"}}, FIX]  # fmt: skip
    outcome = inproc.run(repo, [{"tool_calls": [c]} for c in calls] + [{"tool_calls": [FINISH]}])
    assert outcome.status == "accepted", outcome.reason
    results = inproc.tool_results(outcome)
    assert "built" in results[0]["content"], results[0]["content"]
    assert not any(r["is_error"] for r in results[1:4]), [r["content"][:300] for r in results]
    assert [p for _, p in outcome.changes] == ["calc.py"] or all(p == "calc.py" or p.startswith("d/")
                                                                  for _, p in outcome.changes)  # fmt: skip


SWAP_REPORT = '''\
import glob
import os
import unittest


def swap(path):
    os.unlink(path) if os.path.lexists(path) else None
    {how}


class TestSwap(unittest.TestCase):
    def test_swap_the_report(self):
        for folder in glob.glob(".agentic-report-*"):
            for name in ("junit.xml", "report.json", "collect.json"):
                swap(os.path.join(folder, name))
'''
SWAPS = {
    "a FIFO": "os.mkfifo(path)",
    "a link to /dev/zero": "os.symlink('/dev/zero', path)",
    "a huge sparse file": "open(path, 'wb').truncate(8 * 1024 ** 3)",
    "a device": "os.symlink('/dev/urandom', path)",
}


@pytest.mark.parametrize("how", sorted(SWAPS))
def test_a_report_swapped_for_a_fifo_a_device_or_a_huge_file_neither_hangs_nor_passes(tmp_path: Path, how: str) -> None:
    """The tests write their report the moment before they end: the gate must not block on a FIFO,
    read /dev/zero forever or load 8 GiB, and a swapped report is no passing report."""
    import subprocess

    from tests import inproc
    from tests.conftest import CONTRACT, make_repo

    repo = make_repo(tmp_path / "repo", {**CONTRACT, "protected": ["policies/**"]})
    (repo / "tests" / "test_swap.py").write_text(SWAP_REPORT.format(how=SWAPS[how]))
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "swap"], cwd=repo, check=True)
    outcome = inproc.run(repo, [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}, {"tool_calls": [FINISH]}])
    verdicts = inproc.records(outcome, "gate.verdict")
    assert verdicts, outcome.reason
    tests = next(c for c in verdicts[0]["checks"] if c["id"] == "tests-pass")
    assert outcome.duration_s < 60
    assert not tests["passed"] or "2 tests" in tests["detail"] or "3 tests" in tests["detail"], tests["detail"]


def disk_repo(tmp_path: Path, limit_mb: float) -> Path:
    from tests.conftest import CONTRACT, make_repo

    tools = {**CONTRACT["tools"], "run_command": {"allow": ["*"], "timeout_s": 60}}
    return make_repo(tmp_path / "repo", {**CONTRACT, "tools": tools,
                                         "limits": {**CONTRACT["limits"], "max_disk_mb": limit_mb}})  # fmt: skip


def writes(files: int, mb: int, prefix: str, pause_s: float = 0.0) -> dict:  # type: ignore[type-arg]
    script = (f"python - <<'PY'\nimport time\nfor i in range({files}):\n"
              f"    open('{prefix}%d.bin' % i, 'wb').write(bytes({mb} * 1024 * 1024))\n    time.sleep({pause_s})\n"
              "PY\necho wrote")  # fmt: skip
    return {"name": "run_command", "arguments": {"command": script}}


def test_many_small_writes_across_commands_stop_at_the_runs_disk_limit(tmp_path: Path) -> None:
    from tests import inproc

    repo = disk_repo(tmp_path, 5)
    turns = [{"tool_calls": [writes(2, 1, f"c{n}-")]} for n in range(5)] + [{"tool_calls": [FINISH]}]
    outcome = inproc.run(repo, turns)
    assert outcome.status == "limit_exceeded" and "max_disk_mb" in outcome.reason, outcome.reason
    results = inproc.tool_results(outcome)
    assert 2 <= len(results) <= 3 and all("wrote" in r["content"] for r in results)  # stopped at the third


def test_one_command_writing_past_the_disk_limit_is_killed(tmp_path: Path) -> None:
    from tests import inproc

    repo = disk_repo(tmp_path, 8)
    flood = writes(400, 1, "flood-", 0.02)  # 400 MiB over 8 s if nothing stopped it
    outcome = inproc.run(repo, [{"tool_calls": [flood]}, {"tool_calls": [FINISH]}])
    assert outcome.status == "limit_exceeded" and "max_disk_mb" in outcome.reason, outcome.reason
    result = inproc.tool_results(outcome)[0]
    assert "\nwrote\n" not in result["content"] and "[killed: the worktree grew past" in result["content"]
    worktree = next((repo / ".agentic" / "worktrees").iterdir())
    assert sum(f.stat().st_size for f in worktree.glob("flood-*")) < 200 * 1024 * 1024
    done = cli("resume", outcome.run_id, cwd=repo)  # the run can go on once there is room
    assert "Traceback" not in done.stderr
