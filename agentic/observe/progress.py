"""What a run shows while it works. Three journal listeners, called with (record, data) after every
journal append (`RunRequest.on_record`), and a chooser:

- `LiveProgress`: a rich live display for a terminal — the step, the tool running, tokens, cost,
  tool calls and time against the contract's limits, and the last few notable events;
- `LineProgress`: plain lines, for output that is not a terminal (logs, CI);
- `JsonEvents`: one JSON object per line on stdout for machines (`--json`); docs/events.md.

A display never stops a run: its errors are swallowed (a live display falls back to plain lines,
an event stream whose reader went away stops writing). Journal content is untrusted: it reaches a
terminal only through `clean()` and rich `Text` (never markup); JSON is written ASCII-only.
"""

from __future__ import annotations

import abc
import contextlib
import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from agentic.reports.summary import call_label, clean, one_line

Record = dict[str, Any]
Approver = Callable[[str, str], bool]

EVENTS_SHOWN = 5  # notable events the live display keeps on screen


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


def _usage_total(usage: Any) -> int:
    if not isinstance(usage, dict):
        return 0
    return int(usage.get("input_tokens") or 0) + int(usage.get("output_tokens") or 0)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def result_detail(label: str, data: Record) -> str:
    """A tool result in one line: the call's label, then how it went (exit status, refusal, error)."""
    extra = data.get("data") if isinstance(data.get("data"), dict) else {}
    detail = label
    if "exit_code" in extra:
        detail += " → timed out" if extra.get("timed_out") else f" → exit {extra['exit_code']}"
    elif extra.get("refused"):
        detail += f" · refused ({one_line(str(extra['refused']), 60)})"
    elif data.get("is_error"):
        detail += " · " + one_line(str(data.get("content", "")), 70)
    return one_line(detail, 120)


# -- plain lines --------------------------------------------------------------------------------


