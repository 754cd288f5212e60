"""Secret redaction: applied to everything before it is journaled, shown, or sent to the model.

Two kinds of secrets are replaced:

- known values: environment variables whose names look secret (`*_KEY`, `*_TOKEN`, …) and the values
  of the repository's top-level `.env*` files (`Redactor.for_repository`), shown as `[REDACTED:NAME]`;
- credential-shaped strings (provider key formats, private key blocks, JWTs, bearer tokens, passwords
  in URLs), shown as `[REDACTED]`. The shapes are specific on purpose: a false positive hides text the
  model needs, and `looks_secret` also gates added lines (the `no_secrets` invariant).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

SECRET_NAME = re.compile(
    r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|AUTH(?!OR)|PRIVATE|(?:^|_)PASS(?:_|$)|(?:^|_)DSN(?:_|$))",
    re.IGNORECASE,
)
# Common credential shapes. A pattern with a group named `s` redacts only that group (the key name
# around it stays readable); the others redact the whole match.
SECRET_PATTERNS = [
    re.compile(r"sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{20,}"),  # OpenAI, Anthropic
    re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}"),  # GitHub
    re.compile(r"github_pat_[A-Za-z0-9_]{40,}"),
    re.compile(r"glpat-[A-Za-z0-9_\-]{20,}"),  # GitLab
    re.compile(r"AKIA[0-9A-Z]{16}"),  # AWS access key id
    re.compile(r"(?i:aws_secret_access_key)[\"']?\s*[=:]\s*[\"']?(?P<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"),
    re.compile(r"xox[abeprs]-[A-Za-z0-9-]{10,}"),  # Slack tokens
    re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_\-]{20,}"),
    re.compile(r"AIza[0-9A-Za-z_\-]{35}"),  # Google API key
    re.compile(r"ya29\.[0-9A-Za-z_\-]{20,}"),  # Google OAuth access token
    re.compile(r"\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,}"),  # Stripe secret and restricted keys
    re.compile(r"\bwhsec_[A-Za-z0-9]{24,}"),  # Stripe webhook secret
    re.compile(r"\bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"),  # SendGrid
    re.compile(r"\bhf_[A-Za-z0-9]{30,}"),  # Hugging Face
    re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"),  # npm
    re.compile(r"\bpypi-AgE[A-Za-z0-9_\-]{50,}"),  # PyPI upload token
    # JWT: header and payload are base64url JSON objects, so both start with "eyJ" ('{"').
    re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    # A PEM private key block, also inside JSON ("private_key": "-----BEGIN …\n…"), up to its END line.
    re.compile(
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[A-Za-z0-9+/=\s]|\\[nr])*(?:-----END [A-Z0-9 ]*PRIVATE KEY-----)?"
    ),
    re.compile(r"\"private_key_id\"\s*:\s*\"(?P<s>[0-9a-f]{40})\""),  # GCP service-account JSON
    # HTTP authorization in the forms tools write, any case: `Authorization: Bearer <t>`, git's
    # `http.extraheader = AUTHORIZATION: basic <base64>` (CI checkout actions), `token <t>`, `Digest …`
    re.compile(r"(?i:\bbearer)\s+(?P<s>[A-Za-z0-9\-._~+/]{20,}=*)"),
    re.compile(r"(?i:authorization)[\"']?\s*[:=]\s*[\"']?(?i:basic)\s+(?P<s>[A-Za-z0-9+/]{12,}={0,2})"),
    re.compile(r"(?i:authorization)[\"']?\s*[:=]\s*[\"']?(?i:token|digest)\s+(?P<s>[^\s\"']{12,})"),
    re.compile(r"(?i:x-access-token|oauth2|x-token-auth)[:=](?P<s>[^\s@\"'/:]{8,})"),  # git URL user forms
    re.compile(r"(?i:\b[a-z][a-z0-9+.\-]*://)[^\s:/@\"']+:(?P<s>[^\s:/@\"']{3,})@"),  # scheme://user:password@host
]
# Each shape needs one of these (lower-case) in the text before its pattern can match: a scan for
# them is cheaper than the patterns, which then run only where one of their hints appears.
HINTS = [
    ("sk-",), ("gh",), ("github_pat_",), ("glpat-",), ("akia",), ("aws_secret_access_key",), ("xox",),
    ("hooks.slack.com",), ("aiza",), ("ya29.",), ("k_live_", "k_test_"), ("whsec_",), ("sg.",), ("hf_",),
    ("npm_",), ("pypi-age",), ("eyj",), ("private key-----",), ("private_key_id",), ("bearer",),
    ("authorization",), ("authorization",), ("x-access-token", "oauth2", "x-token-auth"), ("://",),
]  # fmt: skip
MIN_SECRET_LEN = 8
DOTENV_MAX_BYTES = 256 * 1024
_DOTENV_LINE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.\-]*)\s*=\s*(.*)$")
# Values of non-secret-looking names that are plainly configuration, not secrets: words, numbers,
# paths, URLs without a password or query string.
_PLAIN_VALUE = re.compile(
    r"[a-z][a-z.\- ]*|\d+(?:\.\d+)*|[/~.][\w./\-]*|[a-z][a-z0-9+.\-]*://[^\s@?]*", re.IGNORECASE
)


class Redactor:
    """Replaces known secret values and credential-looking strings with a marker."""

    def __init__(self, secrets: Mapping[str, str] | None = None) -> None:
        pairs = sorted(
            ((v, k) for k, v in (secrets or {}).items() if v and len(v) >= MIN_SECRET_LEN),
            key=lambda p: -len(p[0]),
        )
        self.secrets = {k: v for v, k in pairs}
        self._values = pairs
        self._known = re.compile("|".join(re.escape(v) for v, _ in pairs)) if pairs else None
        self._names = {v: k for v, k in pairs}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Redactor:
        return cls(environment_secrets(environ))

    @classmethod
    def for_repository(cls, root: Path, environ: Mapping[str, str] | None = None) -> Redactor:
        """Secret-named environment variables plus the values of `root`'s top-level `.env*` files."""
        return cls({**dotenv_secrets(root), **environment_secrets(environ)})

    def __call__(self, text: str) -> str:
        if self._known is not None:
            text = self._known.sub(lambda m: f"[REDACTED:{self._names[m.group(0)]}]", text)
        lowered = text.casefold()  # as re.IGNORECASE folds (the long s, the Kelvin sign...)
        for pattern, hints in zip(SECRET_PATTERNS, HINTS, strict=True):
            if any(hint in lowered for hint in hints):
                text = pattern.sub(_mask, text)
        return text


