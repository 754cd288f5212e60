"""Notifications when a run or an eval ends: a signed webhook and/or a shell-free command.

Settings (`notify:` in .agentic.yaml, see docs/notifications.md):

    notify:
      webhook: https://ci.example.com/hooks/agentic
      secret_env: AGENTIC_WEBHOOK_SECRET   # the *name* of the variable holding the HMAC secret
      command: [scripts/notify, --channel, dev]
      timeout_s: 10
      retries: 3

The body is one JSON object (`event`, `id`, `status`, `reason`, `summary`, cost, tokens, steps,
duration, journal path, repository, `idempotency_key`). The webhook gets it as a POST with
`X-Agentic-Signature: sha256=<hex HMAC-SHA256 of the raw body>` when a secret is set, plus
`X-Agentic-Timestamp`, `X-Agentic-Event` and `Idempotency-Key`. Connection errors, timeouts, 429 and
5xx are retried with exponential backoff and jitter (Retry-After honoured). The idempotency key
depends only on the event, the run (or eval) and its final status, so a resumed run that ends the
same way sends the same key again and a receiver can drop the duplicate.

Failing to notify never fails a run: each delivery's outcome is journaled (`notify` records: channel,
outcome, attempts, HTTP status, error; never the secret).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import random
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentic import __version__
from agentic.sandbox.hostexec import host_env
from agentic.util.retry import Backoff, GaveUp, Outcome, RetryLoop, parse_retry_after

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_RETRIES = 3
BACKOFF = Backoff(initial_s=0.5, max_s=30.0)
MAX_RETRY_AFTER_S = 60.0  # a receiver asking for a longer pause is not waited for: the run is over
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
KEY_NAMESPACE = uuid.UUID("6f1c7f3e-5d0b-4c55-9a3e-1b8f2f0a7c11")  # idempotency keys are uuid5 in it
ERROR_CHARS = 300


@dataclass(frozen=True)
class NotifyConfig:
    webhook: str | None = None
    secret_env: str | None = None
    command: tuple[str, ...] = ()
    timeout_s: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES

    @classmethod
    def from_settings(cls, value: Mapping[str, Any] | None) -> NotifyConfig | None:
        """The `notify:` setting (already schema-checked), or None when nothing is to be notified."""
        if not value or not (value.get("webhook") or value.get("command")):
            return None
        return cls(
            webhook=value.get("webhook"),
            secret_env=value.get("secret_env"),
            command=tuple(value.get("command") or ()),
            timeout_s=float(value.get("timeout_s", DEFAULT_TIMEOUT_S)),
            retries=int(value.get("retries", DEFAULT_RETRIES)),
        )


@dataclass
class Delivery:
    """How one channel went: what the `notify` journal record says."""

    channel: str  # "webhook" or "command"
    target: str  # scheme://host[:port] of the webhook (no path, no query), or the command's program
    outcome: str = "failed"  # delivered | failed | cancelled
    attempts: int = 0
    status_code: int | None = None  # the last HTTP status, or the command's exit status
    error: str = ""
    signed: bool = False
    duration_s: float = 0.0
    idempotency_key: str = ""
    event: str = ""
    waits_s: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.outcome == "delivered"

    def to_record(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration_s"] = round(self.duration_s, 3)
        data["waits_s"] = [round(w, 3) for w in self.waits_s]
        return data


def idempotency_key(event: str, subject_id: str, status: str) -> str:
    """Stable for the same event, run (or eval) and final status: a re-sent notification carries it again."""
    return str(uuid.uuid5(KEY_NAMESPACE, f"{event}\0{subject_id}\0{status}"))


def make_payload(event: str, subject_id: str, status: str, **fields: Any) -> dict[str, Any]:
    """The JSON body of a notification: `event`, `id`, `status`, the caller's fields, the idempotency key."""
    return {
        "event": event,
        "id": subject_id,
        "status": status,
        **fields,
        "idempotency_key": idempotency_key(event, subject_id, status),
        "harness": {"name": "agentic", "version": __version__},
    }


