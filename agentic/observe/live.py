"""`LiveProgress`: a run at a terminal. The transcript (agentic.observe.lines) goes into the scrollback
as the run works; below it a live status area shows the step, the tool running, tokens, cost, tool
calls and time against the contract's limits. The display never stops a run: when it fails it falls
back to plain lines."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from agentic.journal.events import entry
from agentic.observe.lines import LineProgress
from agentic.observe.listener import ProgressListener, Record, number
from agentic.observe.state import RunState
from agentic.reports.summary import clean


def _against(used: str, limit: Any, fraction: float | None) -> Text:
    """`used/limit`, yellow from 80 % of the limit on."""
    text = f"{used}/{limit}" if limit is not None else used
    style = "yellow" if fraction is not None and fraction >= 0.8 else ""
    return Text(text, style=style)


def _fraction(used: float, limit: Any) -> float | None:
    limit = number(limit)
    return used / limit if limit else None


def budget_line(state: RunState) -> Text:
    """step 3/12 · tools 4/24 · tokens 1,234/400,000 · $0.0012/$0.50 · 12s/120s"""
    limits = state.limits
    parts: list[Text] = [
        Text("step ") + _against(str(state.step), limits.get("max_steps"),
                                 _fraction(state.step, limits.get("max_steps"))),
        Text("tools ") + _against(str(state.tool_calls), limits.get("max_tool_calls"),
                                  _fraction(state.tool_calls, limits.get("max_tool_calls"))),
    ]  # fmt: skip
    max_tokens = number(limits.get("max_total_tokens"))
    parts.append(Text("tokens ") + _against(f"{state.tokens:,}", f"{int(max_tokens):,}" if max_tokens else None,
                                            _fraction(state.tokens, max_tokens)))  # fmt: skip
    cap = number(limits.get("max_cost_usd"))
    if state.cost_usd is None:
        parts.append(Text("cost unknown", style="dim"))
    else:
        limit = f"${cap:.2f}" if cap is not None else None
        parts.append(Text("cost ") + _against(f"${state.cost_usd:.4f}", limit, _fraction(state.cost_usd, cap)))
    timeout = number(limits.get("timeout_s"))
    parts.append(_against(f"{state.elapsed:.0f}s", f"{timeout:.0f}s" if timeout else None,
                          _fraction(state.elapsed, timeout)))  # fmt: skip
    return Text(" · ").join(parts)


def render(state: RunState) -> RenderableType:
    """The status area: who, the budget, what is happening now (the rest is in the transcript above)."""
    head = Text.assemble(("agentic run ", "bold"), (state.run_id or "…", "bold"))
    if state.model:
        head.append(" · model ")
        head.append(state.model, style="cyan")
    rows: list[RenderableType] = [head, budget_line(state)]
    if state.ended is None:  # once ended, the transcript above says how
        seconds = max(0.0, state.clock() - state.since)
        rows.append(Spinner("dots", Text(f"{clean(state.activity, 100)} ({seconds:.0f}s)"), style="cyan"))
    for row in rows:
        if isinstance(row, Text):  # a row a line: the display keeps its height
            row.no_wrap, row.overflow = True, "ellipsis"
    return Group(*rows)


class LiveProgress(ProgressListener):
    """A rich live display of the run in progress; plain lines if the display fails."""

    def __init__(self, console: Console, *, limits: Record | None = None, refresh_per_second: float = 4.0,
                 redirect_stdout: bool = True, verbose: bool = False) -> None:  # fmt: skip
        self.console = console
        self.lines = LineProgress(console, verbose=verbose)  # the transcript, printed above the status area
        self.state = RunState(limits=dict(limits or {}))
        self.refresh_per_second = refresh_per_second
        self.redirect_stdout = redirect_stdout  # False when stdout carries the JSON event stream
        self._lock = threading.RLock()  # the state is folded here and rendered by Live's refresh thread
        self._live: Live | None = None
        self._fallback: LineProgress | None = None
        self._closed = False

    def __call__(self, record: Record, data: Record) -> None:
        if self._fallback is not None or self._closed:
            self._plain()(record, data)
            return
        try:
            with self._lock:
                self.state.add(*entry(record, data))
                self.state.notes.clear()  # warnings: the transcript prints them
            live = self._start()
            self.lines(record, data)
            if record.get("kind") == "run.end":
                live.refresh()
        except Exception:  # the display degrades, the run goes on
            self._stop(erase=False)
            self._plain()(record, data)

    def _plain(self) -> LineProgress:
        if self._fallback is None:
            self._fallback = self.lines
        return self._fallback

    def view(self) -> RenderableType:
        with self._lock:
            try:
                return render(self.state)
            except Exception:  # called from Live's refresh thread: it must not raise
                return Text(f"agentic run {self.state.run_id} (display unavailable)")

    def _start(self) -> Live:
        if self._live is None:
            live = Live(console=self.console, get_renderable=self.view, transient=False,
                        refresh_per_second=self.refresh_per_second, redirect_stdout=self.redirect_stdout,
                        redirect_stderr=True)  # fmt: skip
            live.start()
            self._live = live
        return self._live

    def _stop(self, erase: bool) -> None:
        live, self._live = self._live, None
        if live is None:
            return
        with contextlib.suppress(Exception):
            live.transient = erase
            live.stop()

    def close(self) -> None:
        self._stop(erase=False)
        self._closed = True

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The display is erased while the person answers, and drawn afresh below afterwards."""
        if self._live is None:
            yield
            return
        self._stop(erase=True)
        try:
            yield
        finally:
            if not self._closed and self._fallback is None:
                with contextlib.suppress(Exception):
                    self._start()