def _mask(match: re.Match[str]) -> str:
    if "s" not in match.re.groupindex:
        return "[REDACTED]"
    start, end = match.span("s")
    whole = match.group(0)
    offset = match.start()
    return whole[: start - offset] + "[REDACTED]" + whole[end - offset :]


def environment_secrets(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if SECRET_NAME.search(k)}


def parse_dotenv(text: str) -> dict[str, str]:
    """`KEY=VALUE` lines of a dotenv file: `export KEY=…`, single or double quotes, `# comments`."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _DOTENV_LINE.match(line)
        if match is None or line.lstrip().startswith("#"):
            continue
        name, raw = match.group(1), match.group(2).strip()
        if raw[:1] in ("'", '"'):
            quote = raw[0]
            end = raw.find(quote, 1)
            while quote == '"' and end > 0 and raw[end - 1] == "\\":
                end = raw.find(quote, end + 1)
            value = raw[1:end] if end > 0 else raw[1:]
            if quote == '"':
                value = value.replace('\\"', '"').replace("\\n", "\n")
        else:
            value = re.split(r"\s+#", raw, maxsplit=1)[0].strip()
        values[name] = value
    return values


def dotenv_secrets(root: Path) -> dict[str, str]:
    """Values worth redacting from the `.env*` files at the top of `root` (regular files only).

    Every value of 8 or more characters counts, except plain configuration (a word such as
    `production`, a number, a boolean) under a name that does not look secret.
    """
    found: dict[str, str] = {}
    try:
        entries = sorted(root.glob(".env*"))
    except OSError:
        return found
    for path in entries:
        try:
            if path.is_symlink() or not path.is_file() or path.stat().st_size > DOTENV_MAX_BYTES:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for name, value in parse_dotenv(text).items():
            if len(value) < MIN_SECRET_LEN:
                continue
            if not SECRET_NAME.search(name) and _PLAIN_VALUE.fullmatch(value):
                continue
            found[name if name not in found else f"{name}@{path.name}"] = value
    return found


def looks_secret(text: str) -> bool:
    return any(p.search(text) for p in SECRET_PATTERNS)
