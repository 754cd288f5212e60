"""Statistics of an evaluation and the files that report it.

An eval runs every scenario several times; each attempt ends with a verdict:

    pass   the run's checks all held
    fail   a check did not hold
    error  infrastructure or provider trouble: the attempt measured nothing

Errors never count as passes or as fails: every rate below is over n = passes + fails.

Per scenario and overall this module computes the pass rate with its 95% Wilson score interval,
pass@k and pass^k for k = 1..n with the unbiased estimators of the Codex paper and tau-bench,

    pass@k = 1 - C(n-c, k) / C(n, k)     at least one of k attempts passes
    pass^k = C(c, k) / C(n, k)            all k attempts pass

(n counted attempts, c passes), whether the scenario is flaky (some but not all passed), and the mean
steps, tokens, cost and duration of the attempts that produced a run. `compare` sets a result against
a baseline. The summary is written as versioned JSON (`load_summary` / `dump_summary` round-trip it
exactly), JUnit XML, Markdown for a pull-request comment, a rich table and a standalone HTML page.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from agentic.errors import ConfigError, UsageError

FORMAT = "agentic-eval"
VERSION = 1
VERDICTS = ("pass", "fail", "error")
Z95 = 1.959963984540054  # the 0.975 quantile of the standard normal distribution
JUNIT_CLASSNAME = "agentic.eval"


@dataclass(frozen=True)
class Attempt:
    """One run of one scenario and its verdict."""

    scenario: str
    attempt: int  # 1-based
    verdict: str  # "pass" | "fail" | "error"
    status: str  # the run's final status, or "" when no run was made
    reason: str
    run_id: str | None
    steps: int
    tool_calls: int
    tokens: int
    cost_usd: float | None
    duration_s: float
    checks: dict[str, bool]  # check id -> passed
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Stats:
    """Counts, rates and means over a set of attempts. Rates are None when n (passes + fails) is 0."""

    attempts: int
    passes: int
    fails: int
    errors: int
    pass_rate: float | None
    ci_low: float | None  # 95% Wilson score interval of the pass rate
    ci_high: float | None
    pass_at_k: tuple[float, ...]  # index k-1, k = 1..n
    pass_hat_k: tuple[float, ...]  # pass^k, index k-1
    mean_steps: float | None  # the means are over attempts that produced a run
    mean_tokens: float | None
    mean_cost_usd: float | None  # over the attempts whose cost is known
    total_cost_usd: float | None  # summed over every attempt whose cost is known
    cost_complete: bool  # every attempt with a run knows its cost
    mean_duration_s: float | None

    @property
    def n(self) -> int:
        """The attempts that count for rates: passes + fails."""
        return self.passes + self.fails

    @property
    def k(self) -> int:
        """The largest k with pass@k and pass^k."""
        return len(self.pass_at_k)


@dataclass(frozen=True)
class ScenarioStats(Stats):
    scenario: str
    status: str  # "pass" (all counted attempts passed), "fail" (none), "flaky" (some), "error" (none counted)
    tags: tuple[str, ...]
    results: tuple[Attempt, ...]  # ordered by attempt number

    @property
    def flaky(self) -> bool:
        return self.status == "flaky"


@dataclass(frozen=True)
class Overall(Stats):
    """Over every attempt. pass_rate and its interval pool the attempts; pass@k and pass^k are the mean
    over the scenarios with a counted attempt of their pass@k and pass^k (as in the Codex paper), for k
    up to the smallest n among them."""

    scenarios: int
    passing: int
    failing: int
    flaky: int
    errored: int  # scenarios none of whose attempts counted

    @property
    def error_rate(self) -> float:
        return self.errors / self.attempts if self.attempts else 0.0


@dataclass(frozen=True)
class EvalSummary:
    fingerprint: dict[str, Any]
    meta: dict[str, Any]
    overall: Overall
    scenarios: tuple[ScenarioStats, ...]  # ordered by scenario id

    def scenario(self, scenario_id: str) -> ScenarioStats | None:
        return next((s for s in self.scenarios if s.scenario == scenario_id), None)

    @property
    def attempts(self) -> list[Attempt]:
        return [a for s in self.scenarios for a in s.results]


# -- the statistics -------------------------------------------------------------------------------


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k: the chance that at least one of k attempts drawn from the n passes."""
    if not 0 < k <= n or not 0 <= c <= n:
        raise ValueError(f"pass@k needs 0 < k <= n and 0 <= c <= n (n={n}, c={c}, k={k})")
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Unbiased pass^k: the chance that all k attempts drawn from the n pass."""
    if not 0 < k <= n or not 0 <= c <= n:
        raise ValueError(f"pass^k needs 0 < k <= n and 0 <= c <= n (n={n}, c={c}, k={k})")
    return math.comb(c, k) / math.comb(n, k)


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95% by default)."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(
            f"the Wilson interval needs n > 0 and 0 <= successes <= n (n={n}, successes={successes})"
        )
    p = successes / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact at the ends, not 1e-17 off
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _counts(attempts: Sequence[Attempt]) -> dict[str, Any]:
    """The fields of Stats that do not depend on how pass@k is aggregated."""
    passes = sum(1 for a in attempts if a.verdict == "pass")
    fails = sum(1 for a in attempts if a.verdict == "fail")
    n = passes + fails
    low, high = wilson_interval(passes, n) if n else (None, None)
    ran = [a for a in attempts if a.run_id is not None]
    costs = [a.cost_usd for a in attempts if a.cost_usd is not None]
    known = [a.cost_usd for a in ran if a.cost_usd is not None]
    return {
        "attempts": len(attempts),
        "passes": passes,
        "fails": fails,
        "errors": len(attempts) - n,
        "pass_rate": passes / n if n else None,
        "ci_low": low,
        "ci_high": high,
        "mean_steps": _mean([a.steps for a in ran]),
        "mean_tokens": _mean([a.tokens for a in ran]),
        "mean_cost_usd": _mean(known),
        "total_cost_usd": sum(costs) if costs else None,
        "cost_complete": len(known) == len(ran),
        "mean_duration_s": _mean([a.duration_s for a in ran]),
    }


def _status(passes: int, n: int) -> str:
    if n == 0:
        return "error"
    return "pass" if passes == n else "fail" if passes == 0 else "flaky"


# The JSON types of an attempt's fields (the file holds tags as a list).
ATTEMPT_TYPES: dict[str, tuple[type, ...]] = {
    "scenario": (str,),
    "attempt": (int,),
    "verdict": (str,),
    "status": (str,),
    "reason": (str,),
    "run_id": (str, type(None)),
    "steps": (int,),
    "tool_calls": (int,),
    "tokens": (int,),
    "cost_usd": (int, float, type(None)),
    "duration_s": (int, float),
    "checks": (dict,),
    "tags": (list,),
}


def _check(attempt: Attempt) -> None:
    """An attempt must be what its JSON will be read back as: a wrong type is caught here, at the eval,
    not later when the summary is loaded as a baseline."""
    where = f"{attempt.scenario} attempt {attempt.attempt}"
    for name, types in ATTEMPT_TYPES.items():
        value = getattr(attempt, name)
        types = (tuple, list) if name == "tags" else types
        if isinstance(value, bool) or not isinstance(value, types):
            raise ValueError(
                f"{where}: {name} must be {' or '.join(t.__name__ for t in types)}, not {value!r}"
            )
    if attempt.verdict not in VERDICTS:
        raise ValueError(f"{where}: verdict {attempt.verdict!r} is not one of {', '.join(VERDICTS)}")


def scenario_stats(scenario: str, attempts: Iterable[Attempt]) -> ScenarioStats:
    runs = tuple(sorted(attempts, key=lambda a: a.attempt))
    for attempt in runs:
        _check(attempt)
    counts = _counts(runs)
    n, c = counts["passes"] + counts["fails"], counts["passes"]
    tags = tuple(sorted({t for a in runs for t in a.tags}))
    return ScenarioStats(
        **counts,
        pass_at_k=tuple(pass_at_k(n, c, k) for k in range(1, n + 1)),
        pass_hat_k=tuple(pass_hat_k(n, c, k) for k in range(1, n + 1)),
        scenario=scenario,
        status=_status(c, n),
        tags=tags,
        results=runs,
    )


def _overall(scenarios: Sequence[ScenarioStats]) -> Overall:
    attempts = [a for s in scenarios for a in s.results]
    measured = [s for s in scenarios if s.n]
    k = min((s.n for s in measured), default=0)
    statuses = [s.status for s in scenarios]
    return Overall(
        **_counts(attempts),
        pass_at_k=tuple(sum(s.pass_at_k[i] for s in measured) / len(measured) for i in range(k)),
        pass_hat_k=tuple(sum(s.pass_hat_k[i] for s in measured) / len(measured) for i in range(k)),
        scenarios=len(scenarios),
        passing=statuses.count("pass"),
        failing=statuses.count("fail"),
        flaky=statuses.count("flaky"),
        errored=statuses.count("error"),
    )


def summarize(attempts: list[Attempt], *, fingerprint: dict, meta: dict) -> EvalSummary:
    """Per-scenario and overall statistics of an eval's attempts. `fingerprint` and `meta` are kept
    as given (JSON values: they are written to the summary file)."""
    by_scenario: dict[str, list[Attempt]] = {}
    for attempt in attempts:
        by_scenario.setdefault(attempt.scenario, []).append(attempt)
    scenarios = tuple(scenario_stats(name, by_scenario[name]) for name in sorted(by_scenario))
    return EvalSummary(
        fingerprint=dict(fingerprint), meta=dict(meta), overall=_overall(scenarios), scenarios=scenarios
    )


# -- comparison with a baseline -------------------------------------------------------------------


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


# -- the versioned JSON file ----------------------------------------------------------------------


def _attempt_dict(attempt: Attempt) -> dict[str, Any]:
    data = asdict(attempt)
    data["tags"] = list(attempt.tags)
    return data


def _stats_dict(stats: Stats, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for f in fields(stats):
        if f.name in skip:
            continue
        value = getattr(stats, f.name)
        data[f.name] = list(value) if isinstance(value, tuple) else value
    return data


def summary_dict(summary: EvalSummary) -> dict[str, Any]:
    """The summary as the JSON object `dump_summary` writes."""
    scenarios = []
    for stats in summary.scenarios:
        data = _stats_dict(stats, skip=("results",))
        data["flaky"] = stats.flaky
        data["results"] = [_attempt_dict(a) for a in stats.results]
        scenarios.append(data)
    overall = _stats_dict(summary.overall)
    overall["error_rate"] = summary.overall.error_rate
    return {
        "format": FORMAT,
        "version": VERSION,
        "fingerprint": summary.fingerprint,
        "meta": summary.meta,
        "overall": overall,
        "scenarios": scenarios,
    }


def write_file(path: str | Path, text: str) -> None:
    """Write a report; a path that cannot be written is the user's to fix (UsageError), not a crash."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc


