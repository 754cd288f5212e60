"""What the local executor shares with the Ray one: the eval-wide budget and its cancelled attempts,
the eval's state and `--resume`, the shared rate-limit window, and the message when Ray is missing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agentic.errors import UsageError
from agentic.eval.driver import EvalRequest, chosen_scenarios, plan_eval, run_eval
from agentic.eval.fleet import Fleet
from agentic.eval.runner import Options
from agentic.eval.summaryfile import dumps_summary, load_summary, loads_summary
from agentic.eval.verdict import decide
from agentic.models.ratelimit import POLL_S, Rate, RateLimiter
from tests.conftest import cli
from tests.eval.test_eval import GOOD, scenario


def repository(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for command in (["init", "-q"], ["commit", "-q", "--allow-empty", "-m", "evals live here"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *command], cwd=path, check=True)
    return path


def test_the_budget_cancels_the_eval_and_the_summary_says_so(tmp_path: Path) -> None:
    repo = repository(tmp_path / "repo")
    scenario(repo / "s", "a", GOOD, repeats=3)
    req, state = plan_eval(EvalRequest([repo / "s"], [], Options(concurrency=1, max_total_tokens=1), repo / ".agentic"))
    run = run_eval(req, state, chosen_scenarios(req), lambda _: None)
    attempts = run.summary.attempts
    assert [a.verdict for a in attempts] == ["cancelled"] * 3, attempts
    # the first attempt made one call (charged: the budget reached), then stopped; the others never started
    assert attempts[0].run_id is not None and attempts[0].status == "interrupted" and attempts[0].tokens > 0
    assert [a.run_id for a in attempts[1:]] == [None, None]
    assert all("budget of 1 tokens was reached" in a.reason for a in attempts)
    overall = run.summary.overall
    assert (overall.cancelled, overall.errors, overall.error_rate, overall.n) == (3, 0, 0.0, 0)
    decision = decide(run.summary, run.scenarios, None, 0.0)
    assert not decision.ok and any("3 of 3 attempts were cancelled" in p for p in decision.problems)
    # the summary file keeps them; a summary without cancelled attempts is written (and read) as before
    assert json.loads(dumps_summary(run.summary))["overall"]["cancelled"] == 3
    assert loads_summary(dumps_summary(run.summary)).overall.cancelled == 3
    baseline = Path(__file__).resolve().parents[2] / "scenarios" / "baseline.json"
    assert "cancelled" not in json.loads(baseline.read_text())["overall"]
    assert load_summary(baseline).overall.cancelled == 0


def test_resume_runs_only_what_did_not_end_and_refuses_what_changed(tmp_path: Path) -> None:
    repo = repository(tmp_path / "repo")
    scenario(repo / "s", "a", GOOD, repeats=2)
    broken = scenario(repo / "s", "b", [{"tool_calls": [{"name": "finish", "arguments": {"summary": "x"}}]}], repeats=2)
    done = cli("eval", "s", "--json", "first.json", cwd=repo)
    assert done.returncode == 1, done.stdout + done.stderr  # b does not pass
    [state] = (repo / ".agentic" / "evals").iterdir()
    assert f"--resume {state.name}" in done.stderr
    lines = (state / "attempts.jsonl").read_text().splitlines()
    assert len(lines) == 4
    # b's attempts as if cut short: cancelled lines are not final
    cut = [json.loads(line) for line in lines]
    for line in cut:
        if line["attempt"]["scenario"] == "b":
            line["attempt"]["verdict"] = "cancelled"
    (state / "attempts.jsonl").write_text("".join(json.dumps(line) + "\n" for line in cut) + '{"torn')
    again = cli("eval", "--resume", state.name, "--json", "second.json", cwd=repo)
    assert f"kept 2 attempts that had ended in {state.name}" in again.stderr, again.stderr
    second = json.loads((repo / "second.json").read_text())
    first = json.loads((repo / "first.json").read_text())
    verdicts = [[a["verdict"] for a in s["results"]] for s in second["scenarios"]]
    assert verdicts == [[a["verdict"] for a in s["results"]] for s in first["scenarios"]] and verdicts[0] == ["pass"] * 2
    assert len((state / "attempts.jsonl").read_text().splitlines()) == 6  # the torn line ignored, b's two added

    # a scenario that changed since is run again, whatever it ended with
    broken.write_text(broken.read_text().replace("Fix average() in calc.py.", "Fix average() in calc.py, please."))
    third = cli("eval", "--resume", state.name, cwd=repo)
    assert "kept 2 attempts" in third.stderr  # a's; b's task changed, so b's attempts ran again
    assert len((state / "attempts.jsonl").read_text().splitlines()) == 8

    for bad, message in ((["--resume", "eval-nope"], "no eval 'eval-nope'"),
                         (["s", "--resume", state.name], "--resume runs the eval as it was asked")):  # fmt: skip
        refused = cli("eval", *bad, cwd=repo)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr


def test_the_fleet_books_one_window_for_every_caller() -> None:
    now = [100.0]
    fleet = Fleet(clock=lambda: now[0], window_s=10.0)
    rate = Rate("openai", requests_per_minute=2, tokens_per_minute=1000)
    first, _ = fleet.try_book(rate, 400)
    second, _ = fleet.try_book(rate, 400)
    assert first is not None and second is not None
    assert fleet.try_book(rate, 1) == (None, 10.0)  # two requests in the window: room when the first expires
    fleet.settle(rate, first, 100)
    now[0] = 110.5
    third, wait = fleet.try_book(rate, 900)
    assert third is not None and wait == 0.0  # the first two expired
    assert fleet.try_book(Rate("anthropic", 1, None), 5)[0] is not None  # another bucket
    fleet.charge(10, 0.5)
    assert fleet.cancelled() is None
    capped = Fleet(max_cost_usd=1.0)
    capped.charge(10, 0.6)
    capped.charge(10, None)  # no price: counted in tokens, not dollars
    assert capped.cancelled() is None and capped.totals()["calls_without_price"] == 1
    capped.charge(10, 0.5)
    assert "budget of $1 was reached" in str(capped.cancelled())


def test_a_call_waiting_for_room_goes_on_once_the_eval_is_cancelled() -> None:
    """A run waiting on a full rate-limit window asks again each POLL_S; once the eval is cancelled the
    fleet keeps no call waiting, and the run finds the eval cancelled at its model call."""
    fleet = Fleet(window_s=60.0)
    rate = Rate("openai", requests_per_minute=1, tokens_per_minute=None)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 3:
            fleet.cancel("interrupted (Ctrl-C)")

    limiter = RateLimiter(None, rate, book=fleet, sleep=sleep)
    assert limiter.acquire(1, 120)[1] == 0
    booking, waited = limiter.acquire(1, 120)  # room only in 60 s
    assert slept == [POLL_S] * 3 and waited == 3 * POLL_S and booking == 0
    limiter.settle(booking, 5)  # booking 0 holds nothing
    assert fleet.try_book(rate, 1) == (0, 0.0)


def test_the_ray_executor_without_ray_says_how_to_install_it(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['ray'] = None\n"
            "from agentic.cli.main import main\n"
            "sys.argv = ['agentic', 'eval', 's', '--executor', 'ray']\nmain()\n")  # fmt: skip
    scenario(tmp_path / "s", "a", GOOD)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--executor ray needs Ray" in done.stderr and "pip install 'agentic[ray]'" in done.stderr
    assert "Traceback" not in done.stderr
    with pytest.raises(UsageError, match="is not one of local, ray"):
        plan_eval(EvalRequest([tmp_path / "s"], [], Options(executor="dask")))
    for address, said in (("127.0.0.1:1", "does not answer"), ("nowhere", "is not auto, HOST:PORT")):
        done = cli("eval", "s", "--executor", "ray", "--address", address, cwd=tmp_path, timeout=60)
        assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr, done.stderr
