"""The gate: the contract's invariants evaluated on a candidate change. The harness decides "done".

A candidate is a directory where commands run plus what changed relative to the base. Each
invariant yields a CheckResult; the verdict passes only when every check passes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentic import globs
from agentic.contract import Contract, Invariant
from agentic.redact import looks_secret
from agentic.sandbox import Sandbox

ASSIGNED_SECRET = re.compile(
    r"""(?i)(api[_-]?key|secret|token|passw(or)?d|private[_-]?key)\s*[:=]\s*['"][^'"\s]{12,}['"]"""
)
MAX_CHECK_OUTPUT = 4000


@dataclass
class Candidate:
    root: Path  # where command checks run
    changes: list[tuple[str, str]]  # (A/M/D/T, path)
    added_lines: list[tuple[str, str]]  # (path, line)

    @property
    def paths(self) -> list[str]:
        return [p for _, p in self.changes]


@dataclass
class CheckResult:
    id: str
    kind: str
    passed: bool
    detail: str
    duration_s: float = 0.0


@dataclass
class Verdict:
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    def feedback(self) -> str:
        """What the model is told when the gate fails."""
        lines = [f"The gate failed: {len(self.failed)} of {len(self.checks)} checks did not pass."]
        for check in self.failed:
            lines.append(f"\n## {check.id} ({check.kind}) failed\n{check.detail}")
        lines.append("\nFix the problems and call finish again.")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": [asdict(c) for c in self.checks]}


def _trim(text: str, limit: int = MAX_CHECK_OUTPUT) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[… {len(text) - 2 * half} characters cut …]\n{text[-half:]}"


def _command(argv: list[str], timeout_s: float, sandbox: Sandbox | None) -> tuple[bool, str]:
    if sandbox is None:
        return False, "commands cannot run: no sandbox is available"
    result = sandbox.run(list(argv), timeout_s=timeout_s)
    return result.ok, _trim(f"$ {' '.join(argv)}\n{result.output}[{result.summary()}]")


def check_one(
    inv: Invariant, contract: Contract, cand: Candidate, sandbox: Sandbox | None, timeout_s: float
) -> tuple[bool, str]:
    c = inv.check
    timeout = min(float(c.get("timeout_s", timeout_s)), timeout_s)
    if "command" in c:
        return _command(c["command"], timeout, sandbox)
    if "tests" in c:
        return _command(list(contract.test_command), timeout, sandbox)
    if "changed_paths" in c:
        allow, deny = c["changed_paths"].get("allow"), c["changed_paths"].get("deny", [])
        bad = [p for p in cand.paths if (allow is not None and not globs.match_any(allow, p))
               or globs.match_any(deny, p)]  # fmt: skip
        return not bad, ("paths out of scope: " + ", ".join(bad)) if bad else "all changed paths in scope"
    if "max_files_changed" in c:
        n, cap = len(cand.changes), c["max_files_changed"]
        return n <= cap, f"{n} files changed (at most {cap})"
    if "protected_unchanged" in c:
        hits = [p for p in cand.paths if globs.match_any(contract.protected, p)]
        return not hits, ("protected paths changed: " + ", ".join(hits)) if hits else "no protected path changed"
    if "no_secrets" in c:
        found = sorted({p for p, line in cand.added_lines if looks_secret(line) or ASSIGNED_SECRET.search(line)})
        return not found, ("credential-looking strings added in: " + ", ".join(found)) if found else "none found"
    raise ValueError(f"unknown check {inv.check!r}")  # pragma: no cover - the schema forbids it


def evaluate(
    contract: Contract,
    cand: Candidate,
    sandbox: Sandbox | None,
    *,
    timeout_s: float = 600.0,
    on_check: Callable[[CheckResult], None] | None = None,
) -> Verdict:
    verdict = Verdict()
    for inv in contract.invariants:
        start = time.monotonic()
        passed, detail = check_one(inv, contract, cand, sandbox, timeout_s)
        result = CheckResult(inv.id, inv.kind, passed, detail, round(time.monotonic() - start, 3))
        verdict.checks.append(result)
        if on_check:
            on_check(result)
    return verdict