def dumps_summary(summary: EvalSummary) -> str:
    return json.dumps(summary_dict(summary), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def dump_summary(summary: EvalSummary, path: str | Path) -> None:
    write_file(path, dumps_summary(summary))


def _bad(path: Path, message: str, where: str | None = None, hint: str | None = None) -> ConfigError:
    return ConfigError(message, file=str(path), field=where, hint=hint)


def _attempt_from(data: Any, path: Path, where: str) -> Attempt:
    if not isinstance(data, dict) or set(data) != set(ATTEMPT_TYPES):
        raise _bad(path, f"an attempt must be an object with the fields {', '.join(ATTEMPT_TYPES)}", where)
    for name, types in ATTEMPT_TYPES.items():
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, types):
            raise _bad(path, f"has the wrong type ({type(value).__name__})", f"{where}.{name}")
    if data["verdict"] not in VERDICTS:
        raise _bad(path, f"must be one of {', '.join(VERDICTS)}", f"{where}.verdict")
    if not all(isinstance(v, bool) for v in data["checks"].values()) or not all(
        isinstance(t, str) for t in data["tags"]
    ):
        raise _bad(path, "checks must map ids to booleans and tags must be strings", where)
    return Attempt(**{**data, "tags": tuple(data["tags"])})


def _parse(text: str, path: Path) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not JSON: {exc.msg}", file=str(path), line=exc.lineno) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _bad(path, f'not an eval summary (no "format": "{FORMAT}")')
    if data.get("version") != VERSION:
        raise _bad(
            path,
            f"eval summary version {data.get('version')!r}; this agentic reads version {VERSION}",
            hint="re-run the eval (or `agentic eval bless`) to write the baseline in this version",
        )
    for key in ("fingerprint", "meta"):
        if not isinstance(data.get(key), dict):
            raise _bad(path, "must be an object", key)
    if not isinstance(data.get("scenarios"), list):
        raise _bad(path, "must be a list", "scenarios")
    return data


