"""An attempt judged by its scenario's checks: what the run did (Facts) against what was expected."""

from __future__ import annotations

from dataclasses import dataclass, field

from agentic.eval.scenarios import Checks
from agentic.util import globs


@dataclass
class Facts:
    """What an attempt's checks look at."""

    status: str
    steps: int
    tokens: int
    cost_usd: float | None
    called: set[str] = field(default_factory=set)
    denied: set[str] = field(default_factory=set)
    changed: list[str] = field(default_factory=list)
    tests: dict[str, str] | None = None  # test id -> passed | failed | missing
    command: tuple[bool, str] | None = None


def judge(checks: Checks, facts: Facts) -> dict[str, tuple[bool, str]]:
    """Every check the scenario gives: id -> (held, why)."""
    out: dict[str, tuple[bool, str]] = {
        "status": (facts.status == checks.status, f"expected {checks.status}, got {facts.status}"),
    }
    tests = facts.tests or {}
    if checks.fail_to_pass:
        bad = [f"{i} {tests.get(i, 'missing')}" for i in checks.fail_to_pass if tests.get(i) != "passed"]
        out["fail_to_pass"] = (not bad, "not passing: " + ", ".join(bad) if bad else "all pass")
    if checks.pass_to_pass:
        bad = [f"{i} {tests.get(i, 'missing')}" for i in checks.pass_to_pass if tests.get(i) != "passed"]
        out["pass_to_pass"] = (not bad, "no longer passing: " + ", ".join(bad) if bad else "all pass")
    if checks.command is not None:
        out["command"] = facts.command or (False, "not run")
    if checks.changed_paths is not None:
        bad = [p for p in facts.changed if globs.match_any(list(checks.changed_paths), p) is None]
        out["changed_paths"] = (not bad, "out of scope: " + ", ".join(bad) if bad else f"{len(facts.changed)} in scope")
    if checks.tools_called:
        missing = sorted(set(checks.tools_called) - facts.called)
        out["tools_called"] = (not missing, "never called: " + ", ".join(missing) if missing else "all called")
    if checks.tools_not_called:
        hit = sorted(set(checks.tools_not_called) & facts.called)
        out["tools_not_called"] = (not hit, "called: " + ", ".join(hit) if hit else "none called")
    if checks.tools_denied:
        missing = sorted(set(checks.tools_denied) - facts.denied)
        out["tools_denied"] = (not missing, "never refused: " + ", ".join(missing) if missing else "all refused")
    if checks.max_steps is not None:
        out["max_steps"] = (facts.steps <= checks.max_steps, f"{facts.steps} steps (at most {checks.max_steps})")
    if checks.max_tokens is not None:
        out["max_tokens"] = (facts.tokens <= checks.max_tokens, f"{facts.tokens} tokens (at most {checks.max_tokens})")
    if checks.max_cost_usd is not None:
        cost, cap = facts.cost_usd, checks.max_cost_usd
        out["max_cost_usd"] = (cost is not None and cost <= cap,
                               f"${cost:.4f} (at most ${cap})" if cost is not None else "cost unknown")  # fmt: skip
    return out
