"""The audit of a run for a person (`agentic audit RUN`): rich tables of who and what, the tool calls,
files, commands, refusals, gates and the commit, then how the run ended and whether its journal is
intact. Journal text is made inert (no markup, no terminal escape) in every cell."""

from __future__ import annotations

import datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from agentic.reports.summary import clean, inert, money

CHANGE_WORDS = {"A": "created", "M": "modified", "D": "deleted", "T": "modified"}


def commit_table(paths: list[dict[str, Any]]) -> Table:
    """The commit's paths and how each got there (a table for the terminal)."""
    table = _table("the commit", "path", "change", "how it got there")
    for f in paths:
        how = f.get("why") or ", ".join(f"{b['tool']} at step {b['step']}" for b in f["by"]) or "unknown"
        style = "dim" if f["status"] == "left out" else None
        table.add_row(_cell(f["path"]), _cell(CHANGE_WORDS.get(f["status"], f["status"])), _cell(how), style=style)
    return table



def anchor_note(anchored: dict[str, Any] | None) -> str:
    """How the journal's head was checked outside the file, for a line that says it is intact."""
    if not anchored:
        return ""
    how = {"verified": ", its HMAC verified", "none": " (no HMAC key)"}.get(str(anchored.get("hmac")), "")
    if anchored.get("origin") == "backfill":
        how = " (anchored when the database was upgraded)"
    return f", head matches the run database's anchor (record {anchored.get('anchored_seq')}){how}"


def _cell(value: Any, limit: int | None = None) -> Text:
    """A table cell from journal text: never markup, never a terminal escape."""
    return inert(value, limit)


def _when(ts: float | None) -> str:
    if not ts:
        return ""
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1))
    for name in columns:
        table.add_column(name, justify="right" if name in ("step", "exit", "s", "bytes") else "left", overflow="fold")
    return table


def _facts(report: dict[str, Any]) -> Table:
    table = Table(title="who and what", title_justify="left", box=box.SIMPLE, show_header=False, padding=(0, 1))
    table.add_column("", style="bold", no_wrap=True)
    table.add_column("", overflow="fold")
    who, contract, harness = report["who"], report.get("contract") or {}, report.get("harness") or {}
    started = report["sessions"][0]["ts"] if report["sessions"] else None
    rows: list[tuple[str, Any]] = [
        ("task", report.get("task")),
        ("started", _when(started)),
        ("by", f"{who.get('os_user', '?')} on {who.get('host', '?')}"),
        ("git identity", f"{who.get('git_name') or '?'} <{who.get('git_email') or '?'}>"),
        ("command line", " ".join(str(a) for a in who.get("argv") or [])),
        ("model", report.get("model")),
    ]
    if report["models_reported"] and report["models_reported"] != [report.get("model")]:
        rows.append(("model reported", ", ".join(report["models_reported"])))
    origins = report.get("settings_origins") or {}
    settings = report.get("settings") or {}
    rows += [(f"setting {key}", f"{settings[key]!r}" + (f" (from {origins[key]})" if origins.get(key) else ""))
             for key in sorted(settings)]  # fmt: skip
    rows += [
        ("contract", f"{contract.get('source')} {contract.get('hash')}"),
        ("base commit", report.get("base_commit")),
        ("branch", report.get("branch")),
        ("harness", f"agentic {harness.get('version')} · Python {harness.get('python')}"),
        ("sandbox", report.get("sandbox") or "none"),
    ]
    rows += [("generated", f"{path} sha256:{digest[:12]} (copied from the checkout)")
             for path, digest in report.get("generated") or []]  # fmt: skip
    if report.get("unsafe_no_sandbox"):
        rows.append(("UNSAFE", "--unsafe-no-sandbox: commands ran unconfined"))
    if report.get("forked_from"):
        fork = report["forked_from"]
        rows.append(("forked from", f"run {fork.get('run')} at step {fork.get('step')}"))
    if report.get("continued_from"):
        parent = report["continued_from"]
        rows.append(("continues", f"run {parent.get('run')} ({parent.get('status')}), from its tree {parent.get('tree')}"))
    for key, value in rows:
        table.add_row(_cell(key), _cell(value), style="bold red" if key == "UNSAFE" else None)
    return table


