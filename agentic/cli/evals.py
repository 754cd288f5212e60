"""`agentic eval`: run scenarios k times, judge the results, compare them with a baseline (docs/eval.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

import agentic.eval as evalstats
from agentic.errors import UsageError
from agentic.eval import EvalSummary
from agentic.eval.driver import EvalRequest, chosen_scenarios, plan_eval, run_eval
from agentic.eval.runner import Options
from agentic.eval.scenarios import Scenario, resolve_model
from agentic.eval.verdict import decide, error_rate_problems, notify_end
from agentic.observe.progress import EvalProgress
from agentic.reports.summary import clean
from agentic.workspace import find_repo

from .common import err, out


class _EvalGroup(typer.core.TyperGroup):
    """`agentic eval [PATHS]` means `agentic eval run [PATHS]`; `agentic eval bless` is the other command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["run", *args]
        return list(super().parse_args(ctx, args))


app = typer.Typer(cls=_EvalGroup, name="eval", rich_markup_mode="rich",
                  help="Run eval scenarios k times each; report pass rates; compare with a "
                  "baseline. `agentic eval [PATHS]` is `agentic eval run [PATHS]`.")  # fmt: skip

ScenarioPaths = Annotated[
    list[Path] | None, typer.Argument(help="Scenario files or directories of them (default: scenarios/).")
]
RepeatsOpt = Annotated[int | None, typer.Option("--repeats", "-k", min=1, help="Attempts per scenario (overrides theirs).")]
ConcurrencyOpt = Annotated[int, typer.Option("--concurrency", "-j", min=1, help="Attempts running at once.")]
EvalModelOpt = Annotated[
    str | None, typer.Option("--model", "-m", help="provider:model for every scenario (overrides their script:).")
]
TagOpt = Annotated[list[str] | None, typer.Option("--tag", help="Only scenarios with this tag (repeatable: any of them).")]
ErrorRateOpt = Annotated[
    float, typer.Option("--max-error-rate", min=0.0, max=1.0, help="Fail when more attempts than this fraction errored.")
]
MaxDropOpt = Annotated[
    float, typer.Option("--max-drop", min=0.0, max=1.0,
                        help="With --baseline: the largest allowed drop of the mean scenario pass rate (a fraction).")
]
WorkdirOpt = Annotated[
    Path | None, typer.Option("--workdir", help="Keep every attempt's repository and journal here (default: a temp dir, removed).")
]


ExecutorOpt = Annotated[str, typer.Option("--executor", help="Where attempts run: local (threads of this process) "
                                          "or ray (attempt hosts on a Ray cluster; the agentic\\[ray] extra).")]
AddressOpt = Annotated[str | None, typer.Option("--address", help="With --executor ray: the cluster (auto, HOST:PORT, "
                                                "ray://HOST:PORT); default: a local one started for the eval.")]
MaxCostOpt = Annotated[float | None, typer.Option("--max-cost-usd", min=0.0, help="The eval's budget in dollars over "
                                                  "every attempt: once spent, the eval is cancelled.")]
MaxTokensOpt = Annotated[int | None, typer.Option("--max-total-tokens", min=1, help="The eval's budget in tokens over "
                                                  "every attempt: once spent, the eval is cancelled.")]
RetriesOpt = Annotated[int, typer.Option("--max-attempt-retries", min=0, help="With --executor ray: how often an "
                                         "attempt lost with its worker or node is tried again.")]
KeepHostsOpt = Annotated[float, typer.Option("--keep-hosts", min=0.0, metavar="SECONDS", help="With --executor ray: "
                                             "how long the attempt hosts stay up after their last attempt, warm for "
                                             "the next eval (0: they end with this one).")]


@dataclass
class _Fleet:
    """The options every eval command shares about where and under which budget its attempts run."""

    executor: str = "local"
    address: str | None = None
    max_cost_usd: float | None = None
    max_total_tokens: int | None = None
    max_attempt_retries: int = 1
    keep_hosts_s: float = 600.0


def _run_eval(paths: list[Path], tags: list[str], repeats: int | None, concurrency: int, model: str | None,
              workdir: Path | None, fleet: _Fleet, resume: str | None = None) -> tuple[EvalSummary, list[Scenario]]:  # fmt: skip
    try:
        state_dir: Path | None = find_repo(Path.cwd()).state_dir
    except UsageError:
        state_dir = None  # not run from a repository: the eval's attempts share a file of their own; no --resume
    options = Options(repeats, concurrency, resolve_model(model, Path.cwd()) if model else None, workdir,
                      state_dir / "ratelimits.db" if state_dir else None, fleet.max_cost_usd, fleet.max_total_tokens,
                      fleet.executor, fleet.address, fleet.max_attempt_retries,
                      keep_hosts_s=fleet.keep_hosts_s)  # fmt: skip
    req, state = plan_eval(EvalRequest(paths, tags, options, state_dir, resume))
    chosen = chosen_scenarios(req)
    attempts = sum(req.options.repeats or s.repeats for s in chosen)
    where = f" on Ray ({fleet.address or 'a local cluster'})" if fleet.executor == "ray" else ""
    err().print(f"eval: {len(chosen)} scenarios, {attempts} attempts, {concurrency} at a time{where}"
                + (f" · resuming {resume}" if resume else ""), soft_wrap=True)  # fmt: skip
    with EvalProgress(err(), attempts) as progress:
        done = run_eval(req, state, chosen, progress)
    if done.kept:
        err().print(f"kept {done.kept} attempts that had ended in {resume}")
    if done.state is not None:
        err().print(f"eval id {done.state.id} (agentic eval --resume {done.state.id} runs what did not end)", soft_wrap=True)
    return done.summary, done.scenarios