def run_end_payload(run_id: str, status: str, reason: str, summary: str, budget: Mapping[str, Any],
                    journal: Path, repository: Path, **extra: Any) -> dict[str, Any]:  # fmt: skip
    """The body for `run.end`, from what the runner knows when the run's final status is journaled."""
    usage = dict(budget.get("usage") or {})
    usage["total_tokens"] = int(usage.get("input_tokens", 0)) + int(usage.get("output_tokens", 0))
    return make_payload(
        "run.end", run_id, status, run_id=run_id, reason=reason, summary=summary,
        cost_usd=budget.get("cost_usd"), tokens=usage, steps=budget.get("steps"),
        tool_calls=budget.get("tool_calls"), duration_s=budget.get("elapsed_s"), journal=str(journal),
        report_command=f"agentic show {run_id}", repository=str(repository), ended_at=round(time.time(), 3), **extra,
    )  # fmt: skip


def body_of(payload: Mapping[str, Any]) -> bytes:
    """The raw body: compact JSON, UTF-8. The signature covers exactly these bytes."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")


def sign(secret: str, body: bytes) -> str:
    """The X-Agentic-Signature value: `sha256=` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does (constant-time); here for tests and as the reference for receivers."""
    return hmac.compare_digest(sign(secret, body), header)


def _target(url: str) -> str:
    """scheme://host[:port]: what is journaled of a URL (its path or query may hold a token)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A signed POST is never turned into a GET, nor sent to another address: a redirect is a failure."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass
class _Answer:
    status: int | None  # None: no HTTP answer (connection error, timeout)
    retry_after: str | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def worth_retrying(self) -> bool:
        """Connection errors, timeouts, 429 and 5xx: the same POST may go through later."""
        return not self.ok and (self.status is None or self.status in RETRY_STATUSES)

    @property
    def asked_s(self) -> float | None:
        return parse_retry_after({"retry-after": self.retry_after} if self.retry_after else None)


def _post(url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> _Answer:
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            response.read(64 * 1024)
            return _Answer(int(response.status))
    except urllib.error.HTTPError as exc:
        with contextlib.suppress(OSError):
            exc.read(64 * 1024)
        retry_after = exc.headers.get("Retry-After") if exc.headers else None
        return _Answer(exc.code, retry_after, f"HTTP {exc.code} {exc.reason}")
    except urllib.error.URLError as exc:
        return _Answer(None, error=f"cannot connect: {_short(str(exc.reason))}")
    except (TimeoutError, OSError) as exc:  # a read timeout or a reset after the connection was made
        return _Answer(None, error=f"{type(exc).__name__}: {_short(str(exc)) or 'timed out'}")


def _headers(payload: Mapping[str, Any], body: bytes, secret: str | None) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"agentic/{__version__}",
        "X-Agentic-Event": str(payload.get("event", "")),
        "X-Agentic-Timestamp": str(int(time.time())),
        "Idempotency-Key": str(payload.get("idempotency_key", "")),
    }
    if secret is not None:
        headers["X-Agentic-Signature"] = sign(secret, body)
    return headers


def send_webhook(config: NotifyConfig, payload: Mapping[str, Any], environ: Mapping[str, str],
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None) -> Delivery:  # fmt: skip
    """POST the payload, retrying connection errors, timeouts, 429 and 5xx up to `config.retries` times."""
    assert config.webhook is not None
    started = time.monotonic()
    delivery = Delivery("webhook", _target(config.webhook), idempotency_key=str(payload.get("idempotency_key", "")),
                        event=str(payload.get("event", "")))  # fmt: skip
    secret = None
    if config.secret_env:
        secret = environ.get(config.secret_env) or None
        if secret is None:  # never fall back to an unsigned request the receiver would have to trust
            delivery.error = f"not sent: the secret's environment variable {config.secret_env} is not set"
            return delivery
    delivery.signed = secret is not None
    body = body_of(payload)
    webhook = config.webhook

    def attempt() -> _Answer:
        answer = _post(webhook, body, _headers(payload, body, secret), config.timeout_s)
        delivery.attempts, delivery.status_code = delivery.attempts + 1, answer.status
        if answer.ok:
            delivery.outcome, delivery.error = "delivered", ""
        else:
            delivery.error = answer.error or f"HTTP {answer.status}"
        return answer

    def give_up(outcome: Outcome[_Answer], why: GaveUp) -> _Answer:
        if why.asked_s is not None:
            delivery.error += f"; the receiver asked to wait {why.asked_s:.0f}s (over {MAX_RETRY_AFTER_S:.0f}s): gave up"
        assert outcome.value is not None
        return outcome.value

    RetryLoop(
        config.retries,
        should_retry=lambda outcome: outcome.value is not None and outcome.value.worth_retrying,
        asked_s=lambda outcome: outcome.value.asked_s if outcome.value is not None else None,
        on_give_up=give_up,
        max_asked_s=MAX_RETRY_AFTER_S,
        backoff=BACKOFF,
        on_retry=lambda retry, outcome, wait_s: delivery.waits_s.append(wait_s),
        sleep=sleep,
        rng=rng or random.Random(),
    ).call(attempt)
    delivery.duration_s = time.monotonic() - started
    return delivery


