"""Standalone HTML reports: a run's report (`agentic show RUN --html FILE`) and an eval's report.

The pages load nothing from the network: CSS and charts (SVG) are inline, there is no script, and a
Content-Security-Policy forbids scripts and remote loads, so a page stays inert even if something
slipped through. Journal content is untrusted (model output, file contents, command output): every
piece of it passes through `esc`, which escapes markup and makes invisible or control characters
(bidi overrides, zero-width, ANSI escapes) visible as ⟦U+XXXX⟧ instead of letting them reorder text.
"""

from __future__ import annotations

import datetime
import html
import json
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentic.reports.summary import UNSAFE, cost_of, entries, money, timeline, totals
from agentic.util.redact import Redactor

if TYPE_CHECKING:
    from agentic.eval.stats import Comparison, EvalSummary, ScenarioStats, Stats

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'none'; "
    "base-uri 'none'; form-action 'none'"
)
TEXT_LIMIT = 8000  # characters of a model message shown
ARGS_LIMIT = 4000  # of a tool call's arguments
RESULT_LIMIT = 3000  # of a tool result or a gate check's output
DIFF_LIMIT = 400_000  # of the final change's diff

CSS = """
:root { --fg:#1d2330; --muted:#5b6475; --line:#d9dee7; --bg:#ffffff; --panel:#f5f7fa; --accent:#0969da;
  --pass:#1a7f37; --pass-bg:#dafbe1; --fail:#cf222e; --fail-bg:#ffebe9;
  --flaky:#9a6700; --flaky-bg:#fff8c5; --error:#8250df; --error-bg:#fbefff; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; color: var(--fg); background: var(--bg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
h1 { font-size: 22px; margin: 0 0 4px; } h3 { font-size: 14px; margin: 14px 0 6px; }
h2 { font-size: 17px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.sub { color: var(--muted); margin-bottom: 16px; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px;
  margin: 6px 0; white-space: pre-wrap; word-break: break-word; max-height: 480px; overflow: auto; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; } table.k { width: auto; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--line); }
th { background: var(--panel); font-weight: 600; } td.num, th.num { text-align: right; white-space: nowrap; }
table.kv th { width: 180px; background: none; color: var(--muted); font-weight: 500; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 150px;
  background: var(--panel); }
.card .v { font-size: 22px; font-weight: 650; } .card .l { color: var(--muted); font-size: 12px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; font-size: 12px; }
.pass, .accepted, .allow { color: var(--pass); }
.badge.pass, .badge.accepted, .badge.allow { background: var(--pass-bg); }
.fail, .deny, .rejected { color: var(--fail); }
.badge.fail, .badge.deny, .badge.rejected { background: var(--fail-bg); }
.flaky, .ask { color: var(--flaky); } .badge.flaky, .badge.ask { background: var(--flaky-bg); }
.error, .badge.other { color: var(--error); } .badge.error, .badge.other { background: var(--error-bg); }
tr.regression td { background: var(--fail-bg); }
.chips { white-space: nowrap; }
.chip { display: inline-block; min-width: 22px; text-align: center; margin: 1px 2px; padding: 0 5px;
  border-radius: 4px; font-size: 12px; font-weight: 600; }
.chip.pass { background: var(--pass-bg); } .chip.fail { background: var(--fail-bg); }
.chip.error { background: var(--error-bg); }
.step { border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; margin: 10px 0; }
.step > .head { display: flex; gap: 12px; align-items: baseline; flex-wrap: wrap; }
.step > .head .n { font-weight: 700; } .muted { color: var(--muted); }
.call { border-left: 3px solid var(--accent); padding: 2px 0 2px 12px; margin: 10px 0; }
.call.refused { border-left-color: var(--fail); } .call.failed { border-left-color: var(--flaky); }
.msg { white-space: pre-wrap; word-break: break-word; margin: 6px 0; } table.kv .msg { margin: 0; }
.diff .add { color: var(--pass); background: var(--pass-bg); }
.diff .del { color: var(--fail); background: var(--fail-bg); }
.diff .hunk { color: var(--accent); } .diff .file { font-weight: 700; }
details > summary { cursor: pointer; color: var(--accent); margin: 4px 0; }
svg text { font: 11px system-ui, sans-serif; fill: var(--muted); }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""


# -- escaping and building blocks -----------------------------------------------------------------


def _visible(match: Any) -> str:
    text = match.group(0)  # one character, or an ANSI escape sequence: its ESC is named, the rest is plain
    return f"⟦U+{ord(text[0]):04X}⟧{text[1:]}"


def esc(value: object) -> str:
    """Untrusted text as HTML text or attribute value: markup escaped, hidden characters made visible."""
    return html.escape(UNSAFE.sub(_visible, str(value)), quote=True)


def trim(text: str, limit: int) -> tuple[str, int]:
    """The text cut to `limit` characters, and how many were cut."""
    return (text, 0) if len(text) <= limit else (text[:limit], len(text) - limit)


def pre(text: str, limit: int = RESULT_LIMIT, cls: str = "") -> str:
    shown, cut = trim(text, limit)
    note = f'<div class="muted">… {cut:,} more characters not shown</div>' if cut else ""
    return f'<pre class="{cls}">{esc(shown)}</pre>{note}'


def badge(text: str, kind: str) -> str:
    return f'<span class="badge {esc(kind)}">{esc(text)}</span>'


def kv_table(rows: Iterable[tuple[str, str]]) -> str:
    """Rows of (label, HTML already escaped)."""
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def cards(items: Iterable[tuple[str, str, str]]) -> str:
    """(value, label, css class) cards; value and label are plain text."""
    body = "".join(
        f'<div class="card"><div class="v {esc(c)}">{esc(v)}</div><div class="l">{esc(label)}</div></div>'
        for v, label, c in items
    )
    return f'<div class="cards">{body}</div>'


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>'


def page(title: str, subtitle: str, body: str) -> str:
    made = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>"
        f'<h1>{esc(title)}</h1><div class="sub">{esc(subtitle)}</div>\n{body}\n'
        f"<footer>written by agentic on {made}</footer></body></html>\n"
    )


def when(ts: float | None) -> str:
    if not ts:
        return "—"
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _tick(value: float, unit: str) -> str:
    if unit == "$":
        return f"${value:.4f}" if value < 1 else f"${value:.2f}"
    if unit == "s":
        return f"{value:.2f}s" if value < 1 else f"{value:.1f}s" if value < 100 else f"{value:.0f}s"
    return f"{value:,.0f}"


@dataclass
class Series:
    label: str
    points: list[tuple[float, float]]  # (x, y), x ascending
    unit: str  # "" | "$" | "s"
    colour: str


def line_chart(series: Sequence[Series], x_unit: str = "s", width: int = 760, height: int = 260) -> str:
    """Cumulative lines on a shared x axis; each series is scaled to its own maximum (left axis for the
    first, right axis for the second). Points carry a <title> tooltip."""
    left, right, top, bottom = 70, 80, 16, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = [x for s in series for x, _ in s.points]
    x_max = max(xs, default=0.0) or 1.0
    parts = [
        f'<svg role="img" aria-label="usage over time" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fbfcfd" stroke="#d9dee7"/>',
    ]
    for i in range(3):
        x = x_max * i / 2
        px = left + plot_w * i / 2
        parts.append(
            f'<text x="{px:.1f}" y="{height - 14}" text-anchor="middle">{esc(_tick(x, x_unit))}</text>'
        )
    for index, s in enumerate(series[:2]):
        y_max = max((y for _, y in s.points), default=0.0) or 1.0
        ax, anchor = (left - 6, "end") if index == 0 else (left + plot_w + 6, "start")
        for i in range(3):
            py = top + plot_h - plot_h * i / 2
            parts.append(
                f'<text x="{ax}" y="{py + 4:.1f}" text-anchor="{anchor}" fill="{s.colour}">'
                f"{esc(_tick(y_max * i / 2, s.unit))}</text>"
            )
        coords = [(left + plot_w * x / x_max, top + plot_h - plot_h * y / y_max) for x, y in s.points]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in coords)
        parts.append(f'<polyline fill="none" stroke="{s.colour}" stroke-width="2" points="{path}"/>')
        for (x, y), (px, py) in zip(s.points, coords, strict=True):
            parts.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{s.colour}"><title>'
                f"{esc(s.label)}: {esc(_tick(y, s.unit))} at {esc(_tick(x, x_unit))}</title></circle>"
            )
    legend = " ".join(f'<tspan fill="{s.colour}">■ {esc(s.label)}</tspan>' for s in series[:2])
    parts.append(f'<text x="{left}" y="{height - 2}">{legend}</text></svg>')
    return "".join(parts)


# -- the run report -------------------------------------------------------------------------------


@dataclass
class Call:
    tool: str
    arguments: str
    decision: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    reconciled: str | None = None


@dataclass
class Gate:
    step: int
    ts: float
    tree: str
    changes: list[Any]
    verdict: dict[str, Any] | None = None


@dataclass
class Step:
    number: int
    ts: float
    text: str = ""
    usage: dict[str, Any] = field(default_factory=dict)
    cost_usd: float | None = None
    stop_reason: str = ""
    recorded: str | None = None
    responded: bool = False
    calls: list[Call] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class RunView:
    """A run's journal folded for the report: its start, steps (model message, tool calls, gates), end."""

    run_id: str = ""
    start: dict[str, Any] = field(default_factory=dict)
    first_ts: float = 0.0
    last_ts: float = 0.0
    active_s: float = 0.0
    steps: list[Step] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)
    commit: dict[str, Any] | None = None
    ends: list[dict[str, Any]] = field(default_factory=list)
    usage: list[tuple[float, int, float | None]] = field(default_factory=list)  # (t, tokens, cost) per call
    _spans: dict[str, Call] = field(default_factory=dict)
    _session: float | None = None

    @property
    def status(self) -> str:
        return str(self.ends[-1].get("status")) if self.ends else "running"

    def step(self, number: int, ts: float) -> Step:
        if not self.steps or self.steps[-1].number != number:
            self.steps.append(Step(number, ts))
        return self.steps[-1]

    def add(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        kind, ts, number = (
            str(record.get("kind")),
            float(record.get("ts") or 0.0),
            int(record.get("step") or 0),
        )
        self._clock(kind, ts)
        span = str(record.get("span"))
        if kind == "run.start":
            self.run_id, self.start = str(record.get("run", "")), data
        elif kind == "run.resume":
            self.step(number, ts).notes.append(f"resumed after {data.get('after_status', '?')}")
        elif kind == "model.response":
            self._response(self.step(number, ts), data, ts)
        elif kind == "tool.call":
            call = Call(str(data.get("tool", "")), str(data.get("arguments", "")))
            self._spans[span] = call
            self.step(number, ts).calls.append(call)
        elif kind in ("policy.decision", "tool.result", "tool.reconcile"):
            self._call_record(kind, span, data)
        elif kind == "checkpoint":
            gate = Gate(number, ts, str(data.get("tree", "")), list(data.get("changes") or []))
            self.gates.append(gate)
            self.step(number, ts).gates.append(gate)
        elif kind == "gate.verdict" and self.gates and self.gates[-1].verdict is None:
            self.gates[-1].verdict = data
        elif kind == "commit":
            self.commit = data
        elif kind == "run.end":
            self.ends.append(data)

    def _clock(self, kind: str, ts: float) -> None:
        if not self.first_ts:
            self.first_ts = ts
        if kind in ("run.start", "run.resume") and self._session is not None:
            self.active_s += self.last_ts - self._session
            self._session = None
        if self._session is None:
            self._session = ts
        self.last_ts = ts

    def _response(self, step: Step, data: dict[str, Any], ts: float) -> None:
        step.text, step.usage, step.responded = str(data.get("text") or ""), data.get("usage") or {}, True
        step.cost_usd, step.stop_reason = cost_of(data), str(data.get("stop_reason") or "")
        step.recorded = data.get("recorded")
        tokens = int(step.usage.get("input_tokens") or 0) + int(step.usage.get("output_tokens") or 0)
        self.usage.append((ts - self.first_ts, tokens, step.cost_usd))

    def _call_record(self, kind: str, span: str, data: dict[str, Any]) -> None:
        call = self._spans.get(span)
        if call is None:
            return
        if kind == "policy.decision":
            call.decision = data
        elif kind == "tool.result":
            call.result = data
        else:
            call.reconciled = str(data.get("outcome", ""))

    def finish(self) -> RunView:
        if self._session is not None:
            self.active_s += self.last_ts - self._session
            self._session = None
        return self


def read_run(journal: Path) -> RunView:
    view = RunView()
    for record, data in entries(journal):
        view.add(record, data)
    return view.finish()


def change_diff(repo: Path, base: str, target: str) -> str:
    """`git diff base target` in the repository (hardened as the harness's own git; binary-safe)."""
    from agentic.git.cmd import run_git_bytes

    args = ["diff", "--no-color", "--no-ext-diff", "--no-textconv", "--stat", "--patch", base, target, "--"]
    done = run_git_bytes(args, repo)
    if done.returncode != 0:
        raise OSError(done.stderr.decode("utf-8", "replace").strip() or f"git diff exited {done.returncode}")
    return done.stdout.decode("utf-8", "replace")


def diff_html(diff: str) -> str:
    shown, cut = trim(diff, DIFF_LIMIT)
    lines = []
    for line in shown.splitlines():
        cls = (
            "file"
            if line.startswith(("diff --git", "+++ ", "--- "))
            else "add"
            if line.startswith("+")
            else "del"
            if line.startswith("-")
            else "hunk"
            if line.startswith("@@")
            else ""
        )
        lines.append(f'<span class="{cls}">{esc(line)}</span>' if cls else esc(line))
    note = f'<div class="muted">… {cut:,} more characters of the diff not shown</div>' if cut else ""
    return f'<pre class="diff">{chr(10).join(lines)}</pre>{note}'


def _pretty_arguments(raw: str) -> str:
    try:
        return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return raw


def _decision_html(decision: dict[str, Any] | None) -> str:
    if not decision:
        return '<span class="muted">no decision recorded</span>'
    verdict = str(decision.get("verdict", "?"))
    kind = verdict if verdict in ("allow", "deny", "ask") else "other"
    parts = [
        badge(verdict, kind),
        f"by <b>{esc(decision.get('by', '?'))}</b>",
        f"rule <code>{esc(decision.get('rule', ''))}</code>",
    ]
    if decision.get("reason"):
        parts.append(esc(decision["reason"]))
    return " · ".join(parts)


def _result_html(call: Call) -> str:
    """The result's headline (ok or error, exit status), then what the model was shown, folded unless
    it is an error."""
    result = call.result
    if result is None:
        return '<div class="muted">no result recorded</div>'
    facts = result.get("data") or {}
    error = bool(result.get("is_error"))
    head = [badge("error", "fail") if error else badge("ok", "pass")]
    if isinstance(facts, dict) and "exit_code" in facts:
        head.append("timed out" if facts.get("timed_out") else f"exit {esc(facts['exit_code'])}")
    if call.reconciled:
        head.append(f"reconciled after a crash: {esc(call.reconciled)}")
    content = str(result.get("content", ""))
    first = content.strip().splitlines()[0] if content.strip() else ""
    head.append(f'<span class="muted">{esc(trim(first, 120)[0])}</span>')
    shown = f"<details{' open' if error else ''}><summary>output</summary>{pre(content)}</details>"
    return f"<div>result {' · '.join(head)}</div>{shown}"


def _call_class(call: Call) -> str:
    if (call.decision or {}).get("verdict") not in (None, "allow"):
        return "refused"
    return "failed" if (call.result or {}).get("is_error") else ""


def _call_html(call: Call) -> str:
    args = _pretty_arguments(call.arguments)
    empty = args.strip() in ("", "{}")
    shown = '<div class="muted">no arguments</div>' if empty else pre(args, ARGS_LIMIT)
    head = f'<b class="mono">{esc(call.tool)}</b> · {_decision_html(call.decision)}'
    return f'<div class="call {_call_class(call)}"><div>{head}</div>{shown}{_result_html(call)}</div>'


def _gate_summary(gate: Gate) -> str:
    if gate.verdict is None:
        tree = f"<code>{esc(gate.tree[:12])}</code>"
        return f'<div class="call failed">gate on tree {tree}: no verdict recorded</div>'
    checks = [c for c in gate.verdict.get("checks") or [] if isinstance(c, dict)]
    failed = [str(c.get("id")) for c in checks if not c.get("passed")]
    verdict = badge("gate passed", "pass") if gate.verdict.get("passed") else badge("gate failed", "fail")
    extra = f" · failed: {esc(', '.join(failed))}" if failed else ""
    cls = "" if gate.verdict.get("passed") else "refused"
    tree = f"<code>{esc(gate.tree[:12])}</code>"
    link = '<a href="#gates">details</a>'
    return f'<div class="call {cls}">{verdict} · {len(checks)} checks on tree {tree}{extra} · {link}</div>'


def _step_html(step: Step, view: RunView) -> str:
    usage = step.usage
    head = [
        f'<span class="n">step {step.number}</span>',
        f'<span class="muted">+{step.ts - view.first_ts:.2f}s</span>',
    ]
    if step.responded:
        head.append(
            f'<span class="muted">{int(usage.get("input_tokens") or 0):,} in → '
            f"{int(usage.get('output_tokens') or 0):,} out tokens · {esc(money(step.cost_usd))}</span>"
        )
    if step.recorded:
        head.append(f'<span class="muted">recorded in run {esc(step.recorded)}</span>')
    body = [f'<div class="head">{"".join(head)}</div>']
    body += [f'<div class="muted">{esc(note)}</div>' for note in step.notes]
    if step.text:
        shown, cut = trim(step.text, TEXT_LIMIT)
        body.append(
            f'<div class="msg">{esc(shown)}</div>'
            + (f'<div class="muted">… {cut:,} more characters</div>' if cut else "")
        )
    elif step.responded and not step.calls:
        body.append('<div class="muted">(no text)</div>')
    body += [_call_html(call) for call in step.calls]
    body += [_gate_summary(gate) for gate in step.gates]
    return f'<div class="step" id="step-{step.number}">{"".join(body)}</div>'


def _header_html(view: RunView, run: dict[str, Any]) -> str:
    start, end = view.start, (view.ends[-1] if view.ends else {})
    contract = start.get("contract") or {}
    who = start.get("who") or {}
    harness = start.get("harness") or {}
    status = view.status if view.ends else str(run.get("status") or "running")
    rows = [
        ("task", f'<div class="msg">{esc(start.get("task", run.get("task", "")))}</div>'),
        ("status", badge(status, status if status in ("accepted", "rejected") else "other")),
        ("reason", esc(end.get("reason", run.get("reason") or "—"))),
        ("model", f"<code>{esc(start.get('model', run.get('model', '')))}</code>"),
        (
            "duration",
            f"{view.active_s:.1f}s active · {esc(when(view.first_ts))} to {esc(when(view.last_ts))}",
        ),
        (
            "contract",
            f"<code>{esc(contract.get('source', ''))}</code> · <code>{esc(contract.get('hash', ''))}</code>",
        ),
        (
            "base · branch",
            f"<code>{esc(start.get('base_commit', ''))}</code> · <code>{esc(start.get('branch', ''))}</code>",
        ),
        ("commit", f"<code>{esc((view.commit or {}).get('commit', ''))}</code>" if view.commit else "none"),
        ("sandbox", esc(start.get("sandbox", "?"))),
        ("started by", esc(f"{who.get('os_user', '?')}@{who.get('host', '?')}")),
        ("harness", esc(f"agentic {harness.get('version', '?')} · Python {harness.get('python', '?')}")),
    ]
    return kv_table(rows)


def _usage_section(view: RunView, rows: list[dict[str, Any]]) -> str:
    sums = totals(rows)
    end_budget = (view.ends[-1].get("budget") if view.ends else None) or {}
    items = [
        (str(end_budget.get("steps", len(view.steps))), "steps", ""),
        (str(sums["tool_calls"]), "tool calls", ""),
        (str(sums["model_calls"]), "model calls", ""),
        (f"{sums['tokens']:,}", "tokens (in + out)", ""),
        (money(sums["cost_usd"], sums["cost_complete"]), "cost", ""),
        (str(sums["errors"]), "errors and refusals", "fail" if sums["errors"] else ""),
    ]
    body = cards(items)
    if view.usage:
        tokens, cost, t_total, c_total, known = [], [], 0, 0.0, False
        for t, tok, c in view.usage:
            t_total += tok
            tokens.append((t, float(t_total)))
            if c is not None:
                c_total, known = c_total + c, True
            cost.append((t, c_total))
        series = [Series("cumulative tokens", tokens, "", "#0969da")]
        if known and c_total > 0:
            series.append(Series("cumulative cost", cost, "$", "#bf3989"))
        body += line_chart(series)
        body += '<div class="muted">x: seconds since the run started; one point per model call.</div>'
    else:
        body += '<div class="muted">no model calls recorded</div>'
    return section("usage", "Usage and cost", body)


def _gates_section(view: RunView) -> str:
    if not view.gates:
        return section(
            "gates", "Gate results", '<div class="muted">the gate never ran (no finish call)</div>'
        )
    blocks = []
    for number, gate in enumerate(view.gates, start=1):
        changes = ", ".join(" ".join(map(str, c)) if isinstance(c, list) else str(c) for c in gate.changes)
        title = (
            f"gate {number} · step {gate.step} · tree {gate.tree[:12]} · {len(gate.changes)} files changed"
        )
        if gate.verdict is None:
            blocks.append(f'<h3>{esc(title)}</h3><div class="muted">no verdict recorded</div>')
            continue
        rows = []
        for check in [c for c in gate.verdict.get("checks") or [] if isinstance(c, dict)]:
            passed = bool(check.get("passed"))
            rows.append(
                f"<tr><td>{badge('pass' if passed else 'fail', 'pass' if passed else 'fail')}</td>"
                f"<td><code>{esc(check.get('id', ''))}</code></td><td>{esc(check.get('kind', ''))}</td>"
                f'<td class="num">{float(check.get("duration_s") or 0):.2f}s</td>'
                f"<td>{pre(str(check.get('detail', '')))}</td></tr>"
            )
        verdict = badge("passed", "pass") if gate.verdict.get("passed") else badge("failed", "fail")
        blocks.append(
            f'<h3>{esc(title)} · {verdict}</h3><div class="muted">changed: {esc(changes or "nothing")}</div>'
            "<table><tr><th>result</th><th>check</th><th>kind</th>"
            f'<th class="num">time</th><th>output</th></tr>{"".join(rows)}</table>'
        )
    return section("gates", "Gate results", "".join(blocks))


def _diff_section(view: RunView, repo: Path | None) -> str:
    base = str(view.start.get("base_commit") or "")
    target, label = "", ""
    if view.commit and view.commit.get("commit"):
        target, label = str(view.commit["commit"]), f"the run's commit {str(view.commit['commit'])[:12]}"
    elif view.gates:
        target, label = (
            view.gates[-1].tree,
            f"the tree of the last gate {view.gates[-1].tree[:12]} (not committed)",
        )
    if not target or not base:
        return section("diff", "Final change", '<div class="muted">no change was recorded</div>')
    if repo is None:
        return section(
            "diff", "Final change", f'<div class="muted">{esc(label)}: no repository given to diff it</div>'
        )
    try:
        diff = Redactor.for_repository(repo)(change_diff(repo, base, target))
    except (OSError, subprocess.SubprocessError) as exc:
        return section(
            "diff", "Final change", f'<div class="muted">cannot diff {esc(label)}: {esc(exc)}</div>'
        )
    head = f'<div class="muted">base <code>{esc(base[:12])}</code> → {esc(label)}</div>'
    return section(
        "diff", "Final change", head + (diff_html(diff) if diff.strip() else "<div>empty diff</div>")
    )


def _events_section(rows: list[dict[str, Any]]) -> str:
    from agentic.reports.summary import row_detail

    body = []
    for row in rows:
        duration = "" if row["duration_s"] is None else f"{row['duration_s']:.2f}"
        tokens = "" if row["tokens"] is None else f"{row['tokens']:,}"
        cls = ' class="regression"' if row["error"] else ""
        body.append(
            f'<tr{cls}><td class="num">{esc(row["step"])}</td><td class="num">{row["t"]:.2f}</td>'
            f'<td class="num">{duration}</td><td>{esc(row["tool"] or row["kind"])}</td>'
            f'<td class="num">{tokens}</td><td>{esc(row_detail(row))}</td></tr>'
        )
    table = (
        '<table><tr><th class="num">step</th><th class="num">t (s)</th><th class="num">dur (s)</th>'
        f'<th>event</th><th class="num">tokens</th><th>decision · detail</th></tr>{"".join(body)}</table>'
    )
    return section(
        "events", "Event log", f"<details><summary>{len(rows)} journal events</summary>{table}</details>"
    )


def run_page(journal: Path, *, repo: Path | None = None, run: dict[str, Any] | None = None) -> str:
    """The HTML report of a run from its journal. `repo` (the repository's root) is needed for the diff
    of the final change; `run` is the index row, used where the journal says nothing (no run.start)."""
    view = read_run(journal)
    rows = timeline(journal)
    run = run or {}
    run_id = view.run_id or str(run.get("id", journal.parent.name))
    steps = (
        "".join(_step_html(step, view) for step in view.steps) or '<div class="muted">no steps recorded</div>'
    )
    body = "".join(
        [
            section("summary", "Run", _header_html(view, run)),
            _usage_section(view, rows),
            section("timeline", "Timeline", steps),
            _diff_section(view, repo),
            _gates_section(view),
            _events_section(rows),
        ]
    )
    return page(
        f"agentic run {run_id}",
        f"{view.status if view.ends else run.get('status', 'running')} · "
        f"{(view.ends[-1].get('reason') if view.ends else '') or ''}",
        body,
    )


def write_run_html(
    journal: Path, path: Path, *, repo: Path | None = None, run: dict[str, Any] | None = None
) -> None:
    from agentic.eval.stats import write_file

    write_file(path, run_page(journal, repo=repo, run=run))


# -- the eval report ------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    from agentic.eval.stats import pct

    return pct(value)


def _eval_cards(summary: EvalSummary) -> str:
    from agentic.eval.stats import ci_text, secs, usd

    o = summary.overall
    k = o.k
    items = [
        (_pct(o.pass_rate), f"pass rate over {o.n} attempts", ""),
        (ci_text(o), "95% interval (Wilson)", ""),
        (_pct(o.pass_at_k[-1]) if k else "—", f"pass@{k}", ""),
        (_pct(o.pass_hat_k[-1]) if k else "—", f"pass^{k} (all {k} pass)", ""),
        (f"{o.passing}/{o.scenarios}", "scenarios passing", "pass" if o.passing == o.scenarios else ""),
        (str(o.flaky), "flaky", "flaky" if o.flaky else ""),
        (str(o.failing), "failing", "fail" if o.failing else ""),
        (f"{o.errors}/{o.attempts}", "attempts errored", "error" if o.errors else ""),
        (usd(o.total_cost_usd, o.cost_complete), "total cost", ""),
        (secs(o.mean_duration_s), "mean duration", ""),
    ]
    return cards(items)


def pass_rate_chart(scenarios: Sequence[ScenarioStats], width: int = 760) -> str:
    """A bar per scenario: its pass rate, with the 95% interval as a whisker."""
    label_w, row_h, top = 220, 22, 8
    plot_w = width - label_w - 60
    height = top + row_h * len(scenarios) + 24
    colour = {"pass": "#1a7f37", "fail": "#cf222e", "flaky": "#9a6700", "error": "#8250df"}
    parts = [
        f'<svg role="img" aria-label="pass rate per scenario" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, s in enumerate(scenarios):
        y = top + i * row_h
        name = s.scenario if len(s.scenario) <= 32 else s.scenario[:31] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end">{esc(name)}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{plot_w}" height="{row_h - 8}" fill="#f0f2f5"/>'
        )
        if s.pass_rate is not None:
            parts.append(
                f'<rect x="{label_w}" y="{y + 3}" width="{plot_w * s.pass_rate:.1f}" height="{row_h - 8}" '
                f'fill="{colour[s.status]}"><title>{esc(s.scenario)}: {s.passes}/{s.n}</title></rect>'
            )
        if s.ci_low is not None and s.ci_high is not None:
            x1, x2, ym = label_w + plot_w * s.ci_low, label_w + plot_w * s.ci_high, y + row_h / 2 - 1
            parts.append(
                f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{ym}" y2="{ym}" stroke="#1d2330" stroke-width="1.5"/>'
            )
        parts.append(f'<text x="{label_w + plot_w + 6}" y="{y + 14}">{esc(_pct(s.pass_rate))}</text>')
    axis_y = top + row_h * len(scenarios) + 14
    for frac in (0.0, 0.5, 1.0):
        parts.append(
            f'<text x="{label_w + plot_w * frac:.1f}" y="{axis_y}" text-anchor="middle">{frac:.0%}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _attempt_chips(s: ScenarioStats) -> str:
    from agentic.eval.stats import attempt_line

    chips = "".join(
        f'<span class="chip {esc(a.verdict)}" title="{esc(attempt_line(a))}">{a.attempt}</span>'
        for a in s.results
    )
    lines = "".join(f"<li>{esc(f'attempt {a.attempt}: ' + attempt_line(a))}</li>" for a in s.results)
    return f'<div class="chips">{chips}</div><details><summary>attempts</summary><ul>{lines}</ul></details>'


def _scenario_row(s: ScenarioStats, comparison: Comparison | None) -> str:
    from agentic.eval.stats import at_k, ci_text, num, secs, usd

    regressed = comparison is not None and comparison.regressed(s.scenario)
    status = badge(s.status, s.status) + (" " + badge("regression", "fail") if regressed else "")
    cells = [
        status,
        f"<code>{esc(s.scenario)}</code>"
        + (f'<div class="muted">{esc(", ".join(s.tags))}</div>' if s.tags else ""),
        _attempt_chips(s),
    ]
    numbers = [
        f"{s.passes}/{s.n}" + (f" +{s.errors} err" if s.errors else ""),
        _pct(s.pass_rate),
        ci_text(s),
        at_k(s.pass_at_k),
        at_k(s.pass_hat_k),
        num(s.mean_steps),
        num(s.mean_tokens, 0),
        usd(s.mean_cost_usd, s.cost_complete),
        secs(s.mean_duration_s),
    ]
    if comparison is not None:
        numbers.append(_pct(comparison.deltas[s.scenario][0]) if s.scenario in comparison.deltas else "new")
    tds = "".join(f"<td>{c}</td>" for c in cells) + "".join(f'<td class="num">{esc(n)}</td>' for n in numbers)
    return f'<tr class="{"regression" if regressed else ""}">{tds}</tr>'


def _scenarios_section(summary: EvalSummary, comparison: Comparison | None) -> str:
    from agentic.eval.stats import ordered

    heads = ["status", "scenario", "attempts"]
    nums = ["passed", "rate", "95% CI", "pass@k", "pass^k", "steps", "tokens", "cost", "time"]
    nums += ["baseline"] if comparison is not None else []
    header = "".join(f"<th>{h}</th>" for h in heads) + "".join(f'<th class="num">{esc(h)}</th>' for h in nums)
    rows = "".join(_scenario_row(s, comparison) for s in ordered(summary, comparison))
    note = (
        '<div class="muted">Rates count passes and fails only; errored attempts are excluded. '
        "pass@k and pass^k are for k = the attempts counted. "
        "Steps, tokens, cost and time are means per attempt with a run.</div>"
    )
    chart = pass_rate_chart(ordered(summary, comparison)) if summary.scenarios else ""
    return section("scenarios", "Scenarios", f"{chart}<table><tr>{header}</tr>{rows}</table>{note}")


def _comparison_section(comparison: Comparison) -> str:
    from agentic.eval.stats import comparison_line

    if comparison.regressions:
        items = "".join(f'<li class="fail">{esc(r.message)}</li>' for r in comparison.regressions)
        body = f'<h3 class="fail">{len(comparison.regressions)} regressions</h3><ul>{items}</ul>'
    else:
        body = '<h3 class="pass">no regressions</h3>'
    body += f"<p>{esc(comparison_line(comparison))}</p>"
    lists = [
        ("fixed", comparison.fixed),
        ("new (not in the baseline)", comparison.new),
        ("missing (in the baseline, not run)", comparison.missing),
        ("unmeasured (all attempts errored)", comparison.unmeasured),
    ]
    rows = [(label, esc(", ".join(names))) for label, names in lists if names]
    if comparison.fingerprint_changed:
        rows.append(("fingerprint changed", esc(", ".join(comparison.fingerprint_diff))))
    return section("comparison", "Against the baseline", body + (kv_table(rows) if rows else ""))


def _json_block(value: Any) -> str:
    text = (
        value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    )
    return pre(text, ARGS_LIMIT) if "\n" in text or len(text) > 100 else f"<code>{esc(text)}</code>"


def eval_page(summary: EvalSummary, comparison: Comparison | None = None) -> str:
    """The HTML report of an eval: overview, comparison, scenarios with their attempts, fingerprint."""
    from agentic.eval.stats import headline

    parts = [section("overview", "Overview", _eval_cards(summary) + _k_table(summary.overall))]
    if comparison is not None:
        parts.append(_comparison_section(comparison))
    parts.append(_scenarios_section(summary, comparison))
    none = '<div class="muted">none recorded</div>'
    for anchor, title, values in (
        ("fingerprint", "Fingerprint", summary.fingerprint),
        ("meta", "Eval details", summary.meta),
    ):
        table = kv_table((k, _json_block(v)) for k, v in sorted(values.items()))
        parts.append(section(anchor, title, table if values else none))
    verdict = "" if comparison is None else ("no regressions · " if comparison.ok else "REGRESSED · ")
    return page("agentic eval", verdict + headline(summary, comparison), "".join(parts))


def _k_table(stats: Stats) -> str:
    if not stats.k:
        return ""
    head = "".join(f'<th class="num">k={k}</th>' for k in range(1, stats.k + 1))
    at = "".join(f'<td class="num">{esc(_pct(v))}</td>' for v in stats.pass_at_k)
    hat = "".join(f'<td class="num">{esc(_pct(v))}</td>' for v in stats.pass_hat_k)
    return (
        f'<table class="k"><tr><th></th>{head}</tr><tr><th>pass@k (at least one of k passes)</th>{at}</tr>'
        f"<tr><th>pass^k (all k pass)</th>{hat}</tr></table>"
    )
