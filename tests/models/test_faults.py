"""Provider faults through the real SDKs and the run loop, in process (resume, audit and show through the
CLI), against a local server speaking their wire formats.

Rate limits and overloads are retried with the waits asked for (or exponential backoff), server
errors, reset connections and read timeouts likewise, up to the contract's max_retries; a bad
request or a refused key fails at once; exhausted retries end the run as failed, and `agentic resume`
goes on from there. Malformed, unknown and truncated answers go back to the model as errors.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from agentic.journal.records import payload, read_records
from tests import inproc
from tests.conftest import FINISH, FIX, cli
from tests.fakeprovider import SDK_WORKER, FakeProvider

pytestmark = SDK_WORKER  # the SDKs are imported in process here

MODELS = [("openai:gpt-test", "OPENAI"), ("anthropic:claude-test", "ANTHROPIC")]
IDS = ["openai", "anthropic"]
KEY = "sk-test-0123456789abcdefghij"


def env_for(fp: FakeProvider, vendor: str, **settings: str) -> dict[str, str]:
    url = fp.openai_base_url if vendor == "OPENAI" else fp.anthropic_base_url
    return {f"{vendor}_API_KEY": KEY, f"{vendor}_BASE_URL": url,
            **{f"AGENTIC_{k.upper()}": v for k, v in settings.items()}}  # fmt: skip


def run(repo: Path, model: str, env: dict[str, str], retries: int = 2) -> tuple[int, dict[str, Any]]:
    """`agentic run fix --model MODEL --limit max_retries=RETRIES` in process, with `env` set: its exit
    code and summary."""
    with mock.patch.dict(os.environ, env):
        outcome = inproc.run(repo, None, task="fix", model=model, limits={"max_retries": retries})
    return outcome.exit_code, inproc.summary(outcome)


def journal(summary: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    path = Path(summary["journal"])
    return [payload(r, path.parent) for r in read_records(path) if r["kind"] == kind]


TURNS = [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}]


@pytest.mark.parametrize(("model", "vendor"), MODELS, ids=IDS)
@pytest.mark.parametrize("header", ["retry-after", "retry-after-ms"])
def test_a_rate_limit_is_retried_after_the_wait_it_asks_for(repo: Path, model: str, vendor: str, header: str) -> None:
    with FakeProvider(TURNS) as fp:
        fp.fail_next(429, headers={header: "2" if header == "retry-after" else "1500"})
        code, summary = run(repo, model, env_for(fp, vendor))
        requests = list(fp.requests)
    asked = 2.0 if header == "retry-after" else 1.5
    assert code == 0, summary
    assert len(requests) == 3 and requests[1].at - requests[0].at >= asked - 0.05  # waited as told
    assert summary["steps"] == 2
    [retry] = journal(summary, "model.retry")
    assert retry["status"] == 429 and retry["retry_after"] == asked and retry["wait_s"] == asked
    assert retry["retry"] == 1 and retry["of"] == 2 and "429" in retry["error"]


@pytest.mark.parametrize(("model", "vendor", "first", "second"), [
    ("openai:gpt-test", "OPENAI", 429, 500), ("openai:gpt-test", "OPENAI", 503, 502),
    ("anthropic:claude-test", "ANTHROPIC", 529, 500), ("anthropic:claude-test", "ANTHROPIC", 429, 503),
], ids=["openai-429-500", "openai-503-502", "anthropic-529-500", "anthropic-429-503"])  # fmt: skip
def test_errors_without_retry_after_back_off_exponentially(repo: Path, model: str, vendor: str, first: int,
                                                           second: int) -> None:  # fmt: skip
    with FakeProvider(TURNS) as fp:
        fp.fail_next(first)
        fp.fail_next(second)
        code, summary = run(repo, model, env_for(fp, vendor))
        requests = list(fp.requests)
    assert code == 0, summary
    assert len(requests) == 4
    retries = journal(summary, "model.retry")
    assert [r["status"] for r in retries] == [first, second]
    # equal jitter: the n-th wait lies in [d/2, d] with d = 0.5 s · 2^(n-1)
    assert 0.25 <= retries[0]["wait_s"] <= 0.5 and 0.5 <= retries[1]["wait_s"] <= 1.0
    assert requests[1].at - requests[0].at >= 0.25 and requests[2].at - requests[1].at >= 0.5


@pytest.mark.parametrize(("model", "vendor"), MODELS, ids=IDS)
def test_a_reset_connection_and_a_read_timeout_are_retried(repo: Path, model: str, vendor: str) -> None:
    with FakeProvider(TURNS) as fp:
        fp.reset_next()
        fp.stall_next(3)  # past the request timeout below
        code, summary = run(repo, model, env_for(fp, vendor, request_timeout_s="0.5"))
        requests = list(fp.requests)
    assert code == 0, summary
    assert len(requests) == 4 and requests[2].at - requests[1].at >= 0.5  # the second waited out its timeout
    errors = [r["error"] for r in journal(summary, "model.retry")]
    assert len(errors) == 2 and "cannot reach" in errors[0] and "timed out" in errors[1]


@pytest.mark.parametrize(("model", "vendor"), MODELS, ids=IDS)
def test_exhausted_retries_fail_the_run_and_resume_goes_on(repo: Path, model: str, vendor: str) -> None:
    with FakeProvider(TURNS) as fp:
        for _ in range(3):
            fp.fail_next(500)
        env = env_for(fp, vendor)
        code, summary = run(repo, model, env)
        assert len(fp.requests) == 3  # the request and its two retries, no more
        assert code == 4 and summary["status"] == "failed"
        assert "HTTP 500" in summary["reason"] and "gave up after 2 retries" in summary["reason"]
        assert [r["retry"] for r in journal(summary, "model.retry")] == [1, 2]
        again = cli("resume", summary["run_id"], "--json", cwd=repo, env=env)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout.splitlines()[-1])["status"] == "accepted"
        assert len(fp.requests) == 5
    audit = json.loads(cli("audit", summary["run_id"], "--json", cwd=repo).stdout)
    assert [r["retry"] for r in audit["provider"]["retries"]] == [1, 2] and not audit["other_records"]
    shown = json.loads(cli("show", summary["run_id"], "--json", cwd=repo).stdout)
    retries = [row for row in shown["timeline"] if row["kind"] == "model.retry"]
    assert len(retries) == 2 and all(row["error"] and "HTTP 500" in row["detail"] for row in retries)


@pytest.mark.parametrize(("model", "vendor"), MODELS, ids=IDS)
def test_a_long_retry_after_ends_the_run_rather_than_hang_it(repo: Path, model: str, vendor: str) -> None:
    with FakeProvider(TURNS) as fp:
        fp.fail_next(429, headers={"retry-after": "3600"})
        code, summary = run(repo, model, env_for(fp, vendor), 4)
        assert len(fp.requests) == 1
    assert code == 4 and "the server asked to wait 3600s" in summary["reason"]


@pytest.mark.parametrize(("model", "vendor"), MODELS, ids=IDS)
def test_a_bad_request_fails_at_once_with_a_clear_message(repo: Path, model: str, vendor: str) -> None:
    with FakeProvider([{"tool_calls": [FINISH]}]) as fp:
        fp.fail_next(400, {"error": {"message": "messages.0: unknown field", "type": "invalid_request_error"}}
                     if vendor == "OPENAI" else
                     {"type": "error", "error": {"type": "invalid_request_error", "message": "messages.0: unknown field"}})  # fmt: skip
        code, summary = run(repo, model, env_for(fp, vendor), 4)
        requests = list(fp.requests)
    assert code == 4 and len(requests) == 1  # no retry
    assert summary["status"] == "failed" and "400" in summary["reason"] and "unknown field" in summary["reason"]


@pytest.mark.parametrize(("model", "vendor"), MODELS, ids=IDS)
def test_a_refused_key_fails_at_once_naming_the_variable(repo: Path, model: str, vendor: str) -> None:
    with FakeProvider(TURNS) as fp:
        fp.fail_next(401)
        code, summary = run(repo, model, env_for(fp, vendor), 4)
        assert len(fp.requests) == 1
    assert code == 4 and "401" in summary["reason"]
    assert not journal(summary, "model.retry")


@pytest.mark.parametrize(("model", "vendor"), MODELS, ids=IDS)
def test_malformed_unknown_empty_and_truncated_answers_go_back_to_the_model(repo: Path, model: str,
                                                                             vendor: str) -> None:  # fmt: skip
    turns = [
        {"tool_calls": [{"name": "read_file", "arguments": '{"path": "calc.py"'}]},  # cut JSON
        {"tool_calls": [{"name": "delete_everything", "arguments": {}}]},
        {"text": ""},  # an empty answer
        {"tool_calls": [{"name": "list_files", "arguments": {}}]},
        {"text": "def average(values):\n    return", "stop_reason": "max_tokens"},  # cut at the output cap
        {"tool_calls": [FIX]},
        {"tool_calls": [FINISH]},
    ]
    with FakeProvider(turns) as fp:
        code, summary = run(repo, model, env_for(fp, vendor))
        sent = [r.json for r in fp.requests]
    assert code == 0, summary
    results = [r for r in journal(summary, "tool.result") if r["is_error"]]
    # (the Messages API carries arguments as an object: the fake sends cut JSON as {"_raw": text})
    assert "not valid JSON" in results[0]["content"] or "invalid arguments for read_file" in results[0]["content"]
    assert "unknown tool 'delete_everything'" in results[1]["content"]
    assert "Continue with a tool call" in json.dumps(sent[3])  # the empty answer was nudged
    assert "cut off at the output limit" in json.dumps(sent[5])  # the truncated one explained


@pytest.mark.parametrize("model", ["openai:gpt-test", "openai-responses:gpt-test", "anthropic:claude-test"])
def test_a_refusal_is_answered_precisely_and_the_run_goes_on(repo: Path, model: str) -> None:
    turns = [{"refusal": "I can't help with modifying that file."}, {"tool_calls": [FIX]}, {"tool_calls": [FINISH]}]
    with FakeProvider(turns) as fp:
        code, summary = run(repo, model, env_for(fp, "ANTHROPIC" if model.startswith("anthropic") else "OPENAI"))
        second = json.dumps(fp.requests[1].json)
    assert code == 0, summary
    assert journal(summary, "model.response")[0]["stop_reason"] == "refusal"
    assert "You declined: I can't help with modifying that file." in second and "call finish" in second


@pytest.mark.parametrize(("model", "vendor"), MODELS, ids=IDS)
def test_the_run_deadline_cuts_a_model_call_in_flight(repo: Path, model: str, vendor: str) -> None:
    (repo / "policies" / "contract.yaml").write_text(
        (repo / "policies" / "contract.yaml").read_text().replace("timeout_s: 120", "timeout_s: 2"))
    with FakeProvider(TURNS) as fp:
        fp.stall_next(60)  # far past the run's 2 s; the request timeout (120 s) alone would wait it out
        start = time.monotonic()
        code, summary = run(repo, model, env_for(fp, vendor))
    assert time.monotonic() - start < 20
    assert code == 3 and summary["status"] == "limit_exceeded" and "timeout_s" in summary["reason"]