@app.command("run")
def eval_run(
    paths: ScenarioPaths = None,
    repeats: RepeatsOpt = None,
    concurrency: ConcurrencyOpt = 2,
    model: EvalModelOpt = None,
    tag: TagOpt = None,
    baseline: Annotated[Path | None, typer.Option("--baseline", help="A summary (--json or bless) to compare with.")] = None,
    max_drop: MaxDropOpt = 0.05,
    max_error_rate: ErrorRateOpt = 0.0,
    json_file: Annotated[Path | None, typer.Option("--json", help="Write the versioned JSON summary here.")] = None,
    junit_file: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here (a test case per scenario).")] = None,
    markdown_file: Annotated[Path | None, typer.Option("--markdown", help="Write a Markdown report here.")] = None,
    html_file: Annotated[Path | None, typer.Option("--html", help="Write a standalone HTML report here.")] = None,
    workdir: WorkdirOpt = None,
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    max_cost_usd: MaxCostOpt = None,
    max_total_tokens: MaxTokensOpt = None,
    max_attempt_retries: RetriesOpt = 1,
    keep_hosts: KeepHostsOpt = 600.0,
    resume: Annotated[str | None, typer.Option("--resume", help="An eval id: run only its attempts without a final "
                                               "verdict (its scenarios, tags, repeats and model as it was asked).")] = None,
) -> None:
    """Run every scenario k times, each attempt a full governed run; report and judge the results.

    Exit codes: 0 ok; 1 a regression against --baseline (a scenario that passed now fails, or the mean
    pass rate dropped more than --max-drop), a scenario below its min_pass_rate (without a baseline, or
    new since it), or more errored attempts than --max-error-rate; 2 bad input; 130 interrupted.

    Example: agentic eval scenarios/ --repeats 3 --baseline eval-baseline.json --markdown eval.md
    """
    base = evalstats.load_summary(baseline) if baseline is not None else None
    if resume is not None and (paths or tag or repeats or model):
        raise UsageError("--resume runs the eval as it was asked: give no scenario paths, --tag, --repeats or --model")
    fleet = _Fleet(executor, address, max_cost_usd, max_total_tokens, max_attempt_retries, keep_hosts)
    summary, chosen = _run_eval(paths or [Path("scenarios")], tag or [], repeats, concurrency, model, workdir, fleet,
                                resume)  # fmt: skip
    comparison = evalstats.compare(summary, base, max_drop=max_drop) if base is not None else None
    decision = decide(summary, chosen, comparison, max_error_rate)
    writers: tuple[tuple[Path | None, Callable[[Path], object]], ...] = (
        (json_file, lambda p: evalstats.dump_summary(summary, p)),
        (junit_file, lambda p: evalstats.write_junit(summary, p, comparison)),
        (markdown_file, lambda p: evalstats.write_markdown(summary, p, comparison)),
        (html_file, lambda p: evalstats.write_html(summary, p, comparison)),
    )
    for path, write in writers:
        if path is not None:
            write(path)
    out().print(evalstats.render_table(summary, comparison, out().width))
    for problem in decision.problems:
        out().print(f"[red]✗[/] {escape(clean(problem))}", soft_wrap=True)
    verdict = "[bold green]eval ok[/]" if decision.ok else f"[bold red]eval failed[/] ({len(decision.problems)} problems)"
    out().print(f"{verdict} · fingerprint {summary.fingerprint['sha256'][:12]}")
    notify_end(summary, decision, Path.cwd())
    raise typer.Exit(decision.exit_code)


@app.command("bless")
def eval_bless(
    paths: ScenarioPaths = None,
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the baseline.")] = Path("eval-baseline.json"),
    from_file: Annotated[Path | None, typer.Option("--from", help="Bless this --json result instead of running.")] = None,
    repeats: RepeatsOpt = None,
    concurrency: ConcurrencyOpt = 2,
    model: EvalModelOpt = None,
    tag: TagOpt = None,
    max_error_rate: ErrorRateOpt = 0.0,
    workdir: WorkdirOpt = None,
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
) -> None:
    """Write a baseline for `agentic eval --baseline`: run the scenarios, or bless a --json result.

    The result is saved as it is, failing scenarios included. Refused (exit 1, nothing written) when
    more attempts errored than --max-error-rate allows: errors measured nothing. Exit 2 for bad input.

    Example: agentic eval bless scenarios/ --repeats 3 --out eval-baseline.json
    """
    if from_file is not None:
        if paths:
            raise UsageError("--from blesses an existing result: give no scenario paths with it")
        summary = evalstats.load_summary(from_file)
    else:
        summary, _ = _run_eval(paths or [Path("scenarios")], tag or [], repeats, concurrency, model, workdir,
                               _Fleet(executor, address))  # fmt: skip
        out().print(evalstats.render_table(summary, width=out().width))
    problems = error_rate_problems(summary, max_error_rate)
    for problem in problems:
        out().print(f"[red]✗[/] {escape(problem)}; the baseline is not written")
    if problems:
        raise typer.Exit(1)
    evalstats.dump_summary(summary, out_file)
    out().print(f"baseline written to {escape(str(out_file))}: {escape(evalstats.headline(summary))}", soft_wrap=True)
