"""Journal costs: resuming a long run, replaying read-only steps, durable appends.

1. Resume: a real run of read-only steps is recorded until its journal holds ≥ 10,000 records and
   its scripted model runs out (the run fails, resumable). Timed: from opening the journal
   (verification included) to the first request the resumed run sends to its model. Target < 0.5 s.
2. Replay: the same run re-executed by `agentic replay`'s engine (every read_file runs for real and
   is compared with the recording). Target ≥ 200 steps/s.
3. Appends: records/s written with flush only and with fsync (the durability of side-effect
   intents), and what the journal costs one typical write step (6 records, one fsynced).

    python benchmarks/journal.py [--records 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from agentic.config.settings import load_settings
from agentic.errors import ProviderError
from agentic.journal.records import Journal
from agentic.models.base import Message, ToolSpec, Turn
from agentic.models.scripted import ScriptedModel
from agentic.policy.contract import load_contract
from agentic.run.replay import replay
from agentic.run.resume import check_resumable, open_tape
from agentic.run.runner import RunRequest, execute
from agentic.workspace import find_repo

CONTRACT = {
    "version": 1,
    "limits": {"max_steps": 100_000, "max_tool_calls": 100_000, "timeout_s": 3600},
    "tools": {"read_file": {"allow": True}},
    "invariants": [{"id": "small", "check": {"max_files_changed": 1}}],
}
RECORDS_PER_STEP = 5  # model.request, model.response, tool.call, policy.decision, tool.result


def make_repo(root: Path) -> Path:
    root.mkdir()
    (root / "mod.py").write_text("".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(40)))
    (root / "policies").mkdir()
    (root / "policies" / "contract.yaml").write_text(yaml.safe_dump(CONTRACT))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "init"]):  # fmt: skip
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    return root


class FirstRequest:
    """The live model of the resumed run: notes when it is first asked, then stops the run."""

    name = "bench:first-request"

    def __init__(self) -> None:
        self.at: float | None = None

    def complete(self, messages: list[Message], tools: list[ToolSpec], *, timeout_s: float | None = None) -> Turn:
        self.at = time.perf_counter()
        raise ProviderError("benchmark: stop at the first new step")


def record_run(repo: Path, records: int) -> tuple[Any, Any, Any, int]:
    info = find_repo(repo)
    settings = load_settings(info.root)
    contract = load_contract("policies/contract.yaml", info.root)
    steps = records // RECORDS_PER_STEP + 1
    turns = [{"tool_calls": [{"name": "read_file", "arguments": {"path": "mod.py", "offset": 1 + i % 100,
                                                                  "limit": 5}}]} for i in range(steps)]  # fmt: skip
    outcome = execute(RunRequest("read", info, settings, contract, ScriptedModel("bench", turns=turns), argv=["bench"]))
    assert outcome.status == "failed", outcome.reason
    return info, settings, contract, steps


def bench_resume(info: Any, settings: Any, contract: Any, journal: Path) -> float:
    model = FirstRequest()
    start = time.perf_counter()
    tape = open_tape(journal, journal.parent.name)
    check_resumable(tape, settings, contract)
    outcome = execute(RunRequest("read", info, settings, contract, model, argv=["bench"], tape=tape, resuming=True))
    assert model.at is not None and outcome.status == "failed"
    return model.at - start


def bench_appends(directory: Path, count: int, sync: bool, anchored: bool = False) -> float:
    """Records/s; `anchored`: each head also recorded, HMAC-signed, in a run database (agentic.anchor)."""
    journal = Journal(directory, "bench")
    if anchored:
        from agentic.journal.anchor import recorder
        from agentic.journal.store import SQLiteStore

        journal.on_head = recorder(SQLiteStore(directory / "agentic.db"), "bench")
    payload = {"id": "call_1", "tool": "read_file", "content": "x" * 400, "is_error": False, "data": {"path": "a.py"}}
    start = time.perf_counter()
    for _ in range(count):
        journal.append("tool.result", payload, step=1, sync=sync)
    took = time.perf_counter() - start
    journal.close()
    return count / took


def bench_step(directory: Path, count: int, anchored: bool = False) -> float:
    """Seconds the journal adds to one write step: its six records, the write's intent fsynced."""
    journal = Journal(directory, "bench")
    if anchored:
        from agentic.journal.anchor import recorder
        from agentic.journal.store import SQLiteStore

        journal.on_head = recorder(SQLiteStore(directory / "agentic.db"), "bench")
    message = {"role": "assistant", "content": "Editing.", "tool_calls": [{"id": "c", "name": "edit_file",
                                                                            "arguments": "{}" * 50}]}  # fmt: skip
    start = time.perf_counter()
    for i in range(count):
        journal.append("model.request", {"model": "m", "from": i, "messages": [message]}, step=i)
        journal.append("model.response", {"text": "Editing.", "tool_calls": message["tool_calls"], "usage": {}}, step=i)
        journal.append("tool.call", {"id": "c", "tool": "edit_file", "arguments": "{}" * 50}, step=i, idem=f"r:{i}:c")
        journal.append("policy.decision", {"verdict": "allow", "rule": "tools.edit_file.allow[0]"}, step=i)
        journal.append("tool.effect", {"path": "a.py", "before": "sha256:" + "0" * 64, "after": "sha256:" + "1" * 64,
                                       "result": {"content": "edited a.py"}}, step=i, sync=True)  # fmt: skip
        journal.append("tool.result", {"id": "c", "tool": "edit_file", "content": "edited a.py at line 3"}, step=i)
    took = time.perf_counter() - start
    journal.close()
    return took / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--appends-only", action="store_true", help="Only the append costs (3.).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentic-bench-") as tmp:
        root = Path(tmp)
        if args.appends_only:
            return bench_all_appends(root, args.repeats)
        repo = make_repo(root / "repo")
        start = time.perf_counter()
        info, settings, contract, steps = record_run(repo, args.records)
        journal = next((repo / ".agentic" / "runs").glob("*/journal.jsonl"))
        lines = sum(1 for _ in journal.open())
        print(f"recorded run: {steps} read-only steps, {lines} records, {journal.stat().st_size / 1e6:.1f} MB "
              f"journal ({time.perf_counter() - start:.1f} s to record)")  # fmt: skip

        resumes = [bench_resume(info, settings, contract, journal) for _ in range(args.repeats)]
        print(f"resume to the first new step: median {statistics.median(resumes) * 1000:.0f} ms "
              f"(min {min(resumes) * 1000:.0f}, max {max(resumes) * 1000:.0f})   target < 500 ms")  # fmt: skip

        tape = open_tape(journal, journal.parent.name)
        start = time.perf_counter()
        report = replay(info, tape, contract, None)
        took = time.perf_counter() - start
        assert report.identical, report.divergence
        print(f"replay: {report.steps} steps in {took:.2f} s = {report.steps / took:.0f} steps/s, "
              f"{report.compared} results compared identical   target ≥ 200 steps/s")  # fmt: skip

        return bench_all_appends(root, args.repeats)


def bench_all_appends(root: Path, repeats: int) -> None:
    for anchored in (False, True):
        label = "anchored (head + HMAC in the run database)" if anchored else "file only"
        flushed = statistics.median(bench_appends(root / f"a{anchored}{i}", 5000, False, anchored) for i in range(repeats))
        synced = statistics.median(bench_appends(root / f"s{anchored}{i}", 500, True, anchored) for i in range(repeats))
        step = statistics.median(bench_step(root / f"w{anchored}{i}", 300, anchored) for i in range(repeats))
        print(f"appends, {label}: {flushed:,.0f} records/s flushed, {synced:,.0f} records/s fsynced "
              f"({1e6 / flushed:.0f} µs vs {1e6 / synced:.0f} µs a record)")  # fmt: skip
        print(f"journal cost of one write step (6 records, 1 fsync), {label}: {step * 1000:.2f} ms")


if __name__ == "__main__":
    sys.exit(main())