def loads_summary(text: str, path: str | Path = "<summary>") -> EvalSummary:
    path = Path(path)
    data = _parse(text, path)
    attempts: list[Attempt] = []
    for i, scenario in enumerate(data["scenarios"]):
        detail = scenario.get("results") if isinstance(scenario, dict) else None
        if not isinstance(detail, list):
            raise _bad(path, "must be a list", f"scenarios[{i}].results")
        attempts += [_attempt_from(a, path, f"scenarios[{i}].results[{j}]") for j, a in enumerate(detail)]
    try:
        summary = summarize(attempts, fingerprint=data["fingerprint"], meta=data["meta"])
    except ValueError as exc:
        raise _bad(path, str(exc)) from exc
    if summary_dict(summary) != data:
        raise _bad(
            path,
            "its statistics do not match its attempts (the file was edited or is damaged)",
            hint="re-run the eval to write it again",
        )
    return summary


def load_summary(path: str | Path) -> EvalSummary:
    """Read a summary written by dump_summary. A missing, damaged, foreign or old file raises ConfigError
    naming it. The statistics are recomputed from the attempts and must match the file's."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(path, f"cannot be read: {exc}") from exc
    return loads_summary(text, path)


# -- text helpers shared by the writers -----------------------------------------------------------


def pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def ci_text(stats: Stats) -> str:
    if stats.ci_low is None or stats.ci_high is None:
        return "—"
    return f"{stats.ci_low * 100:.0f}-{stats.ci_high * 100:.0f}%"


def num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if digits == 0 else f"{value:,.{digits}f}"


def usd(value: float | None, complete: bool = True) -> str:
    if value is None:
        return "—"
    return ("" if complete else "≥") + f"${value:.4f}"


def secs(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}s"


def at_k(values: tuple[float, ...]) -> str:
    """The last value (k = n) as a percentage, or — when there is none."""
    return pct(values[-1], 0) if values else "—"


def attempt_line(attempt: Attempt) -> str:
    """One line about an attempt: verdict, status, reason, run, usage and the checks that failed."""
    parts = [attempt.verdict]
    if attempt.status:
        parts.append(attempt.status)
    if attempt.reason:
        parts.append(attempt.reason)
    if attempt.run_id:
        parts.append(f"run {attempt.run_id}")
    parts.append(
        f"{attempt.steps} steps, {attempt.tool_calls} tool calls, {attempt.tokens} tokens, "
        f"{usd(attempt.cost_usd)}, {attempt.duration_s:.1f}s"
    )
    failed = [name for name, ok in attempt.checks.items() if not ok]
    if failed:
        parts.append("failed checks: " + ", ".join(failed))
    return " · ".join(parts)


def comparison_line(comparison: Comparison) -> str:
    """The aggregate against the baseline in one sentence."""
    rates = f"{pct(comparison.baseline_rate)} → {pct(comparison.current_rate)}"
    text = (
        f"against the baseline: mean scenario pass rate {rates} over the {comparison.common} scenarios "
        f"in both (allowed drop {pct(comparison.max_drop)})"
    )
    if comparison.fingerprint_changed:
        text += " · fingerprint changed: " + ", ".join(comparison.fingerprint_diff)
    return text


def ordered(summary: EvalSummary, comparison: Comparison | None = None) -> list[ScenarioStats]:
    """Scenarios for a report: regressions first, then failing, erroring, flaky, passing; by id within."""
    rank = {"fail": 1, "error": 2, "flaky": 3, "pass": 4}

    def key(stats: ScenarioStats) -> tuple[int, str]:
        first = 0 if comparison is not None and comparison.regressed(stats.scenario) else rank[stats.status]
        return first, stats.scenario

    return sorted(summary.scenarios, key=key)


def headline(summary: EvalSummary, comparison: Comparison | None = None) -> str:
    o = summary.overall
    text = (
        f"{o.passing}/{o.scenarios} scenarios passing · pass rate {pct(o.pass_rate)} "
        f"(95% CI {ci_text(o)}) over {o.n} attempts"
    )
    if o.flaky:
        text += f" · {o.flaky} flaky"
    if o.errors:
        text += f" · {o.errors} errored"
    if comparison is not None:
        text += " · no regressions" if comparison.ok else f" · {len(comparison.regressions)} regressions"
    return text


# -- JUnit XML ------------------------------------------------------------------------------------

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _x(value: object) -> str:
    """Text XML 1.0 can carry (ElementTree escapes markup, not characters XML forbids)."""
    return _XML_INVALID.sub("\ufffd", str(value))


def _property(parent: ET.Element, name: str, value: object) -> None:
    ET.SubElement(parent, "property", name=_x(name), value=_x(value))


def _testcase(suite: ET.Element, stats: ScenarioStats, comparison: Comparison | None) -> None:
    time = sum(a.duration_s for a in stats.results)
    case = ET.SubElement(
        suite, "testcase", classname=JUNIT_CLASSNAME, name=_x(stats.scenario), time=f"{time:.3f}"
    )
    props = ET.SubElement(case, "properties")
    _property(props, "pass_rate", pct(stats.pass_rate))
    _property(props, "ci95", ci_text(stats))
    for k, (at, hat) in enumerate(zip(stats.pass_at_k, stats.pass_hat_k, strict=True), start=1):
        _property(props, f"pass@{k}", f"{at:.4f}")
        _property(props, f"pass^{k}", f"{hat:.4f}")
    if stats.tags:
        _property(props, "tags", ", ".join(stats.tags))
    for attempt in stats.results:
        _property(props, f"attempt.{attempt.attempt}", attempt_line(attempt))
    details = "\n".join(f"attempt {a.attempt}: {attempt_line(a)}" for a in stats.results)
    regression = comparison is not None and comparison.regressed(stats.scenario)
    if stats.status == "error":
        ET.SubElement(
            case, "error", message=_x(f"all {stats.attempts} attempts errored"), type="error"
        ).text = _x(details)
    elif stats.status != "pass":
        message = f"{stats.passes}/{stats.n} attempts passed" + (" (flaky)" if stats.flaky else "")
        message += " · regression" if regression else ""
        ET.SubElement(case, "failure", message=_x(message), type=stats.status).text = _x(details)
    ET.SubElement(case, "system-out").text = _x(details)


def junit_element(summary: EvalSummary, comparison: Comparison | None = None) -> ET.Element:
    o = summary.overall
    time = f"{sum(a.duration_s for a in summary.attempts):.3f}"
    counts = {
        "tests": str(o.scenarios),
        "failures": str(o.failing + o.flaky),
        "errors": str(o.errored),
        "skipped": "0",
        "time": time,
    }
    root = ET.Element("testsuites", name="agentic eval", **counts)
    suite = ET.SubElement(root, "testsuite", name=JUNIT_CLASSNAME, **counts)
    props = ET.SubElement(suite, "properties")
    _property(props, "summary", headline(summary, comparison))
    for key, value in sorted(summary.fingerprint.items()):
        _property(
            props,
            f"fingerprint.{key}",
            value if isinstance(value, str) else json.dumps(value, sort_keys=True),
        )
    if comparison is not None:
        for regression in comparison.regressions:
            _property(props, "regression", regression.message)
    for stats in summary.scenarios:
        _testcase(suite, stats, comparison)
    return root


def write_junit(summary: EvalSummary, path: str | Path, comparison: Comparison | None = None) -> None:
    """JUnit XML: one testcase per scenario (classname agentic.eval); a failure when not every counted
    attempt passed, an error when every attempt errored; the attempts as the testcase's properties."""
    root = junit_element(summary, comparison)
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode")
    write_file(path, f'<?xml version="1.0" encoding="UTF-8"?>\n{text}\n')


