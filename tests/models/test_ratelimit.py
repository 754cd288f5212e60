"""Requests and tokens per minute per provider, shared between runs (and processes) through SQLite."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentic.journal.records import payload, read_records
from agentic.models.ratelimit import Rate, RateLimiter, rate_for
from tests.conftest import FINISH, FIX, cli, summary_of
from tests.fakeprovider import FakeProvider


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_longest_matching_key_applies() -> None:
    table = {"openai": {"requests_per_minute": 500}, "openai:gpt-4.1-mini": {"tokens_per_minute": 1000},
             "anthropic": {"requests_per_minute": 50}}  # fmt: skip
    assert rate_for("openai:gpt-4.1-mini-2025", table) == Rate("openai:gpt-4.1-mini", None, 1000)
    assert rate_for("openai-responses:gpt-4o", table) == Rate("openai", 500, None)
    assert rate_for("anthropic:claude-sonnet-4", table) == Rate("anthropic", 50, None)
    assert rate_for("script:x.yaml", table) is None and rate_for("openai:x", None) is None


def test_requests_per_minute_make_a_call_wait_for_the_oldest_to_expire(tmp_path: Path) -> None:
    clock = Clock()
    limiter = RateLimiter(tmp_path / "r.db", Rate("openai", 2, None), clock=clock, sleep=clock.sleep)
    assert limiter.acquire(10, 100)[1] == 0
    clock.now += 10
    assert limiter.acquire(10, 100)[1] == 0
    _, waited = limiter.acquire(10, 100)  # the first booking leaves the window at 1060
    assert waited == pytest.approx(50.0) and clock.now == pytest.approx(1060.0)
    with pytest.raises(TimeoutError):
        limiter.acquire(10, 5)  # room only in 10 s


def test_tokens_per_minute_count_what_calls_really_used(tmp_path: Path) -> None:
    clock = Clock()
    limiter = RateLimiter(tmp_path / "r.db", Rate("anthropic", None, 1000), clock=clock, sleep=clock.sleep)
    first, _ = limiter.acquire(800, 100)  # booked at its worst case ...
    limiter.settle(first, 300)  # ... then corrected to what it used
    assert limiter.acquire(700, 100)[1] == 0  # 300 + 700 fit
    assert limiter.acquire(50, 100)[1] == pytest.approx(60.0)  # 1,050 would not
    clock.now += 120
    assert limiter.acquire(5000, 100)[1] == 0  # larger than the whole budget: goes alone, not never


def test_processes_sharing_the_file_share_the_limit(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from agentic.models.ratelimit import Rate, RateLimiter\n"
        "seen = []\n"
        "def clock(): seen.append(time.time()); return seen[-1]\n"  # the last reading is the booking's time
        "r = RateLimiter(Path(sys.argv[1]), Rate('openai', 2, None), clock=clock, window_s=1.0)\n"
        "for _ in range(3): r.acquire(1, 30); print(seen[-1], flush=True)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "r.db")], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    times = sorted(float(t) for p in procs for t in p.communicate(timeout=60)[0].split())
    assert len(times) == 6
    for i in range(len(times) - 2):  # never three bookings within one window, whoever made them
        assert times[i + 2] - times[i] >= 0.99
    assert times[-1] - times[0] >= 1.99


def test_a_run_waits_for_room_booked_by_another_run_and_journals_it(repo: Path) -> None:
    (repo / ".agentic.yaml").write_text(yaml.safe_dump({"rate_limits": {"openai": {"requests_per_minute": 2}}}))
    other = RateLimiter(repo / ".agentic" / "ratelimits.db", Rate("openai", 2, None),
                        clock=lambda: time.time() - 55.0)  # another run booked both slots 55 s ago  # fmt: skip
    other.acquire(100, 1)
    other.acquire(100, 1)
    other.close()
    with FakeProvider([{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}]) as fp:
        env = {"OPENAI_API_KEY": "sk-test-0123456789abcdefghij", "OPENAI_BASE_URL": fp.openai_base_url}
        start = time.monotonic()
        done = cli("run", "fix", "--model", "openai:gpt-test", "--json", cwd=repo, env=env)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - start >= 5.0
    summary: dict[str, Any] = summary_of(done)
    path = Path(summary["journal"])
    waits = [payload(r, path.parent) for r in read_records(path) if r["kind"] == "model.wait"]
    assert len(waits) == 1 and 0 < waits[0]["wait_s"] <= 5.0  # until the older booking left the window
    assert waits[0]["rate"] == "openai: 2 requests per minute"
