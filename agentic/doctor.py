"""`agentic doctor`: what works on this machine and in this repository, and how to fix what doesn't."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agentic.errors import AgenticError
from agentic.models._common import is_vendor_url


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    essential: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_git() -> Check:
    path = shutil.which("git")
    if path is None:
        return Check("git", False, "git is not installed", "install git (apt-get install git)")
    version = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return Check("git", True, version)


def check_repo(start: Path) -> tuple[Check, Any]:
    from agentic.workspace import find_repo

    try:
        info = find_repo(start)
    except AgenticError as exc:
        return Check("repository", False, exc.message, exc.hint or ""), None
    return Check("repository", True, f"{info.root} at {info.head[:12]} ({info.branch or 'detached'})"), info


def check_sandbox() -> list[Check]:
    from agentic.sandbox import sandbox_level

    level = sandbox_level()
    checks = [Check("sandbox", level.name != "none", f"{level.name}: {level.summary()}", level.fix)]
    for feature, on in level.features.items():
        checks.append(Check(f"sandbox: {feature}", on, "active" if on else "not available", essential=False))
    return checks


def check_settings(info: Any) -> list[Check]:
    from agentic.contract import load_contract
    from agentic.settings import load_settings

    checks = []
    try:
        settings = load_settings(info.root if info else None)
    except AgenticError as exc:
        return [Check("settings", False, exc.message, exc.hint or "fix the file named above")]
    checks.append(Check("settings", True, f"model {settings.model or '(none)'}, contract {settings.contract}"))
    ref = settings.contract
    if info is not None and settings.origins.get("contract") == "default" and not (info.root / ref).is_file():
        ref = "default"
    try:
        contract = load_contract(ref, info.root if info else None)
        checks.append(Check("contract", True, f"{contract.source}: {len(contract.tools)} tool rules, "
                                              f"{len(contract.invariants)} invariants"))  # fmt: skip
    except AgenticError as exc:
        checks.append(Check("contract", False, exc.message, exc.hint or "run `agentic contract check`"))
    checks.extend(check_model(settings))
    return checks


KEYS = {"openai": "OPENAI_API_KEY", "openai-responses": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
DOMAINS = {"openai": "openai.com", "openai-responses": "openai.com", "anthropic": "anthropic.com"}
URLS = {"openai": ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
        "openai-responses": ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
        "anthropic": ("ANTHROPIC_BASE_URL", "https://api.anthropic.com")}  # fmt: skip


def check_model(settings: Any) -> list[Check]:
    if not settings.model:
        return [Check("model", False, "no model configured", "set `model:` in .agentic.yaml or pass --model")]
    prefix, _, model_id = settings.model.partition(":")
    if prefix == "script":
        exists = Path(model_id).is_file()
        return [Check("model", exists, f"scripted model {model_id}", "" if exists else "the script file is missing")]
    if prefix not in KEYS:
        return [Check("model", False, f"unknown provider {prefix!r}", "use openai:, openai-responses:, anthropic:")]
    env_url, default_url = URLS[prefix]
    url = settings.base_url or os.environ.get(env_url) or default_url
    # a key is needed unless the base URL points away from the vendor (Ollama, vLLM, a proxy)
    local = not is_vendor_url(settings.base_url or os.environ.get(env_url) or None, DOMAINS[prefix])
    key = KEYS[prefix]
    has_key = bool(os.environ.get(key))
    checks = [Check("api key", has_key or local, f"{key} is {'set' if has_key else 'not set'}",
                    "" if has_key or local else f"export {key}=…")]  # fmt: skip
    checks.append(reachable(url))
    return checks


def reachable(url: str, timeout_s: float = 3.0) -> Check:
    """Any HTTP answer means the server is there; only connection failures count against it."""
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=timeout_s)
    except urllib.error.HTTPError:
        pass
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Check("provider reachable", False, f"{url}: {reason}",
                     "check the base URL, the network, or start the local server")  # fmt: skip
    return Check("provider reachable", True, url)


def diagnose(start: Path) -> list[Check]:
    checks = [check_git()]
    repo_check, info = check_repo(start)
    checks.append(repo_check)
    checks.extend(check_sandbox())
    checks.extend(check_settings(info))
    return checks