# -- Markdown -------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]|#!~])")
STATUS_MARK = {"pass": "✅", "fail": "❌", "flaky": "⚠️", "error": "💥"}


def md(text: object) -> str:
    """Plain text for a Markdown table cell: no markup, no HTML, one line."""
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_row(stats: ScenarioStats, comparison: Comparison | None) -> str:
    mark = STATUS_MARK[stats.status]
    if comparison is not None and comparison.regressed(stats.scenario):
        mark += " **regression**"
    baseline = ""
    if comparison is not None:
        before = comparison.deltas.get(stats.scenario, (None, None))[0]
        baseline = f" {pct(before, 0)} |" if stats.scenario in comparison.deltas else " new |"
    cells = [
        mark,
        md(stats.scenario),
        f"{stats.passes}/{stats.n}" + (f" ({stats.errors} err)" if stats.errors else ""),
        pct(stats.pass_rate, 0),
        ci_text(stats),
        at_k(stats.pass_hat_k),
        num(stats.mean_steps),
        num(stats.mean_tokens, 0),
        usd(stats.mean_cost_usd, stats.cost_complete),
        secs(stats.mean_duration_s),
    ]
    return "| " + " | ".join(cells) + " |" + baseline


def markdown(summary: EvalSummary, comparison: Comparison | None = None) -> str:
    o = summary.overall
    verdict = "" if comparison is None else ("✅ " if comparison.ok else "❌ ")
    lines = [f"### {verdict}agentic eval", "", md(headline(summary, comparison))]
    ks = f"pass@{o.k} {at_k(o.pass_at_k)} · pass^{o.k} {at_k(o.pass_hat_k)} · " if o.k else ""
    lines.append(f"{ks}cost {usd(o.total_cost_usd, o.cost_complete)}")
    if comparison is not None:
        lines += ["", *_md_comparison(comparison)]
    header = "| | scenario | passed | rate | 95% CI | pass^k | steps | tokens | cost | time |"
    rule = "|---|---|---|---|---|---|---|---|---|---|"
    if comparison is not None:
        header, rule = header + " baseline |", rule + "---|"
    lines += ["", header, rule, *(_md_row(s, comparison) for s in ordered(summary, comparison))]
    lines.append(
        f"| | **overall** | {o.passes}/{o.n} | {pct(o.pass_rate, 0)} | {ci_text(o)} | {at_k(o.pass_hat_k)} | "
        f"{num(o.mean_steps)} | {num(o.mean_tokens, 0)} | {usd(o.mean_cost_usd, o.cost_complete)} | "
        f"{secs(o.mean_duration_s)} |" + (" |" if comparison is not None else "")
    )
    lines += [
        "",
        "<sub>rates count passes and fails only; errored attempts are excluded. "
        "pass^k: all k attempts pass. Steps, tokens, cost and time are means per attempt.</sub>",
        "",
    ]
    return "\n".join(lines)


