"""What the person sees of `agentic gate`: each check as it finishes, then the verdict line."""

from __future__ import annotations

import time
from typing import Any

from rich.markup import escape

from agentic.gate.checks import CheckResult
from agentic.gate.result import GateResult
from agentic.reports.summary import clean


class Printer:
    """Check lines as they finish (cold gate) or all at once (cache hit), then the verdict line."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self.shown = 0

    def check(self, check: CheckResult) -> None:
        self.shown += 1
        mark = "[green]✓[/]" if check.passed else "[red]✗[/]"
        timing = f"[dim]({check.kind}, {check.duration_s:.2f}s)[/]"
        self.console.print(f"{mark} {escape(clean(check.id))} {timing}", soft_wrap=True)
        if not check.passed:
            lines = clean(check.detail.replace("\t", "    ")).splitlines()
            detail = "\n".join("    " + line for line in lines)
            self.console.print(detail, markup=False, highlight=False, soft_wrap=True)

    def done(self, result: GateResult) -> None:
        for check in result.verdict.checks[self.shown :]:
            self.check(check)
        checks, failed = result.verdict.checks, result.verdict.failed
        what = "staged change" if result.mode == "staged" else "working tree"
        base = f"HEAD {result.base[:12]}" if result.base else "the empty tree (no commit yet)"
        head = f"[bold green]gate passed[/]: {len(checks)} checks"
        if not result.passed:
            head = f"[bold red]gate failed[/]: {len(failed)} of {len(checks)} checks did not pass"
        source = f"{escape(clean(result.contract.source))} ({result.contract.hash_ref[:19]})"
        changed = f"{len(result.changes)} files changed"
        self.console.print(f"{head} · {what} {result.tree[:12]} vs {base} · {changed} · contract {source}",
                           soft_wrap=True)  # fmt: skip
        if result.cached:
            ago = max(0.0, time.time() - result.evaluated_at)
            took = f"{result.duration_s * 1000:.0f} ms"
            self.console.print(f"[cyan]cached[/]: this tree was gated {_ago(ago)} ago with the same "
                               f"contract; answered in {took} (--no-cache to run the checks)", soft_wrap=True)
        elif not result.cacheable:
            self.console.print("[yellow]not cached[/]: a command timed out, was refused, was not found or "
                               "was killed; the next gate runs the checks again", soft_wrap=True)  # fmt: skip


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
