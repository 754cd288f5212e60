"""What a run shows while it works: the journal listeners and the chooser between them.

- `LiveProgress` (agentic.observe.live): a rich live display for a terminal;
- `LineProgress` (agentic.observe.lines): plain lines, for output that is not a terminal (logs, CI);
- `JsonEvents` (agentic.observe.stream): one JSON object per line on stdout for machines (`--json`);
  docs/events.md.

Each is called with (record, data) after every journal append (`RunRequest.on_record`) and reads them
as a typed event (agentic.journal.events). A display never stops a run: its errors are swallowed (a
live display falls back to plain lines, an event stream whose reader went away stops writing).
Journal content is untrusted: it reaches a terminal only through `clean()` and rich `Text` (never
markup); JSON is written ASCII-only. `EvalProgress` is `agentic eval`'s progress.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from agentic.observe.lines import LineProgress as LineProgress
from agentic.observe.listener import ProgressListener as ProgressListener
from agentic.observe.listener import Record as Record
from agentic.observe.listener import Tee as Tee
from agentic.observe.listener import result_detail as result_detail
from agentic.observe.live import LiveProgress as LiveProgress
from agentic.observe.live import budget_line as budget_line
from agentic.observe.live import render as render
from agentic.observe.state import RunState as RunState
from agentic.observe.stream import JsonEvents as JsonEvents
from agentic.policy import engine as policy
from agentic.reports.summary import clean, one_line


def live_capable(console: Console) -> bool:
    """A terminal that can redraw: not a pipe or file, not TERM=dumb."""
    return console.is_terminal and not console.is_dumb_terminal


class Silent(ProgressListener):
    """--quiet: nothing while the run works (its outcome is still printed at the end)."""

    def __call__(self, record: Record, data: Record) -> None:
        return None


def for_output(json_out: bool, console: Console, *, task: str | None = None, limits: Record | None = None,
               verbosity: str = "normal") -> ProgressListener:  # fmt: skip
    """The progress for a run command. `console` is where people read: stdout, or stderr under
    --json (then stdout carries the JSON events). A terminal gets the transcript with a live status
    area under it, anything else the transcript as plain lines; `verbosity` "quiet" nothing, "verbose"
    the model's whole text and the first lines of the tools' output in the transcript. `task` and
    `limits` are what a resumed session's display and `start` event show."""
    human: ProgressListener
    verbose = verbosity == "verbose"
    if verbosity == "quiet":
        human = Silent()
    elif live_capable(console):
        human = LiveProgress(console, limits=limits, redirect_stdout=not json_out, verbose=verbose)
    else:
        human = LineProgress(console, verbose=verbose)
    return Tee(JsonEvents(sys.stdout, task=task, limits=limits), human) if json_out else human


def pausing(approver: policy.Approver, progress: ProgressListener) -> policy.Approver:
    """The approver, with the display held still while it asks (a non-asking approver is kept as it is:
    the dispatcher recognises `policy.deny_all`)."""
    if approver is policy.deny_all:
        return approver

    def ask(question: policy.Question) -> policy.Answer:
        with progress.paused():
            return approver(question)

    return ask


class EvalProgress:
    """`agentic eval`'s progress: a line per finished attempt (verdict, scenario, status, steps, time,
    why); at a terminal, under them a live bar of attempts done with the pass / fail / error counts and
    the scenarios still running. Use as a context manager; call it with each AttemptResult."""

    def __init__(self, console: Console, total: int) -> None:
        self.console, self.total = console, total
        self.counts = {"pass": 0, "fail": 0, "error": 0}
        self._live: Live | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> EvalProgress:
        if self.console.is_terminal:
            self._live = Live(self._bar(), console=self.console, refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def __call__(self, result: Any) -> None:
        a = result.attempt
        with self._lock:
            self.counts[a.verdict] = self.counts.get(a.verdict, 0) + 1
            style = {"pass": "green", "fail": "red", "error": "magenta", "cancelled": "dim"}.get(a.verdict, "")
            line = Text(f"{'✓' if a.verdict == 'pass' else '✗' if a.verdict == 'fail' else '!'} {a.verdict:<5} ",
                        style=style)  # fmt: skip
            line.append(clean(f"{a.scenario} #{a.attempt}  {a.status or 'no run'} · {a.steps} steps · "
                              f"{a.duration_s:.1f}s" + (f" · {one_line(a.reason, 160)}" if a.reason else "")))  # fmt: skip
            self.console.print(line, soft_wrap=True)
            if self._live is not None:
                self._live.update(self._bar())

    def _bar(self) -> Text:
        done = sum(self.counts.values())
        width = 30
        filled = round(width * done / self.total) if self.total else width
        bar = Text("eval ", style="bold")
        bar.append("█" * filled + "░" * (width - filled), style="cyan")
        bar.append(f" {done}/{self.total} attempts · ")
        bar.append(f"{self.counts['pass']} pass", style="green")
        bar.append(" · ")
        bar.append(f"{self.counts['fail']} fail", style="red")
        bar.append(" · ")
        bar.append(f"{self.counts['error']} error", style="magenta")
        return bar