def _md_comparison(comparison: Comparison) -> list[str]:
    lines: list[str] = []
    if comparison.regressions:
        lines.append("**Regressions**")
        lines += [f"- {md(r.message)}" for r in comparison.regressions]
    line = comparison_line(comparison)
    lines.append(md(line[0].upper() + line[1:]) + ".")
    for label, names in (
        ("fixed", comparison.fixed),
        ("new", comparison.new),
        ("missing", comparison.missing),
        ("unmeasured (all attempts errored)", comparison.unmeasured),
    ):
        if names:
            lines.append(f"- {label}: " + ", ".join(md(n) for n in names))
    return lines


def write_markdown(summary: EvalSummary, path: str | Path, comparison: Comparison | None = None) -> None:
    """A compact table for a pull-request comment, regressions first."""
    write_file(path, markdown(summary, comparison))


# -- the terminal table ---------------------------------------------------------------------------

STATUS_STYLE = {"pass": "green", "fail": "red", "flaky": "yellow", "error": "magenta"}


def _plain(text: object) -> Text:
    from agentic.reports.summary import clean

    return Text(clean(str(text)))


NUMBERS = ("rate", "95% CI", "pass@k", "pass^k", "steps", "tokens", "cost", "time")
NARROW = ("rate", "pass@k", "steps", "cost")  # what a terminal under WIDE columns shows
WIDE = 120


