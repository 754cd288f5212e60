"""An eval's result set against a baseline: the regressions (a scenario that passed and fails now,
or the mean pass rate dropping by more than allowed), what was fixed, new, missing or unmeasured, and
whether the fingerprint changed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from agentic.eval.stats import EvalSummary, ScenarioStats


@dataclass(frozen=True)
class Regression:
    kind: str  # "scenario" | "aggregate"
    scenario: str | None
    baseline: float  # pass rate
    current: float
    message: str


@dataclass(frozen=True)
class Comparison:
    """A result set against a baseline; `ok` is false when there is a regression."""

    regressions: list[Regression]
    fixed: list[str]  # scenarios failing or flaky in the baseline that pass every attempt now
    new: list[str]  # scenarios the baseline does not have (not regressions)
    missing: list[str]  # scenarios of the baseline not run now (not regressions)
    unmeasured: list[str]  # scenarios in both whose attempts all errored now (errors are not fails)
    deltas: dict[str, tuple[float | None, float | None]]  # scenario -> (baseline, current) pass rate
    baseline_rate: float | None  # mean per-scenario pass rate over the scenarios measured in both
    current_rate: float | None
    common: int  # how many scenarios that mean is over
    max_drop: float
    fingerprint_changed: bool
    fingerprint_diff: list[str] = field(default_factory=list)  # top-level fingerprint keys that differ

    @property
    def ok(self) -> bool:
        return not self.regressions

    @property
    def drop(self) -> float | None:
        if self.baseline_rate is None or self.current_rate is None:
            return None
        return self.baseline_rate - self.current_rate

    def regressed(self, scenario: str) -> bool:
        return any(r.scenario == scenario for r in self.regressions)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["deltas"] = {k: list(v) for k, v in self.deltas.items()}
        data["ok"], data["drop"] = self.ok, self.drop
        return data


DIGEST_KEYS = ("sha256", "hash")  # a fingerprint's digest of its other parts


def _fingerprint_diff(now: dict[str, Any], before: dict[str, Any]) -> list[str]:
    """The top-level keys that differ; a digest key is named only when nothing else explains it."""
    keys = set(now) | set(before)
    diff = sorted(k for k in keys if now.get(k) != before.get(k) or (k in now) != (k in before))
    parts = [k for k in diff if k not in DIGEST_KEYS]
    return parts or diff


def _rate_text(stats: ScenarioStats) -> str:
    return f"{stats.passes}/{stats.n}"


def compare(summary: EvalSummary, baseline: EvalSummary, *, max_drop: float) -> Comparison:
    """Set `summary` against `baseline`. The rule for a scenario is the JUnit verdict's: a scenario
    *passes* when every counted attempt passed (pass rate 1.0 over at least one attempt) and otherwise
    fails (fail or flaky). A regression is

    - a scenario that passed in the baseline and fails now: a green test case turned red. A scenario
      that was already failing or flaky can drop further without being a per-scenario regression; the
      aggregate rule catches that. A scenario whose attempts all errored now measured nothing: it is
      reported as unmeasured, never as a regression (errors are not fails; the eval's
      --max-error-rate is the gate for them);
    - the aggregate: the mean of the per-scenario pass rates over the scenarios measured in both runs
      (each scenario weighs the same whatever its repeats or errors) dropped by more than `max_drop`
      (a fraction: 0.05 is five percentage points).

    Scenarios new or missing relative to the baseline are reported, not regressions, and do not enter
    the aggregate; a changed fingerprint (prompt, tools, contract, model, harness) is reported.
    """
    if not 0.0 <= max_drop <= 1.0:
        raise ValueError(f"max_drop must be a fraction between 0 and 1, not {max_drop}")
    now = {s.scenario: s for s in summary.scenarios}
    before = {s.scenario: s for s in baseline.scenarios}
    regressions: list[Regression] = []
    fixed: list[str] = []
    unmeasured: list[str] = []
    common: list[tuple[float, float]] = []
    deltas: dict[str, tuple[float | None, float | None]] = {}
    for name in sorted(set(now) & set(before)):
        cur, base = now[name], before[name]
        deltas[name] = (base.pass_rate, cur.pass_rate)
        if cur.pass_rate is None:
            if base.pass_rate is not None:
                unmeasured.append(name)
            continue
        if base.pass_rate is None:
            continue
        common.append((base.pass_rate, cur.pass_rate))
        if base.status == "pass" and cur.status != "pass":
            regressions.append(
                Regression(
                    "scenario",
                    name,
                    base.pass_rate,
                    cur.pass_rate,
                    f"{name}: passed {_rate_text(base)} in the baseline, now {_rate_text(cur)}",
                )
            )
        elif base.status != "pass" and cur.status == "pass":
            fixed.append(name)
    base_rate = sum(b for b, _ in common) / len(common) if common else None
    cur_rate = sum(c for _, c in common) / len(common) if common else None
    if base_rate is not None and cur_rate is not None and base_rate - cur_rate > max_drop + 1e-12:
        regressions.append(
            Regression(
                "aggregate",
                None,
                base_rate,
                cur_rate,
                f"pass rate over {len(common)} scenarios dropped from {base_rate:.1%} to "
                f"{cur_rate:.1%} (more than the {max_drop:.1%} allowed)",
            )
        )
    diff = _fingerprint_diff(summary.fingerprint, baseline.fingerprint)
    return Comparison(
        regressions=regressions,
        fixed=fixed,
        new=sorted(set(now) - set(before)),
        missing=sorted(set(before) - set(now)),
        unmeasured=unmeasured,
        deltas=deltas,
        baseline_rate=base_rate,
        current_rate=cur_rate,
        common=len(common),
        max_drop=max_drop,
        fingerprint_changed=bool(diff),
        fingerprint_diff=diff,
    )