def render(report: dict[str, Any], console: Console) -> None:
    """The audit as rich sections, in the order a reviewer asks the questions."""
    journal = report["journal"]
    console.print(inert(f"audit of run {report['run']}: {report['status']}", style="bold"))
    if journal["ok"]:
        tail = " (a torn last line from a crash was ignored)" if journal["torn_tail"] else ""
        console.print(Text(f"✓ journal intact: {journal['records']} records, hash chain and blobs verified"
                           f"{anchor_note(journal.get('anchor'))}{tail}", style="green"))  # fmt: skip
    else:
        console.print(Text(f"✗ journal tampered or corrupt: {clean(journal['problem'])} — first bad record "
                           f"{journal['first_bad_seq']}; nothing below from that record on can be trusted",
                           style="bold red"))  # fmt: skip
    console.print(_facts(report))

    sessions = _table("sessions", "seq", "kind", "when", "by", "sandbox", "after")
    for s in report["sessions"]:
        who = s.get("who") or {}
        sessions.add_row(_cell(s["seq"]), _cell(s["kind"]), _when(s["ts"]), _cell(f"{who.get('os_user')}@{who.get('host')}"),
                         _cell(s.get("sandbox") or "none"), _cell(s.get("after_status") or ""))  # fmt: skip
    console.print(sessions)

    calls = _table("tool calls", "step", "tool", "action", "decision", "by", "rule", "outcome")
    for c in report["tool_calls"]:
        d = c["decision"] or {}
        style = "red" if c["outcome"] in ("refused", "error") else None
        outcome = c["outcome"] + (f": {c['result']}" if c["result"] and c["outcome"] == "error" else "")
        calls.add_row(_cell(c["step"]), _cell(c["tool"]), _cell(c["action"], 80), _cell(d.get("verdict")),
                      _cell(d.get("by")), _cell(d.get("rule")), _cell(outcome, 100), style=style)  # fmt: skip
    console.print(calls)

    reads = _table("files read", "step", "tool", "path")
    for f in report["files_read"]:
        reads.add_row(_cell(f["step"]), _cell(f["tool"]), _cell(f["path"]))
    writes = _table("files written", "step", "tool", "path", "change", "bytes")
    for f in report["files_written"]:
        writes.add_row(_cell(f["step"]), _cell(f["tool"]), _cell(f["path"]), _cell(f["change"]), _cell(f.get("bytes")))
    commands = _table("commands", "step", "tool", "command", "exit", "s")
    for c in report["commands"]:
        exit_ = "timed out" if c.get("timed_out") else str(c.get("exit_code"))
        commands.add_row(_cell(c["step"]), _cell(c["tool"]), _cell(c.get("command") or " ".join(map(str, c.get("argv") or []))),
                         _cell(exit_), _cell(c.get("duration_s")), style=None if c.get("exit_code") == 0 else "red")  # fmt: skip
    refusals = _table("refusals", "step", "tool", "action", "rule", "by", "reason")
    for r in report["refusals"]:
        refusals.add_row(_cell(r["step"]), _cell(r["tool"]), _cell(r["action"], 80), _cell(r.get("rule")),
                         _cell(r.get("by")), _cell(r.get("reason"), 100), style="yellow")  # fmt: skip
    gates = _table("gate verdicts", "step", "verdict", "failed checks", "files changed")
    for g in report["gates"]:
        gates.add_row(_cell(g["step"]), "passed" if g["passed"] else "failed", _cell(", ".join(map(str, g["failed"]))),
                      _cell(len(g.get("changes") or [])), style="green" if g["passed"] else "red")  # fmt: skip
    hooks = _table("hooks", "step", "point", "hook", "tool", "exit", "outcome", "reason or note")
    for h in report.get("hooks") or []:
        exit_ = "timed out" if h.get("timed_out") else str(h.get("exit_code"))
        hooks.add_row(_cell(h["step"]), _cell(h["point"]), _cell(h["hook"], 80), _cell(h.get("tool") or ""), _cell(exit_),
                      _cell(h["outcome"]), _cell(h.get("reason") or h.get("note") or "", 100),
                      style="yellow" if h["outcome"] in ("deny", "ask", "failed") else None)  # fmt: skip
    commit = commit_table(report["committed"])
    for table, empty in ((reads, "no file read"), (writes, "no file written"), (commands, "no command run"),
                         (refusals, "nothing refused"), (gates, "the gate never ran"), (commit, "nothing committed")):  # fmt: skip
        if table is commit and hooks.row_count:
            console.print(hooks)
        console.print(table if table.row_count else Text(f"{table.title}: {empty}", style="dim"))
    _outcome(report, console)


def _outcome(report: dict[str, Any], console: Console) -> None:
    table = Table(title="outcome", title_justify="left", box=box.SIMPLE, show_header=False, padding=(0, 1))
    table.add_column("", style="bold", no_wrap=True)
    table.add_column("", overflow="fold")
    totals, status = report["totals"], str(report["status"])
    style = "green" if status == "accepted" else "red"
    table.add_row("status", Text(f"{clean(status)}: {clean(str(report['reason']))}", style=style))
    if len(report["ends"]) > 1:
        earlier = ", ".join(clean(str(e.get("status"))) for e in report["ends"][:-1])
        table.add_row("earlier sessions ended", _cell(earlier))
    if report["commit"]:
        table.add_row("commit", _cell(report["commit"].get("commit")))
    table.add_row("steps", _cell(totals["steps"]))
    table.add_row("tool calls", _cell(f"{totals['tool_calls']} ({totals['refusals']} refused)"))
    table.add_row("tokens", _cell(f"{totals['tokens']} ({totals['input_tokens']} in, {totals['output_tokens']} out, "
                            f"{totals['cached_input_tokens']} cached)"))  # fmt: skip
    table.add_row("cost", _cell(money(totals["cost_usd"], totals["cost_complete"])))
    table.add_row("elapsed", _cell(f"{totals['elapsed_s']} s" + ("" if totals["source"] == "run.end" else " (no run.end)")))
    table.add_row("gate failures", _cell(totals["gate_failures"]))
    provider = report["provider"]
    if provider["retries"] or provider["waits"]:
        waited = sum(float(r.get("wait_s") or 0) for r in provider["retries"] + provider["waits"])
        table.add_row("provider", f"{len(provider['retries'])} retries, {len(provider['waits'])} rate-limit waits, "
                                  f"{waited:.1f} s waiting")  # fmt: skip
    if provider["context_trims"]:
        table.add_row("context", f"older outputs elided {len(provider['context_trims'])} times for the window")
    if report["other_records"]:
        table.add_row("other records", _cell(", ".join(f"{k}: {n}" for k, n in sorted(report["other_records"].items()))))
    console.print(table)

