"""Provider faults through the real SDKs and the CLI: rate limits and overloads are retried with
the right waits, a bad request fails at once with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FINISH, FIX, cli
from tests.fakeprovider import FakeProvider

MODELS = [("openai:gpt-test", "OPENAI"), ("anthropic:claude-test", "ANTHROPIC")]


def env_for(fp: FakeProvider, vendor: str, retries: int = 2) -> dict[str, str]:
    url = fp.openai_base_url if vendor == "OPENAI" else fp.anthropic_base_url
    return {f"{vendor}_API_KEY": "sk-test-0123456789abcdefghij", f"{vendor}_BASE_URL": url,
            "AGENTIC_MAX_RETRIES": str(retries)}  # fmt: skip


@pytest.mark.parametrize(("model", "vendor"), MODELS, ids=["openai", "anthropic"])
def test_a_rate_limit_is_retried_after_the_wait_it_asks_for(repo: Path, model: str, vendor: str) -> None:
    with FakeProvider([{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}]) as fp:
        fp.fail_next(429, headers={"retry-after": "2"})
        done = cli("run", "fix", "--model", model, "--json", cwd=repo, env=env_for(fp, vendor))
        requests = list(fp.requests)
    assert done.returncode == 0, done.stderr
    assert len(requests) == 3 and requests[1].at - requests[0].at >= 1.9  # waited as told
    assert json.loads(done.stdout)["steps"] == 2


@pytest.mark.parametrize(("model", "vendor", "status"), [("openai:gpt-test", "OPENAI", 503),
                                                         ("anthropic:claude-test", "ANTHROPIC", 529)],
                         ids=["openai-503", "anthropic-529"])  # fmt: skip
def test_overload_and_server_errors_are_retried_with_backoff(repo: Path, model: str, vendor: str, status: int) -> None:
    with FakeProvider([{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}]) as fp:
        fp.fail_next(status)
        fp.fail_next(500)
        done = cli("run", "fix", "--model", model, "--json", cwd=repo, env=env_for(fp, vendor))
        requests = list(fp.requests)
    assert done.returncode == 0, done.stderr
    assert len(requests) == 4
    assert requests[1].at - requests[0].at >= 0.2 and requests[2].at - requests[1].at >= 0.2  # backed off


@pytest.mark.parametrize(("model", "vendor"), MODELS, ids=["openai", "anthropic"])
def test_a_bad_request_fails_at_once_with_a_clear_message(repo: Path, model: str, vendor: str) -> None:
    with FakeProvider([{"tool_calls": [FINISH]}]) as fp:
        fp.fail_next(400, {"error": {"message": "messages.0: unknown field", "type": "invalid_request_error"}}
                     if vendor == "OPENAI" else
                     {"type": "error", "error": {"type": "invalid_request_error", "message": "messages.0: unknown field"}})  # fmt: skip
        done = cli("run", "fix", "--model", model, "--json", cwd=repo, env=env_for(fp, vendor))
        requests = list(fp.requests)
    assert done.returncode == 4 and len(requests) == 1  # no retry
    summary = json.loads(done.stdout)
    assert summary["status"] == "failed" and "400" in summary["reason"] and "unknown field" in summary["reason"]
