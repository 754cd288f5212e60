"""`python -m agentic.sandbox.shim SPEC`: one long-lived command, confined as any sandboxed command,
its standard streams this process's own. An MCP server over stdio is started this way: the MCP SDK
spawns the shim and talks to the server through it, and the shim sets up the sandbox (the seccomp
filter, resource limits on the sandbox's init, the drop to the sandbox user) that a plain spawn
could not.

SPEC is JSON: {"argv": [...], "root": the directory the server sees as its working tree (a private
empty one, or the run's worktree), "read_only": bool, "env": {name: value}, "lifetime_s": float,
"fallback": bool (Landlock when bubblewrap is missing), "network": bool (the host's network reachable)}. The shim exits with the server's status;
killed, it takes the server with it (bubblewrap's --die-with-parent).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from agentic.sandbox.levels import make_sandbox


def shim_argv(argv: list[str], root: Path, *, read_only: bool, env: dict[str, str | None], lifetime_s: float,
              fallback: bool = False, network: bool = False, beside_run: bool = False) -> list[str]:  # fmt: skip
    """The command line that runs `argv` confined, attached to the caller's standard streams."""
    spec = {"argv": argv, "root": str(root), "read_only": read_only, "env": env, "lifetime_s": lifetime_s,
            "fallback": fallback, "network": network, "beside_run": beside_run}  # fmt: skip
    return [sys.executable, "-m", "agentic.sandbox.shim", json.dumps(spec)]


def main(args: list[str]) -> int:
    spec: dict[str, Any] = json.loads(args[0])
    sandbox = make_sandbox(Path(spec["root"]), fallback=bool(spec.get("fallback")), env=spec.get("env") or {},
                           read_only=bool(spec.get("read_only", True)), network=bool(spec.get("network")),
                           beside_run=bool(spec.get("beside_run")))  # fmt: skip
    try:
        result = sandbox.run(list(spec["argv"]), timeout_s=float(spec["lifetime_s"]), attached=True)
    finally:
        sandbox.close()
    if result.exit_code is None:
        return 124  # killed at the end of its lifetime
    if result.output:  # the sandbox refused to start it: say why where the caller logs stderr
        sys.stderr.write(result.output)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
