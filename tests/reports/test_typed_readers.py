"""The report readers (audit, the HTML run view) read journal records as typed events: what they
interpret by attribute, what they pass on as written, and what they only count."""

from __future__ import annotations

from pathlib import Path

from agentic.journal.events import Commit, RunEnd, RunStart
from agentic.journal.records import Journal
from agentic.reports.audit import audit_run
from agentic.reports.html import sandbox_label
from agentic.reports.runview import read_run


def write_journal(tmp_path: Path) -> Path:
    journal = Journal(tmp_path, "r1")
    journal.append("run.start", {"task": "fix", "model": "script:x", "settings": {}, "settings_origins": {},
                                 "contract": {"source": "c", "hash": "h"}, "base_commit": "b0", "branch": "agentic/r1",
                                 "worktree": "/w", "sandbox": None, "unsafe_no_sandbox": True})  # fmt: skip
    journal.append("model.retry", {"retry": 1, "of": 3, "wait_s": 0.5, "error": "429", "status": 429,
                                   "retry_after": None}, step=1)  # fmt: skip
    journal.append("tool.call", {"id": "c1", "tool": "read_file", "arguments": '{"path": "a.py"}'}, step=1, span="s1")
    journal.append("policy.decision", {"tool": "read_file", "action": "read a.py", "verdict": "deny", "rule": "r",
                                       "reason": "no"}, step=1, span="s1")  # fmt: skip
    journal.append("tool.result", {"id": "c1", "tool": "read_file", "is_error": True, "content": "refused",
                                   "data": {"refused": "r"}}, step=1, span="s1")  # fmt: skip
    journal.append("x.newer", {"what": "a newer harness wrote this"}, step=1)
    journal.append("commit", {"commit": "c0ffee", "tree": "t1", "checks": 2}, step=1)
    journal.append("run.end", {"status": "accepted", "reason": "ok", "commit": "c0ffee", "budget": {"steps": 1}}, step=1)
    journal.append("notify", {"channel": "webhook", "target": "https://x", "outcome": "delivered", "attempts": 1},
                   step=1)  # fmt: skip
    journal.close()
    return journal.path


def test_audit_interprets_typed_events_passes_records_on_and_counts_the_rest(tmp_path: Path) -> None:
    report = audit_run(write_journal(tmp_path))
    assert report["model"] == "script:x" and report["sandbox"] is None and report["unsafe_no_sandbox"] is True
    assert report["commit"] == {"seq": 7, "step": 1, "commit": "c0ffee", "tree": "t1", "checks": 2}
    assert report["provider"]["retries"] == [{"seq": 2, "step": 1, "retry": 1, "of": 3, "wait_s": 0.5, "error": "429",
                                              "status": 429, "retry_after": None}]  # fmt: skip
    assert report["refusals"] == [{"seq": 3, "step": 1, "tool": "read_file", "action": "read a.py",
                                   "verdict": "deny", "rule": "r", "by": None, "reason": "no"}]  # fmt: skip
    assert report["other_records"] == {"x.newer": 1, "notify": 1}
    assert report["status"] == "accepted" and report["ends"][-1]["budget"] == {"steps": 1}


def test_run_view_holds_typed_events(tmp_path: Path) -> None:
    view = read_run(write_journal(tmp_path))
    assert isinstance(view.start, RunStart) and view.start.base_commit == "b0"
    assert view.commit == Commit(commit="c0ffee", tree="t1", checks=2)
    assert view.ends == [RunEnd(status="accepted", reason="ok", commit="c0ffee", budget={"steps": 1})]
    call = view.steps[0].calls[0]
    assert call.tool == "read_file" and call.decision is not None and call.decision.verdict == "deny"
    assert call.result is not None and call.result.is_error and view.status == "accepted"


def test_sandbox_label_tells_none_from_unrecorded() -> None:
    assert sandbox_label(None) == "?" and sandbox_label(RunStart()) == "?"
    assert sandbox_label(RunStart(sandbox=None, unsafe_no_sandbox=True)) == "None"
    assert sandbox_label(RunStart(sandbox="bwrap", unsafe_no_sandbox=False)) == "bwrap"