class LineProgress(ProgressListener):
    """Prints one line per meaningful journal record while a run works."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __call__(self, record: Record, data: Record) -> None:
        try:
            handler = _LINES.get(str(record.get("kind")))
            if handler is not None:
                handler(self, record, data)
        except Exception:  # progress output must never end a run
            pass

    def say(self, text: str, style: str | None = None) -> None:
        self.console.print(Text(text, style=style or ""), highlight=False)

    def run_start(self, record: Record, data: Record) -> None:
        contract = data.get("contract") if isinstance(data.get("contract"), dict) else {}
        line = Text.assemble(("run", "bold"), f" {clean(str(record.get('run')))}  model ",
                             (clean(str(data.get("model"))), "cyan"),
                             f"  contract {clean(str(contract.get('source')))}")  # fmt: skip
        self.console.print(line, highlight=False)
        for warning in data.get("warnings") or []:
            self.say(f"warning: {clean(str(warning))}", "yellow")

    def model_response(self, record: Record, data: Record) -> None:
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        text = one_line(str(data.get("text", "")), 90)
        tokens = f"{usage.get('input_tokens', 0)}→{usage.get('output_tokens', 0)} tok"
        line = Text(f"step {record.get('step')} {tokens}", style="dim")
        if text:
            line.append(f"  {text}")
        self.console.print(line, highlight=False)

    def model_retry(self, record: Record, data: Record) -> None:
        self.say(f"   retry {data.get('retry')}/{data.get('of')} in {data.get('wait_s')}s: "
                 f"{one_line(str(data.get('error', '')), 90)}", "yellow")  # fmt: skip

    def model_wait(self, record: Record, data: Record) -> None:
        self.say(f"   waited {data.get('wait_s')}s for room under {one_line(str(data.get('rate')), 80)}", "dim")

    def context_trim(self, record: Record, data: Record) -> None:
        tokens = f"~{data.get('before_tokens')} → ~{data.get('after_tokens')} tokens"
        self.say(f"   context trimmed: {len(data.get('elided') or [])} older messages elided for the "
                 f"{data.get('window')}-token window ({tokens})", "dim")  # fmt: skip

    def policy_decision(self, record: Record, data: Record) -> None:
        if data.get("verdict") != "allow":
            self.say(f"   ✗ refused {clean(str(data.get('action')))}: {clean(str(data.get('rule')))} "
                     f"{clean(str(data.get('reason', '')))}", "yellow")  # fmt: skip

    def tool_result(self, record: Record, data: Record) -> None:
        extra = data.get("data") if isinstance(data.get("data"), dict) else {}
        if "refused" in extra and extra["refused"] not in ("invalid-arguments", "unknown-tool"):
            return  # the refusal was shown with its decision
        mark, style = ("✗", "red") if data.get("is_error") else ("✓", "green")
        detail = str(extra.get("path") or extra.get("command") or " ".join(str(a) for a in extra.get("argv") or []))
        if "exit_code" in extra:
            detail += " → timed out" if extra.get("timed_out") else f" → exit {extra['exit_code']}"
        elif data.get("is_error"):
            detail += " · " + one_line(str(data.get("content", "")), 70)
        self.say(f"   {mark} {clean(str(data.get('tool', '')))} {one_line(detail, 100)}", style)

    def gate_verdict(self, record: Record, data: Record) -> None:
        checks = [c for c in data.get("checks") or [] if isinstance(c, dict)]
        for check in checks:
            mark, style = ("✓", "green") if check.get("passed") else ("✗", "red")
            detail = one_line(str(check.get("detail", "")), 80)
            self.say(f"   gate {mark} {clean(str(check.get('id')))}: {detail}", style)
        failed = [clean(str(c.get("id"))) for c in checks if not c.get("passed")]
        if data.get("passed"):
            self.say(f"   gate passed ({len(checks)} checks)", "green")
        else:
            self.say(f"   gate failed: {', '.join(failed) or 'no checks'}", "red")

    def notify(self, record: Record, data: Record) -> None:
        ok = data.get("outcome") == "delivered"
        error = "" if ok or not data.get("error") else f": {one_line(str(data.get('error')), 80)}"
        self.say(f"notify {clean(str(data.get('channel')))} {one_line(str(data.get('target')), 60)}: "
                 f"{clean(str(data.get('outcome')))} after {data.get('attempts')} attempt(s){error}",
                 "dim" if ok else "yellow")  # fmt: skip

    def run_end(self, record: Record, data: Record) -> None:
        style = "green" if data.get("status") == "accepted" else "red"
        self.say(f"{clean(str(data.get('status')))}: {clean(str(data.get('reason')))}", f"bold {style}")


_LINES: dict[str, Callable[[LineProgress, Record, Record], None]] = {
    "run.start": LineProgress.run_start, "model.response": LineProgress.model_response,
    "model.retry": LineProgress.model_retry, "model.wait": LineProgress.model_wait,
    "context.trim": LineProgress.context_trim, "policy.decision": LineProgress.policy_decision,
    "tool.result": LineProgress.tool_result, "gate.verdict": LineProgress.gate_verdict,
    "notify": LineProgress.notify, "run.end": LineProgress.run_end,
}  # fmt: skip


# -- the live display ---------------------------------------------------------------------------


@dataclass
class RunState:
    """What the live display shows, folded from the journal records seen so far."""

    limits: Record = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    run_id: str = ""
    model: str = ""
    step: int = 0
    tool_calls: int = 0
    tokens: int = 0
    cost_usd: float | None = 0.0  # None: some model call had no known price
    started: float | None = None
    elapsed_before: float = 0.0  # of earlier sessions (a resumed run)
    elapsed_final: float | None = None
    activity: str = "starting"
    since: float = 0.0
    last_tool: Text | None = None
    ended: Text | None = None
    events: deque[Text] = field(default_factory=lambda: deque(maxlen=EVENTS_SHOWN))
    calls: dict[str, str] = field(default_factory=dict)  # span → label of a call awaiting its result
    notes: list[Text] = field(default_factory=list)  # to print once, above the display (warnings)

    @property
    def elapsed(self) -> float:
        if self.elapsed_final is not None:
            return self.elapsed_final
        return self.elapsed_before + (self.clock() - self.started if self.started is not None else 0.0)

    def doing(self, activity: str) -> None:
        self.activity, self.since = activity, self.clock()

    def event(self, text: str, style: str = "") -> None:
        self.events.append(Text(text, style=style))

    def add(self, record: Record, data: Record) -> None:
        if self.started is None:
            self.started = self.clock()
        handler = _FOLDS.get(str(record.get("kind")))
        if handler is not None:
            handler(self, record, data)

    def run_start(self, record: Record, data: Record) -> None:
        self.run_id, self.model = clean(str(record.get("run", "")), 40), clean(str(data.get("model", "")), 60)
        if isinstance(data.get("limits"), dict):
            self.limits = dict(data["limits"])
        self.notes += [Text(f"warning: {clean(str(w))}", style="yellow") for w in data.get("warnings") or []]

    def run_resume(self, record: Record, data: Record) -> None:
        self.run_id, self.model = clean(str(record.get("run", "")), 40), clean(str(data.get("model", "")), 60)
        self.step = int(data.get("steps") or 0)
        self.elapsed_before = _number(data.get("elapsed_s")) or 0.0
        self.event(f"resumed after {clean(str(data.get('after_status')))} at step {self.step}", "cyan")

    def model_request(self, record: Record, data: Record) -> None:
        self.step = int(record.get("step") or self.step)
        self.doing(f"waiting for the model (step {self.step})")

    def model_response(self, record: Record, data: Record) -> None:
        budget = data.get("budget") if isinstance(data.get("budget"), dict) else {}
        self.step = int(budget.get("steps") or record.get("step") or self.step)
        self.tool_calls = int(budget.get("tool_calls") or self.tool_calls)
        self.tokens = _usage_total(budget.get("usage")) or self.tokens + _usage_total(data.get("usage"))
        self.cost_usd = _number(budget.get("cost_usd")) if "cost_usd" in budget else self.cost_usd
        names = [clean(str(c.get("name")), 30) for c in data.get("tool_calls") or [] if isinstance(c, dict)]
        self.doing(f"step {self.step}: " + (f"calls {', '.join(names)}" if names else "answered"))

    def model_retry(self, record: Record, data: Record) -> None:
        self.event(f"model retry {data.get('retry')}/{data.get('of')} in {data.get('wait_s')}s: "
                   f"{one_line(str(data.get('error', '')), 60)}", "yellow")  # fmt: skip
        self.doing(f"retrying the model in {data.get('wait_s')}s")

    def model_wait(self, record: Record, data: Record) -> None:
        rate = one_line(str(data.get("rate")), 50)
        self.event(f"waited {data.get('wait_s')}s for the rate limit ({rate})", "dim")

    def context_trim(self, record: Record, data: Record) -> None:
        self.event(f"context trimmed: {len(data.get('elided') or [])} messages elided "
                   f"(~{data.get('before_tokens')} → ~{data.get('after_tokens')} tokens)", "dim")  # fmt: skip

    def tool_call(self, record: Record, data: Record) -> None:
        label = call_label(clean(str(data.get("tool", "")), 30), str(data.get("arguments", "")))
        self.calls[str(record.get("span"))] = label
        self.tool_calls += 1
        self.doing(label)

    def policy_decision(self, record: Record, data: Record) -> None:
        if data.get("verdict") != "allow":
            action, rule = one_line(str(data.get("action")), 50), one_line(str(data.get("rule")), 50)
            self.event(f"✗ refused {action}: {rule}", "yellow")
        elif data.get("by") == "person":
            self.event(f"approved by the person: {one_line(str(data.get('action')), 60)}", "cyan")

    def tool_result(self, record: Record, data: Record) -> None:
        label = self.calls.pop(str(record.get("span")), None) or clean(str(data.get("tool", "")), 30)
        mark, style = ("✗", "red") if data.get("is_error") else ("✓", "green")
        self.last_tool = Text(f"last: {mark} {result_detail(label, data)}", style=style)
        self.doing("working")

    def checkpoint(self, record: Record, data: Record) -> None:
        self.doing(f"gate: checking {len(data.get('changes') or [])} changed files")

    def gate_verdict(self, record: Record, data: Record) -> None:
        failed = [clean(str(c.get("id")), 30) for c in data.get("checks") or [] if isinstance(c, dict)
                  and not c.get("passed")]  # fmt: skip
        if data.get("passed"):
            self.event("gate passed", "green")
        else:
            self.event(f"gate failed: {', '.join(failed)}", "red")
        self.doing("working")

    def commit(self, record: Record, data: Record) -> None:
        self.event(f"commit {clean(str(data.get('commit', '')))[:12]}", "green")

    def run_end(self, record: Record, data: Record) -> None:
        budget = data.get("budget") if isinstance(data.get("budget"), dict) else {}
        self.step = int(budget.get("steps") or self.step)
        self.tool_calls = int(budget.get("tool_calls") or self.tool_calls)
        self.tokens = _usage_total(budget.get("usage")) or self.tokens
        if "cost_usd" in budget:
            self.cost_usd = _number(budget.get("cost_usd"))
        self.elapsed_final = _number(budget.get("elapsed_s")) or self.elapsed
        style = "bold green" if data.get("status") == "accepted" else "bold red"
        reason = one_line(str(data.get("reason")), 200)
        self.ended = Text(f"{clean(str(data.get('status')))}: {reason}", style=style)

    def notify(self, record: Record, data: Record) -> None:
        ok = data.get("outcome") == "delivered"
        self.event(f"notify {clean(str(data.get('channel')))} {one_line(str(data.get('target')), 40)}: "
                   f"{clean(str(data.get('outcome')))}", "dim" if ok else "yellow")  # fmt: skip


_FOLDS: dict[str, Callable[[RunState, Record, Record], None]] = {
    "run.start": RunState.run_start, "run.resume": RunState.run_resume,
    "model.request": RunState.model_request, "model.response": RunState.model_response,
    "model.retry": RunState.model_retry, "model.wait": RunState.model_wait,
    "context.trim": RunState.context_trim, "tool.call": RunState.tool_call,
    "policy.decision": RunState.policy_decision, "tool.result": RunState.tool_result,
    "checkpoint": RunState.checkpoint, "gate.verdict": RunState.gate_verdict, "commit": RunState.commit,
    "run.end": RunState.run_end, "notify": RunState.notify,
}  # fmt: skip


def _against(used: str, limit: Any, fraction: float | None) -> Text:
    """`used/limit`, yellow from 80 % of the limit on."""
    text = f"{used}/{limit}" if limit is not None else used
    style = "yellow" if fraction is not None and fraction >= 0.8 else ""
    return Text(text, style=style)


def _fraction(used: float, limit: Any) -> float | None:
    limit = _number(limit)
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
    max_tokens = _number(limits.get("max_total_tokens"))
    parts.append(Text("tokens ") + _against(f"{state.tokens:,}", f"{int(max_tokens):,}" if max_tokens else None,
                                            _fraction(state.tokens, max_tokens)))  # fmt: skip
    cap = _number(limits.get("max_cost_usd"))
    if state.cost_usd is None:
        parts.append(Text("cost unknown", style="dim"))
    else:
        limit = f"${cap:.2f}" if cap is not None else None
        parts.append(Text("cost ") + _against(f"${state.cost_usd:.4f}", limit, _fraction(state.cost_usd, cap)))
    timeout = _number(limits.get("timeout_s"))
    parts.append(_against(f"{state.elapsed:.0f}s", f"{timeout:.0f}s" if timeout else None,
                          _fraction(state.elapsed, timeout)))  # fmt: skip
    return Text(" · ").join(parts)


def render(state: RunState) -> RenderableType:
    """The live display: who, the budget, what is happening now, the last tool, the last events."""
    head = Text.assemble(("agentic run ", "bold"), (state.run_id or "…", "bold"))
    if state.model:
        head.append(" · model ")
        head.append(state.model, style="cyan")
    rows: list[RenderableType] = [head, budget_line(state)]
    if state.ended is not None:
        rows.append(state.ended)
    else:
        seconds = max(0.0, state.clock() - state.since)
        rows.append(Spinner("dots", Text(f"{clean(state.activity, 100)} ({seconds:.0f}s)"), style="cyan"))
    if state.last_tool is not None:
        rows.append(state.last_tool)
    rows += [Text("  ") + event for event in state.events]
    for row in rows:
        if isinstance(row, Text) and row is not state.ended:  # a row a line: the display keeps its height
            row.no_wrap, row.overflow = True, "ellipsis"
    return Group(*rows)


class LiveProgress(ProgressListener):
    """A rich live display of the run in progress; plain lines if the display fails."""

    def __init__(self, console: Console, *, limits: Record | None = None, refresh_per_second: float = 4.0,
                 redirect_stdout: bool = True) -> None:  # fmt: skip
        self.console = console
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
                self.state.add(record, data)
                notes, self.state.notes = self.state.notes, []
            live = self._start()
            for note in notes:
                live.console.print(note, highlight=False)
            if record.get("kind") == "run.end":
                live.refresh()
        except Exception:  # the display degrades, the run goes on
            self._stop(erase=False)
            self._plain()(record, data)

    def _plain(self) -> LineProgress:
        if self._fallback is None:
            self._fallback = LineProgress(self.console)
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


# -- the machine event stream -------------------------------------------------------------------


def _base(event: str, record: Record) -> Record:
    return {"event": event, "run": record.get("run"), "seq": record.get("seq"), "ts": record.get("ts"),
            "step": record.get("step", 0)}  # fmt: skip


def _pick(data: Record, *keys: str) -> Record:
    return {key: data.get(key) for key in keys}


class JsonEvents(ProgressListener):
    """One JSON object per line for the record kinds a machine follows a run by (docs/events.md)."""

    def __init__(self, stream: TextIO | None = None, *, task: str | None = None,
                 limits: Record | None = None) -> None:  # fmt: skip
        self.stream = stream if stream is not None else sys.stdout
        self.task, self.limits = task, limits  # what a resumed session's `start` says (run.resume has neither)
        self.calls: dict[str, tuple[str, float]] = {}  # span → (label, ts) of a call awaiting its result
        self.broken = False  # the reader went away: the run goes on, the stream stops

    def __call__(self, record: Record, data: Record) -> None:
        if self.broken:
            return
        try:
            event = self.event(record, data)
        except Exception:  # an odd record is left out, never fatal
            return
        if event is not None:
            self.write(event)

    def write(self, event: Record) -> None:
        try:
            self.stream.write(json.dumps(event, default=str) + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream
            self.broken = True

    def event(self, record: Record, data: Record) -> Record | None:
        kind = str(record.get("kind"))
        if kind == "tool.call":
            label = call_label(str(data.get("tool", "")), str(data.get("arguments", "")))
            self.calls[str(record.get("span"))] = (label, float(record.get("ts") or 0.0))
            return None
        handler = _EVENTS.get(kind)
        return handler(self, record, data) if handler is not None else None

    def start(self, record: Record, data: Record) -> Record:
        contract = data.get("contract") if isinstance(data.get("contract"), dict) else {}
        return {**_base("start", record), **_pick(data, "task", "model", "limits"),
                "contract": contract.get("source"), **_pick(data, "base_commit", "branch", "forked_from"),
                "resumed": False,
                "warnings": data.get("warnings") or []}  # fmt: skip

    def resume(self, record: Record, data: Record) -> Record:
        return {**_base("start", record), "task": self.task, "model": data.get("model"), "limits": self.limits,
                "resumed": True, "after_status": data.get("after_status"), "steps_before": data.get("steps"),
                "elapsed_s_before": data.get("elapsed_s")}  # fmt: skip

    def step(self, record: Record, data: Record) -> Record:
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        names = [c.get("name") for c in data.get("tool_calls") or [] if isinstance(c, dict)]
        return {**_base("step", record), "tokens": {**usage, "total_tokens": _usage_total(usage)},
                "cost_usd": data.get("cost_usd"), "budget": data.get("budget"), "tools": names,
                "recorded": data.get("recorded")}  # fmt: skip

    def tool(self, record: Record, data: Record) -> Record:
        label, started = self.calls.pop(str(record.get("span")), (str(data.get("tool", "")), None))
        extra = data.get("data") if isinstance(data.get("data"), dict) else {}
        ts = _number(record.get("ts"))
        duration = round(max(0.0, ts - started), 3) if started and ts is not None else None
        return {**_base("tool", record), "tool": data.get("tool"), "id": data.get("id"),
                "is_error": bool(data.get("is_error")), "refused": bool(extra.get("refused")),
                "exit_code": extra.get("exit_code"), "summary": result_detail(label, data),
                "duration_s": duration, "finish": bool(data.get("finish"))}  # fmt: skip

    def decision(self, record: Record, data: Record) -> Record:
        return {**_base("decision", record), **_pick(data, "tool", "action", "verdict", "rule", "by", "reason")}

    def gate(self, record: Record, data: Record) -> Record:
        checks = [c for c in data.get("checks") or [] if isinstance(c, dict)]
        return {**_base("gate", record), "passed": bool(data.get("passed")), "checks": len(checks),
                "failed": [c.get("id") for c in checks if not c.get("passed")]}  # fmt: skip

    def retry(self, record: Record, data: Record) -> Record:
        return {**_base("retry", record),
                **_pick(data, "retry", "of", "wait_s", "error", "status", "retry_after")}

    def wait(self, record: Record, data: Record) -> Record:
        return {**_base("wait", record), **_pick(data, "wait_s", "rate")}

    def trim(self, record: Record, data: Record) -> Record:
        return {**_base("trim", record), "window": data.get("window"), "elided": len(data.get("elided") or []),
                **_pick(data, "before_tokens", "after_tokens")}  # fmt: skip

    def end(self, record: Record, data: Record) -> Record:
        return {**_base("end", record), **_pick(data, "status", "reason", "commit", "budget")}

    def notify(self, record: Record, data: Record) -> Record:
        return {**_base("notify", record),
                **_pick(data, "channel", "target", "outcome", "attempts", "status_code", "error")}


_EVENTS: dict[str, Callable[[JsonEvents, Record, Record], Record]] = {
    "run.start": JsonEvents.start, "run.resume": JsonEvents.resume, "model.response": JsonEvents.step,
    "tool.result": JsonEvents.tool, "policy.decision": JsonEvents.decision, "gate.verdict": JsonEvents.gate,
    "model.retry": JsonEvents.retry, "model.wait": JsonEvents.wait, "context.trim": JsonEvents.trim,
    "run.end": JsonEvents.end, "notify": JsonEvents.notify,
}  # fmt: skip


# -- choosing -----------------------------------------------------------------------------------


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


def live_capable(console: Console) -> bool:
    """A terminal that can redraw: not a pipe or file, not TERM=dumb."""
    return console.is_terminal and not console.is_dumb_terminal


def for_output(json_out: bool, console: Console, *, task: str | None = None,
               limits: Record | None = None) -> ProgressListener:  # fmt: skip
    """The progress for a run command. `console` is where people read: stdout, or stderr under
    --json (then stdout carries the JSON events). A terminal gets the live display, anything else
    plain lines. `task` and `limits` are what a resumed session's display and `start` event show."""
    human: ProgressListener
    if live_capable(console):
        human = LiveProgress(console, limits=limits, redirect_stdout=not json_out)
    else:
        human = LineProgress(console)
    return Tee(JsonEvents(sys.stdout, task=task, limits=limits), human) if json_out else human


def pausing(approver: Approver, progress: ProgressListener) -> Approver:
    """The approver, with the display held still while it asks (a non-asking approver is kept as it is:
    the dispatcher recognises `policy.deny_all`)."""
    from agentic.policy import engine as policy

    if approver is policy.deny_all:
        return approver

    def ask(tool: str, action: str) -> bool:
        with progress.paused():
            return approver(tool, action)

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
            style = {"pass": "green", "fail": "red", "error": "magenta"}.get(a.verdict, "")
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