def run_command(config: NotifyConfig, payload: Mapping[str, Any], cwd: Path | None = None) -> Delivery:
    """Run the command without a shell, the JSON body on stdin; killed (its whole group) at the timeout."""
    argv = list(config.command)
    started = time.monotonic()
    delivery = Delivery("command", Path(argv[0]).name, attempts=1,
                        idempotency_key=str(payload.get("idempotency_key", "")), event=str(payload.get("event", "")))  # fmt: skip
    env = host_env({"AGENTIC_EVENT": delivery.event, "AGENTIC_IDEMPOTENCY_KEY": delivery.idempotency_key})
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                cwd=cwd, env=env, start_new_session=True)  # fmt: skip
    except OSError as exc:
        delivery.error = f"cannot start {argv[0]}: {exc.strerror or exc}"
        return delivery
    try:
        _, stderr = proc.communicate(body_of(payload), timeout=config.timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        delivery.error = f"timed out after {config.timeout_s:g}s: killed"
    else:
        delivery.status_code = proc.returncode
        if proc.returncode == 0:
            delivery.outcome = "delivered"
        else:
            tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] if stderr else []
            delivery.error = f"exit status {proc.returncode}" + (f": {_short(tail[0])}" if tail else "")
    delivery.duration_s = time.monotonic() - started
    return delivery


def send(config: NotifyConfig, payload: Mapping[str, Any], *, cwd: Path | None = None,
         environ: Mapping[str, str] | None = None, sleep: Callable[[float], None] = time.sleep,
         rng: random.Random | None = None) -> list[Delivery]:  # fmt: skip
    """Deliver one notification on every configured channel; never raises for a delivery failure."""
    environ = os.environ if environ is None else environ
    deliveries = []
    if config.webhook:
        deliveries.append(send_webhook(config, payload, environ, sleep=sleep, rng=rng))
    if config.command:
        deliveries.append(run_command(config, payload, cwd))
    return deliveries


def notify_run_end(settings: Any, journal: Any, payload: Mapping[str, Any]) -> list[Delivery]:
    """Called by the runner once the run's final status is journaled: send, then journal each outcome.

    Nothing here can fail the run: errors become `notify` records, and Ctrl-C while notifying only
    cancels the notification (the run has already ended).
    """
    config = NotifyConfig.from_settings(getattr(settings, "notify", None))
    if config is None:
        return []
    event, key = str(payload.get("event", "")), str(payload.get("idempotency_key", ""))
    try:
        deliveries = send(config, payload, cwd=Path(str(payload.get("repository") or ".")))
    except KeyboardInterrupt:
        deliveries = [Delivery("all", "", "cancelled", error="interrupted (Ctrl-C) while notifying",
                               idempotency_key=key, event=event)]  # fmt: skip
    except Exception as exc:  # a bug here must not turn an ended run into a crash
        deliveries = [Delivery("all", "", error=f"internal error: {type(exc).__name__}: {_short(str(exc))}",
                               idempotency_key=key, event=event)]  # fmt: skip
    for delivery in deliveries:
        with contextlib.suppress(OSError):
            journal.append("notify", delivery.to_record(), step=int(payload.get("steps") or 0), sync=True)
    return deliveries
