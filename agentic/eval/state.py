"""An eval's state on disk, written as attempts end, so `agentic eval --resume EVAL` runs only the
attempts without a final verdict. In the invoking repository's `.agentic/evals/<EVAL>/`:

    eval.json       what was asked (scenario paths, tags, repeats, model), how it ran (executor), and
                    the fingerprint of what shaped behaviour: a resume refuses scenarios that changed
    attempts.jsonl  a line per try as it ends: the attempt (scenario, number, verdict, …), its try,
                    the identity of its scenario as it ran (agentic.eval.fingerprint.scenario_identity), and `lost`
                    when the try was lost with its worker (its journal kept beside it, in lost/)

A verdict of pass, fail or error is final; a cancelled attempt and a lost try are not. The lines are
appended and fsynced one at a time; a torn last line (a crash while writing it) is ignored.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from agentic.errors import UsageError
from agentic.eval.attempt import AttemptResult
from agentic.eval.stats import Attempt
from agentic.eval.summaryfile import attempt_dict, attempt_from

FINAL_VERDICTS = ("pass", "fail", "error")


def new_eval_id() -> str:
    return "eval-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


class EvalState:
    """One eval's directory: what it was asked, and every try that ended."""

    def __init__(self, directory: Path, asked: dict[str, Any]) -> None:
        self.dir, self.asked = directory, asked
        self.id = directory.name

    @classmethod
    def create(cls, state_dir: Path, asked: dict[str, Any]) -> EvalState:
        directory = state_dir / "evals" / new_eval_id()
        directory.mkdir(parents=True)
        (directory / "eval.json").write_text(json.dumps(asked, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return cls(directory, asked)

    @classmethod
    def load(cls, state_dir: Path, eval_id: str) -> EvalState:
        directory = state_dir / "evals" / eval_id
        if "/" in eval_id or eval_id.startswith(".") or not (directory / "eval.json").is_file():
            known = sorted(p.name for p in (state_dir / "evals").glob("eval-*")) if (state_dir / "evals").is_dir() else []
            raise UsageError(f"no eval {eval_id!r} in {state_dir / 'evals'}",
                             hint=f"evals here: {', '.join(known[-5:])}" if known else "this repository has no eval to resume")  # fmt: skip
        try:
            asked = json.loads((directory / "eval.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{directory / 'eval.json'} cannot be read: {exc}") from None
        return cls(directory, asked)

    def record(self, result: AttemptResult, *, identity: str = "", lost: str | None = None) -> None:
        """One ended try: `identity` is its scenario's (fingerprint.scenario_identity) as it ran."""
        line = {"attempt": attempt_dict(result.attempt), "try": result.tries, "setup_s": round(result.setup_s, 4),
                "identity": identity}  # fmt: skip
        if lost is not None:
            line["lost"] = lost
        with open(self.dir / "attempts.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def lines(self) -> list[dict[str, Any]]:
        path = self.dir / "attempts.jsonl"
        if not path.is_file():
            return []
        out = []
        for text in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(text))
            except ValueError:
                continue  # a torn last line
        return out

    def finals(self) -> dict[tuple[str, int], tuple[AttemptResult, str]]:
        """The attempts that ended with a final verdict and the identity they ran under, by (scenario,
        attempt number); the first wins."""
        done: dict[tuple[str, int], tuple[AttemptResult, str]] = {}
        for n, line in enumerate(self.lines()):
            if "lost" in line:
                continue
            attempt: Attempt = attempt_from(line.get("attempt"), self.dir / "attempts.jsonl", f"line {n + 1}")
            if attempt.verdict in FINAL_VERDICTS:
                ended = AttemptResult(attempt, float(line.get("setup_s") or 0.0), tries=int(line.get("try") or 1))
                done.setdefault((attempt.scenario, attempt.attempt), (ended, str(line.get("identity") or "")))
        return done