def render_table(summary: EvalSummary, comparison: Comparison | None = None, width: int | None = None) -> Table:
    """Per-scenario rows and an overall row, coloured by status (pass green, fail red, flaky yellow,
    error magenta); with a comparison, a baseline column and regressions marked and listed first.
    Under WIDE columns only the NARROW figures are shown, so the scenario names stay readable."""
    o = summary.overall
    shown = NUMBERS if width is None or width >= WIDE else NARROW
    keep = [i for i, name in enumerate(NUMBERS) if name in shown]
    table = Table(title=_plain(headline(summary, comparison)), box=box.SIMPLE_HEAD, padding=(0, 1))
    table.add_column("scenario", overflow="fold", min_width=16)
    table.add_column("status", no_wrap=True)
    for name in ("passed", *shown):
        table.add_column(name, justify="right", no_wrap=True)
    if comparison is not None:
        table.add_column("baseline", justify="right", no_wrap=True)
    for stats in ordered(summary, comparison):
        label = stats.status
        if comparison is not None and comparison.regressed(stats.scenario):
            label += " ▼ regression"
        cells: list[Text | str] = [
            _plain(stats.scenario),
            Text(label, style=f"bold {STATUS_STYLE[stats.status]}"),
            f"{stats.passes}/{stats.n}" + (f" +{stats.errors}err" if stats.errors else ""),
            *[_numbers(stats)[i] for i in keep],
        ]
        if comparison is not None:
            cells.append(
                pct(comparison.deltas[stats.scenario][0], 0) if stats.scenario in comparison.deltas else "new"
            )
        table.add_row(*cells, style=STATUS_STYLE[stats.status] if stats.status != "pass" else None)
    table.add_section()
    overall: list[Text | str] = [
        "overall",
        f"{o.passing}/{o.scenarios} pass",
        f"{o.passes}/{o.n}",
        *[_numbers(o)[i] for i in keep],
    ]
    if comparison is not None:
        overall.append("")
        table.caption = _plain(comparison_line(comparison))
    table.add_row(*overall, style="bold")
    return table


def _numbers(stats: Stats) -> list[str]:
    k = f"@{stats.k}" if stats.k else ""
    return [
        pct(stats.pass_rate, 0),
        ci_text(stats),
        at_k(stats.pass_at_k) + k,
        at_k(stats.pass_hat_k) + k,
        num(stats.mean_steps),
        num(stats.mean_tokens, 0),
        usd(stats.mean_cost_usd, stats.cost_complete),
        secs(stats.mean_duration_s),
    ]


# -- HTML -----------------------------------------------------------------------------------------


def write_html(summary: EvalSummary, path: str | Path, comparison: Comparison | None = None) -> None:
    """A standalone HTML page (no network assets): overview, per-scenario table with every attempt,
    the comparison with its regressions, and the fingerprint."""
    from agentic.reports.html import eval_page

    write_file(path, eval_page(summary, comparison))
