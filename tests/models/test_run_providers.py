"""The end-to-end run for each real provider SDK against a local server speaking its wire format (the run
in process; the exit codes of a failed provider and of a missing key through the CLI)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from unittest import mock

import pytest

from agentic.journal.records import payload, read_records
from tests import inproc
from tests.conftest import FINISH, FIX, cli
from tests.fakeprovider import SDK_WORKER, FakeProvider

pytestmark = SDK_WORKER  # the SDKs are imported in process here

CANARY = "sk-canary-provider-key-0123456789abcdefghij"

PROVIDERS = [
    ("openai:gpt-test", "OPENAI", "/v1/chat/completions"),
    ("openai-responses:gpt-test", "OPENAI", "/v1/responses"),
    ("anthropic:claude-test", "ANTHROPIC", "/v1/messages"),
]


def provider_env(fp: FakeProvider, vendor: str, stream: bool) -> dict[str, str]:
    url = fp.openai_base_url if vendor == "OPENAI" else fp.anthropic_base_url
    return {f"{vendor}_API_KEY": CANARY, f"{vendor}_BASE_URL": url, "AGENTIC_STREAM": str(stream).lower()}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize(("model", "vendor", "path"), PROVIDERS, ids=[p[0].split(":")[0] for p in PROVIDERS])
def test_accepted_run_per_provider(repo: Path, model: str, vendor: str, path: str, stream: bool) -> None:
    turns = [
        {"text": "Reading the code.", "tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}},
                                                     {"name": "read_file", "arguments": {"path": ".env"}}]},
        {"tool_calls": [FIX], "usage": {"input_tokens": 900, "output_tokens": 40, "cached_input_tokens": 512}},
        {"tool_calls": [{"name": "run_tests", "arguments": {}}]},
        {"text": "Done.", "tool_calls": [FINISH]},
    ]
    with FakeProvider(turns) as fp, mock.patch.dict(os.environ, provider_env(fp, vendor, stream)):
        outcome = inproc.run(repo, None, task="fix the average", model=model, limits={"max_retries": 0})
        requests = list(fp.requests)
    assert outcome.exit_code == 0, outcome.reason
    summary = inproc.summary(outcome)
    assert summary["status"] == "accepted" and summary["commit"]
    assert len(requests) == 4 and all(r.path == path for r in requests)
    assert all(r.json.get("stream", False) == stream for r in requests)
    assert summary["tokens"]["cached_input_tokens"] >= 512
    # tool results travelled back in the vendor's format, with the refusal as an error
    last = json.dumps(requests[1].json)
    assert "refused by the contract" in last and "tools.read_file.deny" in last
    # the key was sent to the provider and nowhere else
    assert all(CANARY in json.dumps(r.headers) for r in requests)
    for file in Path(summary["journal"]).parent.rglob("*"):
        if file.is_file():
            assert CANARY not in file.read_text(errors="replace")
    for req in requests:
        assert CANARY not in json.dumps(req.json)
    responses = [payload(r, Path(summary["journal"]).parent) for r in read_records(Path(summary["journal"]))
                 if r["kind"] == "model.response"]  # fmt: skip
    assert responses[1]["usage"]["cached_input_tokens"] == 512


@pytest.mark.parametrize(("model", "vendor", "path"), PROVIDERS, ids=[p[0].split(":")[0] for p in PROVIDERS])
def test_rejected_run_per_provider(repo: Path, model: str, vendor: str, path: str) -> None:
    with FakeProvider([{"tool_calls": [FINISH]}, {"tool_calls": [FINISH]}]) as fp, \
            mock.patch.dict(os.environ, provider_env(fp, vendor, False)):  # fmt: skip
        outcome = inproc.run(repo, None, task="fix the average", model=model, limits={"max_retries": 0})
    assert outcome.exit_code == 1, outcome.reason
    summary = inproc.summary(outcome)
    assert summary["status"] == "rejected" and summary["commit"] is None


@pytest.mark.parametrize(("model", "vendor", "path"), PROVIDERS, ids=[p[0].split(":")[0] for p in PROVIDERS])
def test_provider_failure_exits_4(repo: Path, model: str, vendor: str, path: str) -> None:
    with FakeProvider([]) as fp:
        fp.fail_next(500, None)
        done = cli("run", "fix", "--model", model, "--json", "--limit", "max_retries=0", cwd=repo, env=provider_env(fp, vendor, False))
    assert done.returncode == 4, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["status"] == "failed" and "provider error" in summary["reason"]


@pytest.mark.parametrize(("model", "vendor"), [("openai:gpt-test", "OPENAI"), ("anthropic:claude-test", "ANTHROPIC")])
def test_missing_key_is_exit_2_before_any_work(repo: Path, model: str, vendor: str) -> None:
    env = {f"{vendor}_API_KEY": "", f"{vendor}_BASE_URL": ""}
    done = cli("run", "fix", "--model", model, cwd=repo, env=env)
    assert done.returncode == 2
    assert f"{vendor}_API_KEY" in done.stderr and "Traceback" not in done.stderr
    assert not (repo / ".agentic" / "runs").exists()
