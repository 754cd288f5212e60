"""Secret redaction: applied to everything before it is journaled, shown, or sent to the model."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)", re.IGNORECASE)
# Common credential shapes (OpenAI, Anthropic, GitHub, AWS, Slack, Google, private key blocks).
SECRET_PATTERNS = [
    re.compile(r"sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{20,}"),
    re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}"),
    re.compile(r"github_pat_[A-Za-z0-9_]{40,}"),
    re.compile(r"AKIA[0-9A-Z]{16}"),
    re.compile(r"xox[abprs]-[A-Za-z0-9-]{10,}"),
    re.compile(r"AIza[0-9A-Za-z_\-]{35}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
]
MIN_SECRET_LEN = 8


class Redactor:
    """Replaces known secret values and credential-looking strings with a marker."""

    def __init__(self, secrets: Mapping[str, str] | None = None) -> None:
        pairs = sorted(
            ((v, k) for k, v in (secrets or {}).items() if v and len(v) >= MIN_SECRET_LEN),
            key=lambda p: -len(p[0]),
        )
        self._values = pairs
        self._known = re.compile("|".join(re.escape(v) for v, _ in pairs)) if pairs else None
        self._names = {v: k for v, k in pairs}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Redactor:
        env = os.environ if environ is None else environ
        return cls({k: v for k, v in env.items() if SECRET_NAME.search(k)})

    def __call__(self, text: str) -> str:
        if self._known is not None:
            text = self._known.sub(lambda m: f"[REDACTED:{self._names[m.group(0)]}]", text)
        for pattern in SECRET_PATTERNS:
            text = pattern.sub("[REDACTED]", text)
        return text


def looks_secret(text: str) -> bool:
    return any(p.search(text) for p in SECRET_PATTERNS)
