"""The eval's verdict (exit 0 or 1, and why) and the one `eval.end` notification of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agentic.config.settings import load_settings
from agentic.eval.compare import Comparison
from agentic.eval.scenarios import Scenario
from agentic.eval.stats import EvalSummary
from agentic.eval.text import headline
from agentic.run.notify import NotifyConfig, make_payload, send


@dataclass(frozen=True)
class Decision:
    """The eval's verdict: the printed lines and the exit code come from this one computation."""

    ok: bool
    problems: list[str]

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


def decide(summary: EvalSummary, scenarios: list[Scenario], comparison: Comparison | None,
           max_error_rate: float) -> Decision:  # fmt: skip
    """Not ok when too many attempts errored; with a baseline, on a regression (and a new scenario
    below its min_pass_rate); without one, when a scenario's pass rate is below its min_pass_rate."""
    problems = error_rate_problems(summary, max_error_rate)
    if summary.overall.cancelled:
        problems.append(f"{summary.overall.cancelled} of {summary.overall.attempts} attempts were cancelled "
                        "before they ended: the eval is incomplete (`agentic eval --resume` runs them)")  # fmt: skip
    judged = {s.id: s for s in scenarios}
    if comparison is not None:
        problems += [r.message for r in comparison.regressions]
    for stats in summary.scenarios:
        scenario = judged.get(stats.scenario)
        if scenario is None or stats.pass_rate is None:
            continue
        if comparison is not None and stats.scenario not in comparison.new:
            continue
        if stats.pass_rate + 1e-12 < scenario.min_pass_rate:
            problems.append(f"{stats.scenario}: {stats.passes}/{stats.n} attempts passed "
                            f"(min_pass_rate {scenario.min_pass_rate:g})")  # fmt: skip
    return Decision(not problems, problems)


def error_rate_problems(summary: EvalSummary, max_error_rate: float) -> list[str]:
    """Too many attempts errored to trust the result (also refuses to bless such a baseline)."""
    overall = summary.overall
    if overall.error_rate <= max_error_rate + 1e-12:
        return []
    return [f"{overall.errors} of {overall.attempts} attempts errored ({overall.error_rate:.0%}; "
            f"at most {max_error_rate:.0%} allowed by --max-error-rate)"]  # fmt: skip


def notify_end(summary: EvalSummary, decision: Decision, root: Path) -> None:
    """One `eval.end` notification (settings `notify:` of the repository the eval ran from)."""
    config = NotifyConfig.from_settings(load_settings(root).notify)
    if config is None:
        return
    overall, sha = summary.overall, str(summary.fingerprint.get("sha256", ""))
    eval_id = f"eval-{int(float(summary.meta.get('started_at') or 0))}-{sha[:12]}"
    send(config, make_payload(
        "eval.end", eval_id, "ok" if decision.ok else "failed", reason="; ".join(decision.problems),
        summary=headline(summary), pass_rate=overall.pass_rate, scenarios=overall.scenarios,
        attempts=overall.attempts, errors=overall.errors, fingerprint=sha, repository=str(root),
    ), cwd=root)  # fmt: skip
