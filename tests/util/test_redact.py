"""Redaction: known secret values (environment, top-level .env files) and credential shapes.

Both ways: secrets are masked, and ordinary text that merely resembles them is left alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentic.util.redact import HINTS, SECRET_PATTERNS, Redactor, dotenv_secrets, looks_secret, parse_dotenv

DOTENV = """\
# database
export DATABASE_URL="postgres://app:pw-9f8e7d6c@db.internal:5432/app"
STRIPE_KEY='sk_live_51HfakeFAKEfake00000000'
SESSION_SIGNING = "s3cr3t-v4lu3 with \\"quotes\\""
PLAIN_SECRET_ISH=Xq7!rT2#pL9z   # a comment after the value
APP_ENV=production
HOSTNAME=api.example.com
PORT=8000
DEBUG=true
LOG_DIR=/var/log/my-application
SHORT_TOKEN=abc123
EMPTY=
not a line at all
"""


def test_parse_dotenv_handles_export_quotes_and_comments() -> None:
    values = parse_dotenv(DOTENV)
    assert values["DATABASE_URL"] == "postgres://app:pw-9f8e7d6c@db.internal:5432/app"
    assert values["STRIPE_KEY"] == "sk_live_51HfakeFAKEfake00000000"
    assert values["SESSION_SIGNING"] == 's3cr3t-v4lu3 with "quotes"'
    assert values["PLAIN_SECRET_ISH"] == "Xq7!rT2#pL9z"
    assert values["EMPTY"] == ""
    assert "not a line at all" not in " ".join(values)
    assert parse_dotenv("A='x # y' # z\nB=\"unterminated\n") == {"A": "x # y", "B": "unterminated"}


def test_repository_dotenv_values_are_redacted(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(DOTENV)
    (tmp_path / ".env.local").write_text("LOCAL_ONLY=local-canary-77aa66bb\n")
    redact = Redactor.for_repository(tmp_path, environ={})
    text = (
        'connecting to postgres://app:pw-9f8e7d6c@db.internal:5432/app as s3cr3t-v4lu3 with "quotes"\n'
        "found Xq7!rT2#pL9z and local-canary-77aa66bb in production on api.example.com:8000, "
        "logs in /var/log/my-application, debug true, token abc123"
    )
    out = redact(text)
    for secret in ("pw-9f8e7d6c", "s3cr3t-v4lu3", "Xq7!rT2#pL9z", "local-canary-77aa66bb"):
        assert secret not in out
    assert "[REDACTED:DATABASE_URL]" in out and "[REDACTED:LOCAL_ONLY]" in out
    assert "[REDACTED:PLAIN_SECRET_ISH]" in out
    # plain configuration and short values stay readable
    for plain in ("production", "api.example.com", "8000", "/var/log/my-application", "abc123"):
        assert plain in out


def test_only_top_level_regular_dotenv_files_are_read(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".env").write_text("NESTED_TOKEN=nested-canary-1234\n")
    outside = tmp_path / "outside.txt"
    outside.write_text("LINKED_TOKEN=linked-canary-5678\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".env.linked").symlink_to(outside)
    (repo / ".env.big").write_text("BIG_TOKEN=big-canary-abcdef\n" + "#" * 300_000 + "\n")
    (repo / ".envdir").mkdir()
    (repo / "env").write_text("NOT_DOTENV_TOKEN=plain-file-canary\n")
    assert dotenv_secrets(repo) == {}
    assert dotenv_secrets(tmp_path / "missing") == {}


def test_environment_secrets_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "OPENAI_API_KEY": "sk-canary-abcdefghijklmnopqrstuvwxyz",
        "DB_PASS": "correcthorsebattery",
        "SENTRY_DSN": "https://abc@sentry.example/1",
        "GIT_AUTHOR_NAME": "Test Person Long Name",
        "HOME": "/home/somebody",
        "PWD": "/work/somewhere",
    }
    redact = Redactor.from_environment(env)
    out = redact(" ".join(env.values()))
    assert "sk-canary" not in out and "correcthorsebattery" not in out and "abc@sentry" not in out
    assert "Test Person Long Name" in out and "/home/somebody" in out and "/work/somewhere" in out
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-from-os-environ-123")
    assert "tok-from-os-environ" not in Redactor.from_environment()("x tok-from-os-environ-123")
    assert os.environ["MY_SERVICE_TOKEN"]  # still set: redaction reads, never changes, the environment


SECRETS = [
    ("sk_live_51HabcdefGHIJKLmnopQRSTuv", "Stripe live key"),
    ("sk_test_51HabcdefGHIJKLmnopQRSTuv", "Stripe test key"),
    ("rk_live_51HabcdefGHIJKLmnopQRSTuv", "Stripe restricted key"),
    ("whsec_abcdefghijklmnopqrstuvwxyz012345", "Stripe webhook secret"),
    ("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", "Slack webhook"),
    ("xoxb-123456789012-abcdefghijkl", "Slack token"),
    ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
     "JWT"),
    ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "GitHub token"),
    ("glpat-abcdefghij0123456789", "GitLab token"),
    ("AKIAABCDEFGHIJKLMNOP", "AWS key id"),
    ("hf_abcdefghijklmnopqrstuvwxyzABCDEFGH", "Hugging Face token"),
    ("ya29.a0AfH6SMBabcdefghijklmnop", "Google OAuth token"),
    ("AIzaSyA1234567890abcdefghijklmnopqrstuv", "Google API key"),
    ("SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789abcdefg", "SendGrid key"),
    ("sk-proj-abcdefghijklmnopqrstuvwxyz", "OpenAI key"),
]  # fmt: skip


@pytest.mark.parametrize(("secret", "what"), SECRETS)
def test_credential_shapes_are_redacted(secret: str, what: str) -> None:
    out = Redactor()(f"value: {secret} end")
    assert secret not in out, what
    assert out.startswith("value: ") and out.endswith(" end") and "[REDACTED]" in out
    assert looks_secret(secret)


def test_secrets_inside_context_keep_the_context() -> None:
    redact = Redactor()
    assert (
        redact("Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123") == "Authorization: Bearer [REDACTED]"
    )
    assert redact("curl -H 'Authorization: Basic dXNlcjpwYXNzd29yZA=='") == (
        "curl -H 'Authorization: Basic [REDACTED]'"
    )
    assert redact("postgres://admin:hunter22@db:5432/x") == "postgres://admin:[REDACTED]@db:5432/x"
    assert redact("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") == (
        "aws_secret_access_key = [REDACTED]"
    )


def test_service_account_json_loses_its_key() -> None:
    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7" * 3
    doc = (
        '{"type": "service_account", "private_key_id": "0123456789abcdef0123456789abcdef01234567", '
        f'"private_key": "-----BEGIN PRIVATE KEY-----\\n{body}\\n{body}==\\n-----END PRIVATE KEY-----\\n", '
        '"client_email": "bot@project.iam.gserviceaccount.com"}'
    )
    out = Redactor()(doc)
    assert "MIIEvQ" not in out and "0123456789abcdef0123456789abcdef01234567" not in out
    assert '"private_key_id": "[REDACTED]"' in out
    assert "bot@project.iam.gserviceaccount.com" in out and '"type": "service_account"' in out
    pem = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n{body}\n-----END RSA PRIVATE KEY-----\nafter"
    assert Redactor()(pem) == "[REDACTED]\nafter"


ORDINARY = [
    "the bearer token is read from the keychain",
    "headers = {'Authorization': f'Bearer {token}'}",
    "Authorization: Bearer $TOKEN",
    "git@github.com:org/repo.git",
    "https://example.com/path?q=1",
    "http://localhost:8000/api",
    "task_list_items = ['sk_live_', 'rk_test']",
    "sk_test_short",
    "def test_jwt(): assert header.startswith('eyJ')",
    "eyJhbGciOiJIUzI1NiJ9 alone is only a header",
    "risk_live_demo_value",
    "ask_live_questions_here_please",
    "-----BEGIN CERTIFICATE-----",
    "-----BEGIN PUBLIC KEY-----",
    "the hooks.slack.com domain",
    "private_key_id is documented in README",
    "postgres://app@db:5432/x",
    "SG.value",
    "npm_config_cache=/tmp/npm",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Redactor()(text) == text
    assert not looks_secret(text)


def test_the_shapes_hints_are_folded_as_the_patterns_match() -> None:
    """A shape runs only where one of its hints appears; the hints are looked for in the case-folded
    text, so what IGNORECASE matches (a long s in a key name) is still found."""
    assert len(HINTS) == len(SECRET_PATTERNS)
    redact = Redactor({})
    assert "A" * 40 not in redact("AWS_\u017fECRET_ACCESS_KEY=" + "A" * 40)
    plain = "nothing here looks like a credential\n" * 100
    assert redact(plain) == plain
