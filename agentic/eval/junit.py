"""The eval as JUnit XML (`agentic eval --junit FILE`), through the shared writer (`reports.junit`).

One test case per scenario (classname agentic.eval): a failure when not every counted attempt passed
(failing or flaky), an error when every attempt errored. The schema allows properties only on the
suite, so the suite carries the headline, the fingerprint, the regressions and each scenario's figures
as `SCENARIO.pass_rate`, `SCENARIO.pass@K`, `SCENARIO.attempt.N` and so on; a test case's output
lists its figures and one line per attempt.
"""

from __future__ import annotations

import json
from pathlib import Path

from agentic.eval.compare import Comparison
from agentic.eval.stats import EvalSummary, ScenarioStats
from agentic.eval.text import attempt_line, ci_text, headline, pct
from agentic.reports import junit
from agentic.reports.output import write_file

CLASSNAME = "agentic.eval"


def figures(stats: ScenarioStats) -> list[tuple[str, str]]:
    """A scenario's figures as (name, value): rate, interval, pass@k and pass^k, tags, attempts."""
    rows = [("pass_rate", pct(stats.pass_rate)), ("ci95", ci_text(stats))]
    for k, (at, hat) in enumerate(zip(stats.pass_at_k, stats.pass_hat_k, strict=True), start=1):
        rows += [(f"pass@{k}", f"{at:.4f}"), (f"pass^{k}", f"{hat:.4f}")]
    if stats.tags:
        rows.append(("tags", ", ".join(stats.tags)))
    rows += [(f"attempt.{a.attempt}", attempt_line(a)) for a in stats.results]
    return rows


def _case(stats: ScenarioStats, comparison: Comparison | None) -> junit.Case:
    details = "\n".join(f"attempt {a.attempt}: {attempt_line(a)}" for a in stats.results)
    problem = None
    if stats.status in ("error", "cancelled"):
        problem = junit.Problem("error", f"all {stats.attempts} attempts {'errored' if stats.status == 'error' else 'were cancelled'}",
                                stats.status, details)  # fmt: skip
    elif stats.status != "pass":
        message = f"{stats.passes}/{stats.n} attempts passed" + (" (flaky)" if stats.flaky else "")
        if comparison is not None and comparison.regressed(stats.scenario):
            message += " · regression"
        problem = junit.Problem("failure", message, stats.status, details)
    shown = [f"{name}: {value}" for name, value in figures(stats) if not name.startswith("attempt.")]
    output = "\n".join(shown)
    time_s = sum(a.duration_s for a in stats.results)
    return junit.Case(stats.scenario, CLASSNAME, time_s, problem, f"{output}\n{details}")


def junit_suite(summary: EvalSummary, comparison: Comparison | None = None) -> junit.Suite:
    props = [("summary", headline(summary, comparison))]
    for key, value in sorted(summary.fingerprint.items()):
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        props.append((f"fingerprint.{key}", text))
    if comparison is not None:
        props += [("regression", r.message) for r in comparison.regressions]
    for stats in summary.scenarios:
        props += [(f"{stats.scenario}.{name}", value) for name, value in figures(stats)]
    cases = [_case(stats, comparison) for stats in summary.scenarios]
    return junit.Suite(CLASSNAME, cases, props, title="agentic eval")


def write_junit(summary: EvalSummary, path: str | Path, comparison: Comparison | None = None) -> None:
    """JUnit XML: one testcase per scenario; see the module's docstring."""
    write_file(path, junit.render(junit_suite(summary, comparison)).decode("utf-8"))
