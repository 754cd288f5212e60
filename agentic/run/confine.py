"""What a run's commands may touch: whether the run needs a sandbox, and the worktree's paths bound
read-only (protected by the contract) or masked (denied to read_file) inside it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from agentic.policy.contract import Contract
from agentic.util import globs, paths

COMMAND_TOOLS = ("run_tests", "run_command")
MAX_READONLY_BINDS = 50  # each bind costs ~0.3 ms per command


def needs_sandbox(contract: Contract) -> bool:
    uses_tools = any(
        (rule := contract.tools.get(name)) is not None and (rule.allow or rule.ask) for name in COMMAND_TOOLS
    )
    return uses_tools or bool(contract.hooks) or any(inv.kind in ("command", "tests") for inv in contract.invariants)


def protected_paths(worktree: Path, contract: Contract) -> list[Path]:
    """Existing paths of the worktree that the contract protects: bound read-only for commands.

    A protected directory is bound whole (nothing can be created inside it either). Past
    MAX_READONLY_BINDS the rest stay writable for commands; the gate's protected_unchanged check
    and the clean-checkout gate still catch changes to them.
    """
    return _matching(worktree, lambda rel: globs.match_any(contract.protected, rel) is not None)


def secret_globs(contract: Contract) -> tuple[str, ...]:
    """The globs the contract denies to read_file (`deny: true` names no file: nothing to mask)."""
    rule = contract.tools.get("read_file")
    deny = rule.deny if rule is not None else ()
    return tuple(deny) if isinstance(deny, (list, tuple)) else ()


def unreadable_paths(worktree: Path, contract: Contract) -> list[Path]:
    """Existing paths of the worktree that the contract denies to read_file (`.env*`): masked for
    commands, so a shell `cat` shows nothing of them either."""
    secret = secret_globs(contract)
    return _matching(worktree, lambda rel: globs.match_any(secret, rel) is not None) if secret else []


def _matching(worktree: Path, hit: Callable[[str], bool]) -> list[Path]:
    """The worktree's paths `hit` selects (a selected directory stands for everything in it)."""
    found: list[Path] = []
    for top, dirs, files in paths.walk_dirs(worktree):
        rel_top = Path(top).relative_to(worktree)
        keep = []
        for name in sorted(dirs):
            if name == ".git":
                continue
            if hit((rel_top / name).as_posix()):
                found.append(Path(top) / name)
            else:
                keep.append(name)
        dirs[:] = keep
        found.extend(Path(top) / name for name in sorted(files) if hit((rel_top / name).as_posix()))
        if len(found) >= MAX_READONLY_BINDS:
            return found[:MAX_READONLY_BINDS]
    return found
