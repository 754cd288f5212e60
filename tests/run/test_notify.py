"""Notifications: a signed webhook received by a real local HTTP server, retries, the command, and runs
through the CLI that notify (or fail to) without their outcome changing."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentic.config.settings import load_settings
from agentic.journal.records import payload, read_records, verify
from agentic.run.notify import (
    NotifyConfig,
    idempotency_key,
    make_payload,
    send,
    verify_signature,
)
from tests.conftest import FINISH, FIX, cli, write_script

SECRET = "hook-signing-value-5b1f0e7c9d"  # its variable's name does not look secret: redaction cannot hide it
SECRET_ENV = "AGENTIC_HOOK_SIGNING"


class Receiver:
    """A webhook receiver on 127.0.0.1: answers with the scripted statuses (then 200), records requests."""

    def __init__(self, answers: list[tuple[int, dict[str, str]]] | None = None) -> None:
        self.answers = list(answers or [])
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status, headers = receiver.answers.pop(0) if receiver.answers else (200, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/agentic?team=dev"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound here and never listened on: connecting is refused, and while the test runs no other
    process of the suite can take it (a port closed again could be, and answer with a reset)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


def sample(status: str = "accepted") -> dict[str, Any]:
    return make_payload("run.end", "20250101-000000-abcdef", status, reason="the gate passed", summary="fixed",
                        steps=3, repository="/tmp/repo")  # fmt: skip


def test_signed_webhook_carries_the_body_signature_and_idempotency_key(receiver: Receiver) -> None:
    config = NotifyConfig(webhook=receiver.url, secret_env=SECRET_ENV)
    [delivery] = send(config, sample(), environ={SECRET_ENV: SECRET})
    assert delivery.ok and delivery.attempts == 1 and delivery.status_code == 200 and delivery.signed
    [(headers, body)] = receiver.requests
    assert headers["content-type"] == "application/json"
    assert headers["x-agentic-signature"].startswith("sha256=")
    assert verify_signature(SECRET, body, headers["x-agentic-signature"])
    assert not verify_signature("another secret", body, headers["x-agentic-signature"])
    assert not verify_signature(SECRET, body + b" ", headers["x-agentic-signature"])
    assert int(headers["x-agentic-timestamp"]) > 0 and headers["x-agentic-event"] == "run.end"
    data = json.loads(body)
    assert headers["idempotency-key"] == data["idempotency_key"]
    assert data["event"] == "run.end" and data["status"] == "accepted" and data["summary"] == "fixed"
    assert delivery.target == f"http://127.0.0.1:{receiver.server.server_address[1]}"  # no path, no query


def test_unsigned_without_secret_env_and_never_unsigned_when_its_variable_is_missing(receiver: Receiver) -> None:
    [plain] = send(NotifyConfig(webhook=receiver.url), sample(), environ={})
    assert plain.ok and not plain.signed
    assert "x-agentic-signature" not in receiver.requests[0][0]
    [missing] = send(NotifyConfig(webhook=receiver.url, secret_env=SECRET_ENV), sample(), environ={})
    assert not missing.ok and missing.attempts == 0 and SECRET_ENV in missing.error
    assert len(receiver.requests) == 1  # nothing was sent unsigned


def test_a_500_then_200_is_retried_with_the_same_idempotency_key() -> None:
    waits: list[float] = []
    with Receiver([(500, {})]) as receiver:
        [delivery] = send(NotifyConfig(webhook=receiver.url, retries=2), sample(), environ={}, sleep=waits.append,
                          rng=random.Random(1))  # fmt: skip
    assert delivery.ok and delivery.attempts == 2 and delivery.status_code == 200
    keys = [headers["idempotency-key"] for headers, _ in receiver.requests]
    assert len(keys) == 2 and keys[0] == keys[1] == sample()["idempotency_key"]
    assert receiver.requests[0][1] == receiver.requests[1][1]  # the same body, byte for byte
    assert len(waits) == 1 and 0.25 <= waits[0] <= 0.5  # backoff with jitter: [d/2, d], d = 0.5 s


def test_429_honours_retry_after_and_backoff_grows() -> None:
    waits: list[float] = []
    answers = [(429, {"Retry-After": "2"}), (503, {}), (502, {}), (200, {})]
    with Receiver(answers) as receiver:
        [delivery] = send(NotifyConfig(webhook=receiver.url, retries=3), sample(), environ={}, sleep=waits.append,
                          rng=random.Random(7))  # fmt: skip
    assert delivery.ok and delivery.attempts == 4
    assert waits[0] == 2.0  # the server's Retry-After
    assert 0.5 <= waits[1] <= 1.0 and 1.0 <= waits[2] <= 2.0  # then exponential: 2nd and 3rd retry


def test_retries_are_bounded_and_client_errors_are_not_retried() -> None:
    with Receiver([(500, {}), (500, {}), (500, {})]) as receiver:
        [failed] = send(NotifyConfig(webhook=receiver.url, retries=2), sample(), environ={}, sleep=lambda s: None)
    assert not failed.ok and failed.attempts == 3 and failed.status_code == 500 and "500" in failed.error
    with Receiver([(400, {})]) as receiver:
        [rejected] = send(NotifyConfig(webhook=receiver.url, retries=5), sample(), environ={}, sleep=lambda s: None)
    assert not rejected.ok and rejected.attempts == 1 and rejected.status_code == 400
    with Receiver([(429, {"Retry-After": "3600"})]) as receiver:
        [patient] = send(NotifyConfig(webhook=receiver.url, retries=5), sample(), environ={}, sleep=lambda s: None)
    assert not patient.ok and patient.attempts == 1 and "3600" in patient.error


def test_a_redirect_is_not_followed() -> None:
    with Receiver([(307, {"Location": "http://127.0.0.1:1/elsewhere"})]) as receiver:
        [delivery] = send(NotifyConfig(webhook=receiver.url), sample(), environ={}, sleep=lambda s: None)
    assert not delivery.ok and delivery.status_code == 307 and len(receiver.requests) == 1


def test_unreachable_webhook_fails_after_its_retries(closed_port: int) -> None:
    waits: list[float] = []
    config = NotifyConfig(webhook=f"http://127.0.0.1:{closed_port}/hook", retries=2, timeout_s=2)
    [delivery] = send(config, sample(), environ={}, sleep=waits.append)
    assert not delivery.ok and delivery.attempts == 3 and delivery.status_code is None
    assert "cannot connect" in delivery.error and len(waits) == 2


def test_idempotency_key_is_stable_per_run_and_status() -> None:
    assert idempotency_key("run.end", "r1", "failed") == idempotency_key("run.end", "r1", "failed")
    assert idempotency_key("run.end", "r1", "failed") != idempotency_key("run.end", "r1", "accepted")
    assert idempotency_key("run.end", "r1", "failed") != idempotency_key("run.end", "r2", "failed")
    assert idempotency_key("run.end", "r1", "failed") != idempotency_key("eval.end", "r1", "failed")
    assert sample()["idempotency_key"] == sample()["idempotency_key"]


def test_command_gets_the_json_on_stdin_without_a_shell(tmp_path: Path) -> None:
    out = tmp_path / "got.json"
    code = f"import sys, os; open({str(out)!r}, 'w').write(sys.stdin.read() + '\\n' + os.environ['AGENTIC_EVENT'])"
    [delivery] = send(NotifyConfig(command=(sys.executable, "-c", code)), sample(), cwd=tmp_path)
    assert delivery.ok and delivery.channel == "command" and delivery.status_code == 0
    body, event = out.read_text().rsplit("\n", 1)
    assert json.loads(body) == json.loads(json.dumps(sample())) and event == "run.end"
    # shell syntax is an argument, not a pipeline
    [literal] = send(NotifyConfig(command=("echo", "x; touch pwned")), sample(), cwd=tmp_path)
    assert literal.ok and not (tmp_path / "pwned").exists()


def test_command_failures_and_timeouts_are_reported(tmp_path: Path) -> None:
    failing = (sys.executable, "-c", "import sys; sys.stderr.write('no route to chat\\n'); sys.exit(3)")
    [failed] = send(NotifyConfig(command=failing), sample(), cwd=tmp_path)
    assert not failed.ok and failed.status_code == 3 and "no route to chat" in failed.error
    [slow] = send(NotifyConfig(command=("sleep", "30"), timeout_s=0.5), sample(), cwd=tmp_path)
    assert not slow.ok and "timed out" in slow.error and slow.duration_s < 10
    [missing] = send(NotifyConfig(command=("no-such-notifier-xyz",)), sample(), cwd=tmp_path)
    assert not missing.ok and "cannot start" in missing.error


def test_notify_settings_are_validated(tmp_path: Path) -> None:
    from agentic.errors import ConfigError

    good = {"notify": {"webhook": "https://example.com/h", "secret_env": "HOOK_SECRET", "retries": 2}}
    (tmp_path / ".agentic.yaml").write_text(yaml.safe_dump(good))
    assert load_settings(tmp_path, environ={}).notify == good["notify"]
    for bad in ({"webhook": "file:///etc/passwd"}, {"webhook": "https://x.example", "secret": "inline"},
                {"secret_env": "X"}, {"command": "notify-send done"}, {"webhook": "https://x.example", "retries": -1}):  # fmt: skip
        (tmp_path / ".agentic.yaml").write_text(yaml.safe_dump({"notify": bad}))
        with pytest.raises(ConfigError):
            load_settings(tmp_path, environ={})


# --- through the CLI: a scripted run, notified at its end ---------------------------------------------------


def notify_settings(repo: Path, notify: dict[str, Any]) -> None:
    (repo / ".agentic.yaml").write_text(yaml.safe_dump({"notify": notify}), encoding="utf-8")


def run(repo: Path, turns: list[dict[str, Any]], env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    script = write_script(repo.parent / "turns.yaml", turns)
    done = cli("run", "fix the average", "--model", f"script:{script}", "--json", cwd=repo, env=env)
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


def journal_of(summary: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    path = Path(summary["journal"])
    return [(r, payload(r, path.parent)) for r in read_records(path)]


def notify_records(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [data for r, data in journal_of(summary) if r["kind"] == "notify"]


def test_a_run_notifies_webhook_and_command_at_its_end(repo: Path, receiver: Receiver) -> None:
    got = repo.parent / "command-got.json"
    code = f"import sys; open({str(got)!r}, 'w').write(sys.stdin.read())"
    notify_settings(repo, {"webhook": receiver.url, "secret_env": SECRET_ENV, "command": [sys.executable, "-c", code]})
    code_, summary = run(repo, [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}], env={SECRET_ENV: SECRET})
    assert code_ == 0 and summary["status"] == "accepted"
    [(headers, body)] = receiver.requests
    assert verify_signature(SECRET, body, headers["x-agentic-signature"])
    data = json.loads(body)
    assert data["event"] == "run.end" and data["id"] == data["run_id"] == summary["run_id"]
    assert data["status"] == "accepted" and data["summary"] == "fixed average" and data["commit"] == summary["commit"]
    assert data["steps"] == 2 and data["tokens"]["total_tokens"] > 0 and data["journal"] == summary["journal"]
    assert data["repository"] == str(repo) and headers["idempotency-key"] == data["idempotency_key"]
    assert json.loads(got.read_text()) == data  # the command got the same body
    records = notify_records(summary)
    assert [(r["channel"], r["outcome"], r["attempts"]) for r in records] == [("webhook", "delivered", 1),
                                                                               ("command", "delivered", 1)]  # fmt: skip
    assert records[0]["signed"] and records[0]["status_code"] == 200
    # the secret is nowhere in the run's files; the journal is intact and still ends the run as before
    run_dir = Path(summary["journal"]).parent
    assert all(SECRET not in p.read_text(errors="replace") for p in run_dir.rglob("*") if p.is_file())
    assert verify(Path(summary["journal"])).ok
    assert [r["kind"] for r, _ in journal_of(summary)][-3:] == ["run.end", "notify", "notify"]


def test_an_unreachable_webhook_does_not_fail_the_run(repo: Path, closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/hook"
    notify_settings(repo, {"webhook": url, "secret_env": SECRET_ENV, "retries": 1, "timeout_s": 2})
    code, summary = run(repo, [{"tool_calls": [FIX]}, {"tool_calls": [FINISH]}], env={SECRET_ENV: SECRET})
    assert code == 0 and summary["status"] == "accepted"
    [record] = notify_records(summary)
    assert record["outcome"] == "failed" and record["attempts"] == 2 and record["status_code"] is None
    assert "cannot connect" in record["error"] and record["event"] == "run.end"
    assert SECRET not in Path(summary["journal"]).read_text()
    shown = cli("show", summary["run_id"], cwd=repo)
    assert shown.returncode == 0 and "notify" in shown.stdout


def test_a_resumed_run_that_ends_the_same_way_sends_the_same_key(repo: Path, receiver: Receiver) -> None:
    notify_settings(repo, {"webhook": receiver.url})
    code, first = run(repo, [{"tool_calls": [FIX]}])  # the script runs out of turns: failed, resumable
    assert code == 4 and first["status"] == "failed"
    again = cli("resume", "last", "--json", cwd=repo)
    assert again.returncode == 4, again.stderr
    keys = [headers["idempotency-key"] for headers, _ in receiver.requests]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert [b["status"] for b in receiver.bodies()] == ["failed", "failed"]
    assert {b["run_id"] for b in receiver.bodies()} == {first["run_id"]}


def test_an_eval_notifies_once_at_its_end_not_per_attempt(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    got = repo / "got.jsonl"
    record = f"import sys; open({str(got)!r}, 'a').write(sys.stdin.read().strip() + chr(10))"
    (repo / ".agentic.yaml").write_text(yaml.safe_dump({"notify": {"command": [sys.executable, "-c", record]}}))
    scenario = Path(__file__).parents[2] / "scenarios" / "fix-average.yaml"
    done = cli("eval", str(scenario), "--repeats", "2", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    [line] = got.read_text().splitlines()
    body = json.loads(line)
    assert body["event"] == "eval.end" and body["status"] == "ok" and body["attempts"] == 2
    assert body["idempotency_key"] and body["pass_rate"] == 1.0
