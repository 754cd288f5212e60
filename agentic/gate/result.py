"""What `agentic gate` was asked and what it found, and the reports it writes of that: the versioned
JSON report (`--json FILE`, `-` for stdout) and the JUnit XML report (`--junit FILE`), one test case
per invariant with the gate's facts as the suite's properties."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentic import __version__
from agentic.errors import UsageError
from agentic.gate.checks import Verdict
from agentic.policy.contract import Contract
from agentic.reports import junit

FORMAT = "agentic.gate"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class GateRequest:
    repo: Path  # anywhere inside the repository
    staged: bool = False
    contract: str | None = None  # a path or preset name; default: the one settings name
    use_cache: bool = True
    unsafe_no_sandbox: bool = False
    only: tuple[str, ...] = ()  # check ids: run these and no other (--only)
    skip: tuple[str, ...] = ()  # check ids not to run (--skip)
    binding: str = "person"  # whose change it is: the invariants that bind them run (--for)


@dataclass
class GateResult:
    verdict: Verdict
    mode: str  # "working-tree" or "staged"
    tree: str
    base: str | None  # the HEAD commit, None in a repository without commits
    base_tree: str
    changes: list[tuple[str, str]]
    contract: Contract
    key: str
    cached: bool
    evaluated_at: float  # when the checks ran (earlier than now on a cache hit)
    duration_s: float  # this gate, cache look-up included
    notes: list[str] = field(default_factory=list)
    cacheable: bool = True  # False: some command ended other than on its own (not stored)
    unsafe_no_sandbox: bool = False

    @property
    def passed(self) -> bool:
        return self.verdict.passed

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON report (`--json FILE`)."""
        return {
            "format": FORMAT, "version": FORMAT_VERSION, "harness": __version__,
            "passed": self.passed, "exit_code": self.exit_code, "mode": self.mode,
            "tree": self.tree, "base": self.base, "base_tree": self.base_tree,
            "contract": {"source": self.contract.source, "hash": self.contract.hash_ref},
            "changes": [{"status": s, "path": p} for s, p in self.changes],
            "cache": {"key": self.key, "hit": self.cached, "stored": self.cacheable and not self.cached},
            "cached": self.cached, "evaluated_at": self.evaluated_at, "duration_s": round(self.duration_s, 4),
            "unsafe_no_sandbox": self.unsafe_no_sandbox, "checks": self.verdict.to_dict()["checks"],
            "notes": self.notes,
        }  # fmt: skip



def junit_suite(result: GateResult) -> junit.Suite:
    """One test case per invariant (classname agentic.gate.KIND); a failed check's message is the last
    line of its detail, which states why (a report's totals, missing tests, the paths out of scope)."""
    cases = []
    for check in result.verdict.checks:
        problem = None
        if not check.passed:
            why = next((line for line in reversed(check.detail.splitlines()) if line.strip()), "check failed")
            problem = junit.Problem("failure", why, check.kind, check.detail)
        cases.append(junit.Case(check.id, f"agentic.gate.{check.kind}", check.duration_s, problem,
                                None if problem else check.detail))  # fmt: skip
    facts = [("mode", result.mode), ("tree", result.tree), ("base", result.base or ""),
             ("contract", result.contract.hash_ref), ("cached", str(result.cached).lower()),
             ("harness", __version__)]  # fmt: skip
    return junit.Suite("agentic gate", cases, facts)


def write_reports(result: GateResult, json_file: Path | None, junit_file: Path | None) -> None:
    """Write the requested reports; `-` as the JSON file means stdout."""
    if json_file is not None:
        text = json.dumps(result.to_dict(), indent=2) + "\n"
        if str(json_file) == "-":
            sys.stdout.write(text)
        else:
            _write(json_file, text.encode("utf-8"))
    if junit_file is not None:
        _write(junit_file, junit.render(junit_suite(result)))


def _write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
