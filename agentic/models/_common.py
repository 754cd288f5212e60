"""What the vendor adapters share: API keys, base URLs, SDK-error translation and JSON helpers.

Nothing here imports a vendor SDK at module level: `agentic --help` must not pay for openai/anthropic.
The SDK is imported inside the function that needs it, or handed in by the adapter.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from agentic.errors import MissingCredentials, ProviderError, ProviderRequestError
from agentic.models.base import Message, ModelOptions, Usage
from agentic.util.retry import parse_retry_after

if TYPE_CHECKING:
    from openai import OpenAI


# Sent when a local OpenAI-compatible server needs no key: the SDK refuses to build a client without one.
PLACEHOLDER_KEY = "not-needed"
# Passed explicitly when no base URL is set: left to themselves the SDKs would read an *empty*
# OPENAI_BASE_URL / ANTHROPIC_BASE_URL from the environment as the base URL.
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
ANTHROPIC_DEFAULT_BASE_URL = "https://api.anthropic.com"

_MAX_SERVER_MESSAGE = 600


# --- base URLs and keys ---------------------------------------------------------------------------


def effective_base_url(option: str | None, env_var: str) -> str | None:
    """The base URL a client will talk to: the option, else the environment variable, else None (vendor's)."""
    for candidate in (option, os.environ.get(env_var)):
        if candidate and candidate.strip():
            return candidate.strip()
    return None


def is_vendor_url(base_url: str | None, vendor_domain: str) -> bool:
    """True when `base_url` is the vendor's own service (None means the SDK default, which is)."""
    if base_url is None:
        return True
    host = (urlsplit(base_url if "//" in base_url else f"//{base_url}").hostname or "").lower()
    return host == vendor_domain or host.endswith("." + vendor_domain)


def resolve_api_key(env_var: str, *, vendor: str, base_url: str | None, vendor_domain: str) -> str:
    """The API key from `env_var`; raises MissingCredentials before any request when it is needed and unset.

    A base URL pointing away from the vendor (Ollama, vLLM, a proxy) may need no key: a placeholder is used.
    """
    key = os.environ.get(env_var, "").strip()
    if key:
        return key
    if not is_vendor_url(base_url, vendor_domain):
        return PLACEHOLDER_KEY
    raise MissingCredentials(
        f"{vendor} needs an API key and {env_var} is not set",
        hint=f"export {env_var}=… (or point base_url at a server that needs no key)",
    )


def import_in_background(module: str) -> None:
    """Start importing a vendor SDK on a daemon thread, so that its import (a third of a second or
    more for openai) overlaps the run's set-up (git, the worktree, the journal) instead of coming
    before it. Its first real use imports it as usual, waiting for this import if it is under way
    (and raising what a failed import raises)."""
    if module in sys.modules:
        return

    def load() -> None:
        with contextlib.suppress(Exception):
            importlib.import_module(module)

    threading.Thread(target=load, name=f"import {module}", daemon=True).start()


def openai_client_settings(options: ModelOptions) -> tuple[str, str | None]:
    """(API key, effective base URL or None for api.openai.com) from OPENAI_API_KEY, OPENAI_BASE_URL
    and `options.base_url`; MissingCredentials when a key is needed and unset."""
    base_url = effective_base_url(options.base_url, "OPENAI_BASE_URL")
    key = resolve_api_key("OPENAI_API_KEY", vendor="OpenAI", base_url=base_url, vendor_domain="openai.com")
    return key, base_url


def build_openai_client(options: ModelOptions, key: str, base_url: str | None) -> OpenAI:
    """An `openai.OpenAI` client for the key and base URL of `openai_client_settings`."""
    import openai

    try:
        client = openai.OpenAI(
            api_key=key,
            base_url=base_url or OPENAI_DEFAULT_BASE_URL,
            timeout=options.timeout_s,
            max_retries=0,  # the harness retries (agentic.util.retry): bounded, journaled
        )
    except openai.OpenAIError as exc:  # e.g. an unusable base URL
        raise ProviderError(f"cannot set up the OpenAI client: {exc}") from exc
    return client


# --- SDK errors -----------------------------------------------------------------------------------


def _server_message(body: object) -> tuple[str | None, str | None]:
    """(message, type/code) from an error body in the OpenAI, Anthropic or a compatible server's shape."""
    if isinstance(body, dict):
        inner: object = body.get("error", body)
        if isinstance(inner, dict):
            message = inner.get("message") or inner.get("detail")
            kind = inner.get("type") or inner.get("code")
            return (str(message) if message else None, str(kind) if kind else None)
        if isinstance(inner, str) and inner.strip():
            return inner.strip(), None
        detail = body.get("detail") or body.get("message")
        if detail:
            return str(detail), None
        return None, None
    if isinstance(body, str) and body.strip():
        return body.strip(), None
    return None, None


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_SERVER_MESSAGE else text[: _MAX_SERVER_MESSAGE - 1] + "…"


def _status_hint(status: int, *, vendor: str, key_env: str, base_env: str) -> str | None:
    if status == 401:
        return f"check {key_env}: the key was refused"
    if status == 403:
        return f"the key in {key_env} is not allowed to use this model or endpoint"
    if status == 404:
        return f"check the model name and the base URL ({base_env} / base_url)"
    if status == 429:
        return "rate limited or out of quota: wait and retry, or lower the request rate"
    if status in (400, 413, 422):
        return "the request was rejected; the server's message says why"
    if status >= 500:
        return f"{vendor} failed on its side: retry later"
    return None


def translate_sdk_error(
    exc: BaseException, sdk: ModuleType, *, vendor: str, key_env: str, base_env: str, base_url: str | None
) -> ProviderError | None:
    """The ProviderError for an exception raised by `sdk` (openai or anthropic), or None if it is not one."""
    where = base_url or "the default endpoint"
    if isinstance(exc, sdk.APIStatusError):
        status = int(exc.status_code)
        message, kind = _server_message(exc.body)
        if message is None:
            message = getattr(exc, "message", None) or str(exc)
        if status < 400:  # an error event inside a stream that had started fine
            return ProviderRequestError(
                f"{vendor} stream broke off" + (f" ({kind})" if kind else "") + f": {_clip(message)}",
                hint="retry later",
                retryable=True,
                request_id=getattr(exc, "request_id", None),
            )
        label = f"HTTP {status}" + (f" {kind}" if kind else "")
        return ProviderRequestError(
            f"{vendor} API error ({label}): {_clip(message)}",
            hint=_status_hint(status, vendor=vendor, key_env=key_env, base_env=base_env),
            status=status,
            retryable=status in (408, 409, 429) or status >= 500,
            request_id=getattr(exc, "request_id", None),
            retry_after=parse_retry_after(getattr(getattr(exc, "response", None), "headers", None)),
        )
    if isinstance(exc, sdk.APITimeoutError):
        return ProviderRequestError(
            f"{vendor} request to {where} timed out",
            hint="raise the timeout (timeout_s) or retry later",
            retryable=True,
        )
    if isinstance(exc, sdk.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        detail = f": {_clip(str(cause))}" if cause is not None and str(cause) else ""
        return ProviderRequestError(
            f"cannot reach {vendor} at {where}{detail}",
            hint=f"check the network and the base URL ({base_env} / base_url); is the server running?",
            retryable=True,
        )
    if isinstance(exc, sdk.APIResponseValidationError):
        return ProviderRequestError(
            f"{vendor} answered with data the SDK could not read (HTTP {exc.status_code})",
            status=int(exc.status_code),
        )
    if isinstance(exc, sdk.APIError):  # e.g. an error event inside a stream
        message, _ = _server_message(exc.body)
        return ProviderRequestError(
            f"{vendor} stream broke off: {_clip(message or exc.message)}", hint="retry later", retryable=True
        )
    return None


@contextmanager
def sdk_errors(
    sdk: ModuleType, *, vendor: str, key_env: str, base_env: str, base_url: str | None
) -> Iterator[None]:
    """Turn the SDK's API errors raised inside the block into ProviderError."""
    try:
        yield
    except ProviderError:
        raise
    except Exception as exc:
        mapped = translate_sdk_error(
            exc, sdk, vendor=vendor, key_env=key_env, base_env=base_env, base_url=base_url
        )
        if mapped is None:
            raise
        raise mapped from exc


def openai_errors(base_url: str | None) -> AbstractContextManager[None]:
    """`sdk_errors` for the openai SDK (imported here, lazily)."""
    import openai

    return sdk_errors(
        openai, vendor="OpenAI", key_env="OPENAI_API_KEY", base_env="OPENAI_BASE_URL", base_url=base_url
    )


# --- JSON and conversation helpers ----------------------------------------------------------------


def parse_json_object(raw: str) -> dict[str, Any] | None:
    """The JSON object in `raw`, or None when it is not valid JSON or not an object."""
    try:
        value = json.loads(raw) if raw.strip() else {}
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def dump_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def text_of(message: Message) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else ("" if content is None else str(content))


def system_text(messages: list[Message]) -> str:
    """All system messages joined: vendors that take the system prompt apart from the turns want one."""
    return "\n\n".join(text_of(m) for m in messages if m.get("role") == "system" and text_of(m))


def count(value: object) -> int:
    """A token count from a usage field that may be missing or None."""
    return value if isinstance(value, int) else 0


def openai_usage(usage: Any, input_field: str, output_field: str, details_field: str) -> Usage:
    """Usage from an OpenAI usage object (Chat Completions and Responses name the fields differently)."""
    if usage is None:
        return Usage()
    details = getattr(usage, details_field, None)
    return Usage(
        input_tokens=count(getattr(usage, input_field, 0)),
        output_tokens=count(getattr(usage, output_field, 0)),
        cached_input_tokens=count(getattr(details, "cached_tokens", 0)) if details is not None else 0,
    )


def unexpected(vendor: str, what: str) -> ProviderError:
    return ProviderError(
        f"{vendor} answered with {what}",
        hint="the server may not implement this API faithfully; check the base URL",
    )


class OpenAIClientModel:
    """What both OpenAI adapters share: the name, the options and a client, made at its first use
    (the SDK's import runs in the background meanwhile; the key is checked at once)."""

    prefix = "openai"

    def __init__(self, model_id: str, options: ModelOptions | None = None) -> None:
        self.name = f"{self.prefix}:{model_id}"
        self.model_id = model_id
        self.options = options or ModelOptions()
        self._key, self.base_url = openai_client_settings(self.options)
        self._built: OpenAI | None = None
        import_in_background("openai")

    @property
    def _client(self) -> OpenAI:
        if self._built is None:
            self._built = build_openai_client(self.options, self._key, self.base_url)
        return self._built
