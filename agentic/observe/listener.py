"""The progress listener's interface, several listeners as one, and the one-line summaries they share.

A listener is called with (record, data) after every journal append (`RunRequest.on_record`); it reads
them as a typed event (`agentic.journal.events.entry`) and never raises into the run.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Iterator
from typing import Any

from agentic.journal.events import Facts, ToolResult, Usage
from agentic.reports.summary import one_line

Record = dict[str, Any]


class ProgressListener(abc.ABC):
    """A journal listener that may hold a terminal: closed after the run, paused for a question."""

    @abc.abstractmethod
    def __call__(self, record: Record, data: Record) -> None:
        """Show one journal record (never raises)."""

    def close(self) -> None:  # noqa: B027 - most listeners hold nothing
        """Let go of the terminal (the live display's last frame stays)."""

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Hold still while the person is asked something at the terminal."""
        yield

    def __enter__(self) -> ProgressListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Tee(ProgressListener):
    """Several listeners as one."""

    def __init__(self, *listeners: ProgressListener) -> None:
        self.listeners = listeners

    def __call__(self, record: Record, data: Record) -> None:
        for listener in self.listeners:
            listener(record, data)

    def close(self) -> None:
        for listener in self.listeners:
            listener.close()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for listener in self.listeners:
                stack.enter_context(listener.paused())
            yield


def usage_total(usage: Usage | Any) -> int:
    """Input + output tokens of a usage object (0 for anything else)."""
    if not isinstance(usage, dict):
        return 0
    return int(usage.get("input_tokens") or 0) + int(usage.get("output_tokens") or 0)


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def facts(event: ToolResult) -> Facts:
    """A tool result's structured facts ({} when the record has none)."""
    return event.data if isinstance(event.data, dict) else {}


def result_detail(label: str, event: ToolResult) -> str:
    """A tool result in one line: the call's label, then how it went (exit status, refusal, error)."""
    extra = facts(event)
    detail = label
    if "exit_code" in extra:
        detail += " → timed out" if extra.get("timed_out") else f" → exit {extra['exit_code']}"
    elif extra.get("refused"):
        detail += f" · refused ({one_line(str(extra['refused']), 60)})"
    elif event.is_error:
        detail += " · " + one_line(str(event.content or ""), 70)
    return one_line(detail, 120)
