"""What the harness itself runs on the host, and so what no run may change.

The harness starts few programs outside the sandbox: its own hardened git, the notification command
of `.agentic.yaml` (with the run's summary on stdin), and the project's interpreter (`agentic init`
and `doctor` ask the checkout's `.venv/bin/python` whether pytest imports). A run's change reaches the
person's checkout through `apply`, so a file a run could change would run on the host later. Every
path these programs are named by inside the repository is therefore protected for every run (file
tools refuse, commands see it read-only), and they start with an environment built from an
allow-list: never the harness's API keys.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from agentic.sandbox.hostview import PROJECT_ENVS

# What a host-side program gets from the harness's environment; nothing else (no *_API_KEY, no token).
ALLOWED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM",
               "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY",
               "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "XDG_RUNTIME_DIR")  # fmt: skip


def host_env(extra: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a program the harness starts on the host: the allow-list, LC_*, `extra`."""
    source = os.environ if environ is None else environ
    env = {k: v for k, v in source.items() if k in ALLOWED_ENV or k.startswith("LC_")}
    env.update(extra or {})
    return env


def protected_globs(root: Path, notify_command: Sequence[str] = ()) -> tuple[str, ...]:
    """Globs (relative to the repository root) of everything the harness may execute on the host."""
    # what makes a directory the project's interpreter to init and doctor, and its programs
    found = [g for name in PROJECT_ENVS for g in (f"{name}/pyvenv.cfg", f"{name}/bin/**", f"{name}/Scripts/**")]
    for rel in _inside(root, notify_command):
        found += [rel, f"{rel}/**"]
    return tuple(dict.fromkeys(found))


def _inside(root: Path, argv: Iterable[str]) -> list[str]:
    """The arguments that name a path inside the repository (existing or not: a run could create it)."""
    real_root = os.path.realpath(root)
    out = []
    for arg in argv:
        if not arg or arg.startswith("-") or ("/" not in arg and not (root / arg).exists()):
            continue
        full = os.path.realpath(arg if os.path.isabs(arg) else os.path.join(real_root, arg))
        if full != real_root and full.startswith(real_root + os.sep):
            out.append(Path(os.path.relpath(full, real_root)).as_posix())
    return out
