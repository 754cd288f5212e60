"""The gate's verdict cache under `.agentic/gate-cache/`: one JSON file per key, the key a sha256 of
everything a verdict depends on (the two trees, the contract, the sandbox, the harness, and the
installed packages and generated files the checkout's commands see), so an unchanged tree is
answered without running anything. The newest CACHE_KEEP entries are kept."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from agentic import __version__
from agentic.config.settings import Settings
from agentic.gate.gomodules import go_modules_stamp
from agentic.gate.result import FORMAT_VERSION
from agentic.policy.contract import Contract
from agentic.sandbox import program_envs
from agentic.sandbox.hostview import project_envs
from agentic.workspace import STATE_DIR
from agentic.workspace.generated import find

CACHE_DIR = "gate-cache"
CACHE_KEEP = 256  # cached verdicts kept per repository; the oldest go first



def cache_key(tree: str, base_tree: str, contract: Contract, settings: Settings, unsafe: bool,
              root: Path | None = None) -> str:  # fmt: skip
    """sha256 of everything the verdict depends on besides the machine's installed tools (the Python
    packages installed for the interpreters on PATH are in: `installed_stamp`).

    The contract's hash covers its text; its derived protected list and test command are added
    because they also depend on where the contract lives (it protects its own path). With the
    checkout `root`, also what the checkout's commands see of it that git does not hold (installs):
    a `pip install .` made editable, a package added to node_modules, a version file built again.
    """
    basis = {
        "tree": tree, "base_tree": base_tree, "contract": contract.sha256,
        "checks": [{"id": i.id, "check": i.check} for i in contract.invariants],
        "protected": list(contract.protected), "test_command": list(contract.test_command),
        "timeout_s": contract.limits.timeout_s, "sandbox": "unsafe" if unsafe else settings.sandbox,
        "harness": __version__, "python": sys.version_info[:2],
        "installed": installed_stamp(root, contract) if root is not None else None,
    }  # fmt: skip
    return hashlib.sha256(json.dumps(basis, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def installed_stamp(root: Path, contract: Contract) -> list[list[object]]:
    """When the environments the checkout's commands see last changed (the project's virtual
    environment and node_modules, the test command's own environment: each directory and its
    site-packages, whose entries change with every install), and the generated files' sizes and
    times: a change there is a new key. A file changed in place inside site-packages is not seen.
    For a Go module, which of the modules its go.sum lists the machine's module cache holds."""
    stamps: list[list[object]] = []
    places = []
    for env in [*project_envs(str(root)), *map(str, program_envs(contract.test_command))]:
        places += [env, *sorted(map(str, Path(env).glob("lib/python*/site-packages")))]
    for place in [*places, *path_site_packages()]:
        with contextlib.suppress(OSError):
            stamps.append([place, os.stat(place).st_mtime_ns])
    if (modules := go_modules_stamp(root)) is not None:
        stamps.append(["go modules", modules])
    for rel in find(root, contract.generated):
        with contextlib.suppress(OSError):
            info = os.stat(root / rel)
            stamps.append([rel, info.st_size, info.st_mtime_ns])
    return stamps


SITES = ("lib/python3*/site-packages", "lib/python3*/dist-packages", "lib/python3/dist-packages")


def path_site_packages() -> list[str]:
    """Where packages are installed for the interpreters PATH finds, a test command's `python` among
    them: beside each PATH directory (/usr/local/bin: /usr/local/lib/python3.X/site-packages, Debian's
    dist-packages under /usr), and each pyenv version's when PATH goes through pyenv's shims. A
    `pip install` into one of them adds or renames an entry there, which changes its time."""
    found: dict[str, None] = {}
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isabs(entry):
            continue
        entry = os.path.normpath(entry)
        patterns = [f"versions/*/{s}" for s in SITES] if os.path.basename(entry) == "shims" else SITES
        for pattern in patterns:
            for place in sorted(glob.glob(os.path.join(os.path.dirname(entry), pattern))):
                found.setdefault(os.path.realpath(place))
    return list(found)


def cache_path(root: Path, key: str) -> Path:
    return root / STATE_DIR / CACHE_DIR / f"{key}.json"


def cache_get(root: Path, key: str) -> dict[str, Any] | None:
    """The stored entry for `key`, or None (missing, or unreadable: then it is simply a miss)."""
    try:
        data = json.loads(cache_path(root, key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and data.get("version") == FORMAT_VERSION and data.get("key") == key
    return data if ok and isinstance(data.get("verdict"), dict) else None


def cache_put(root: Path, key: str, entry: dict[str, Any]) -> None:
    """Store atomically (a concurrent gate reads a whole entry or none), then keep the newest CACHE_KEEP."""
    path = cache_path(root, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{key}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(entry), encoding="utf-8")
    os.replace(tmp, path)
    entries = sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime if p.exists() else 0.0)
    for old in entries[:-CACHE_KEEP]:
        old.unlink(missing_ok=True)
