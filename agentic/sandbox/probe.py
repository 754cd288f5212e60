"""Finding a bubblewrap set-up that works on this machine (probed once per kind)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache

from agentic.sandbox.users import NOBODY


@dataclass(frozen=True)
class BwrapSetup:
    """A bubblewrap invocation that was probed to work here."""

    path: str
    flags: tuple[str, ...]  # namespaces and capabilities
    user_prefix: tuple[str, ...]  # setpriv … -- when dropping to run_as inside
    run_as: tuple[int, int] | None

    def user_for(self, run_as: tuple[int, int] | None) -> tuple[str, ...]:
        """The setpriv prefix that drops to `run_as` (empty: no drop)."""
        if not self.user_prefix or run_as is None:
            return ()
        return (self.user_prefix[0], f"--reuid={run_as[0]}", f"--regid={run_as[1]}", "--clear-groups",
                "--inh-caps=-all", "--")  # fmt: skip


@cache
def _probe_bwrap(drop: bool) -> tuple[BwrapSetup | None, str]:
    """A working bubblewrap set-up: `drop` = as root, switch to 65534 inside (needs setpriv)."""
    path = shutil.which("bwrap")
    if path is None:
        return None, "bubblewrap (bwrap) is not installed"
    root = os.geteuid() == 0
    variants: list[tuple[tuple[str, ...], tuple[str, ...], tuple[int, int] | None]] = []
    if drop and root:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            return None, "setpriv (util-linux) is not installed"
        uid, gid = NOBODY
        # Real root does the mounts (so it can bind what lives under /root), then keeps only the
        # two capabilities setpriv needs to become 65534; no user namespace.
        flags = ("--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                 "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID")  # fmt: skip
        user = (setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--inh-caps=-all", "--")
        variants.append((flags, user, NOBODY))
    else:
        base = ("--unshare-all", "--unshare-user", *(("--cap-drop", "ALL") if root else ()))
        variants += [((*base, "--disable-userns"), (), None), (base, (), None)]
    why = ""
    for options, prefix, run_as in variants:
        probe = [path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", *options,
                 "--die-with-parent", "--new-session", "--", *prefix, "true"]  # fmt: skip
        try:
            done = subprocess.run(probe, capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"bubblewrap cannot start: {exc}"
        if done.returncode == 0:
            return BwrapSetup(path, options, prefix, run_as), ""
        why = done.stderr.decode("utf-8", "replace").strip()
    return None, f"bubblewrap cannot create namespaces here: {why}"


def bwrap_for(run_as: tuple[int, int] | None) -> tuple[BwrapSetup | None, str]:
    if run_as is not None and os.geteuid() == 0:
        setup, _ = _probe_bwrap(True)
        if setup is not None:
            return setup, ""
    setup, other = _probe_bwrap(False)
    return setup, other if setup is None else ""
