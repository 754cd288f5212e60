"""What one run holds open, owned by one object that closes it in order.

Opened in this order and closed the other way round (an ExitStack): the worktree, the traces, the
run's sandbox, the rate limiter, the journal, the run database. Closing ends with the worktree,
which goes once the run is over (accepted or rejected) and stays for a resume otherwise; a run
that fails before its journal exists leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

from agentic.errors import ResumeRefused
from agentic.git import submodules
from agentic.journal import anchor
from agentic.journal.records import Journal
from agentic.journal.store import SQLiteStore
from agentic.models.ratelimit import RateLimiter, rate_for
from agentic.observe import telemetry
from agentic.policy.contract import Contract
from agentic.policy.contract import command_env as contract_env
from agentic.policy.mcpservers import switch_keys
from agentic.run.confine import needs_sandbox, protected_paths, secret_globs, unreadable_paths
from agentic.run.request import Ending, RunRequest, new_run_id
from agentic.sandbox import (
    Sandbox,
    hostexec,
    kill_sandboxes,
    make_sandbox,
    program_envs,
    require_sandbox,
    sandbox_identity,
)
from agentic.tools.mcp import McpHub, McpTool
from agentic.util.redact import Redactor
from agentic.workspace import Workspace, exclude_state_dir


def run_contract(req: RunRequest) -> Contract:
    """The request's contract, plus what is read-only for every run: submodules (never its change)
    and what the harness runs on the host (the notify command)."""
    command = (req.settings.notify or {}).get("command") or ()
    always = (*submodules.protected_globs(submodules.recorded(req.repo.root, req.base_commit)),
              *hostexec.protected_globs(req.repo.root, command))  # fmt: skip
    return dataclasses.replace(req.contract, protected=(*req.contract.protected, *always))


class RunResources:
    """The run's worktree, sandbox, journal, run database and rate limiter, from `with` to its end."""

    sandbox: Sandbox | None  # bound to the worktree, kept up for the run (None: no command runs)
    limiter: RateLimiter | None  # the provider's shared rate (None: no limit set)
    journal: Journal
    store: SQLiteStore

    def __init__(self, req: RunRequest) -> None:
        """The run's decisions, nothing created yet; raises when no sandbox can isolate its commands."""
        self.req = req
        self.sandboxed = needs_sandbox(req.contract)
        self.fallback = req.settings.sandbox == "auto"
        if self.sandboxed and not req.unsafe_no_sandbox:
            require_sandbox(fallback=self.fallback)  # fail before anything is created
        self.variables = contract_env(req.contract)  # so does a variable the contract may not pass
        self.contract = run_contract(req)
        self.exposed = program_envs(self.contract.test_command)  # shown to each of the run's sandboxes
        exclude_state_dir(req.repo.root, req.repo.common)  # find_repo checked the state dir
        self.run_id = req.tape.run_id if req.resuming and req.tape is not None else new_run_id()
        self.workspace = Workspace(req.repo.root, self.run_id, req.base_commit, req.contract.generated)
        self.redact = Redactor.for_repository(req.repo.root)
        self.ending: Ending | None = None  # set when the run ends; the worktree follows it
        self._journaled = False
        self._stack = ExitStack()

    def __enter__(self) -> RunResources:
        req = self.req
        if req.resuming:
            if not self.workspace.path.is_dir():
                raise ResumeRefused(f"the worktree of run {self.run_id} is gone ({self.workspace.path})",
                                    hint=f"start again from its journal with: agentic fork {self.run_id} --from-step N")  # fmt: skip
        else:
            self.workspace.create()
            if req.start_tree is not None:
                self.workspace.restore(req.start_tree)
        with ExitStack() as stack:  # what is open so far, closed if the rest fails to open
            stack.callback(self._leave_worktree)
            trace = telemetry.listener()  # OpenTelemetry spans, when the extra is installed and the environment asks
            if trace is not None:
                stack.callback(trace.close)
            self.sandbox = self.sandbox_for(self.workspace.path) if self.sandboxed else None
            if self.sandbox is not None:
                stack.callback(self.sandbox.close)
            self.limiter = self._rate_limiter()
            if self.limiter is not None:
                stack.callback(self.limiter.close)
            self.mcp: McpHub | None = None
            if not req.resuming:  # before the journal: a server that does not start leaves nothing behind
                self.connect_mcp(stack)
            self.journal = Journal(req.repo.state_dir / "runs" / self.run_id, self.run_id, self.redact,
                                   telemetry.chain(req.on_record, trace))  # fmt: skip
            self._journaled = True
            try:
                self.store = SQLiteStore(req.repo.state_dir / "agentic.db")
            except BaseException:
                self.journal.close()
                raise
            stack.callback(self.store.close)
            stack.callback(self.journal.close)  # first: closing anchors its last records in the store
            self.journal.on_head = anchored = anchor.recorder(self.store, self.run_id)  # every head from now on, signed
            # the current head: the journal resumed, or the empty chain before run.start (a kill between
            # writing run.start and anchoring it then leaves one record past the anchor, as any append can)
            anchored(self.journal.seq, self.journal.prev)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stack.close()

    def sandbox_for(self, root: Path, readonly: bool = True) -> Sandbox:
        """The worktree's sandbox (protected paths read-only, kept up for the run) or a checkout's."""
        contract = self.contract
        ro = protected_paths(root, contract) if readonly else []
        return make_sandbox(root, ro, fallback=self.fallback, unsafe=self.req.unsafe_no_sandbox, persistent=readonly,
                            env=self.variables, hidden=unreadable_paths(root, contract),
                            secret=secret_globs(contract), expose=self.exposed)  # fmt: skip

    def hook_sandbox(self, write: bool) -> Sandbox | None:
        """A one-off sandbox of the worktree for a hook: read-only unless the hook may write (None
        when the run has no sandbox)."""
        if self.sandbox is None:
            return None
        root, contract = self.workspace.path, self.contract
        return make_sandbox(root, protected_paths(root, contract), fallback=self.fallback,
                            unsafe=self.req.unsafe_no_sandbox, env=self.variables,
                            hidden=unreadable_paths(root, contract), secret=secret_globs(contract),
                            read_only=not write, beside_run=True, expose=self.exposed)  # fmt: skip

    def checkout_sandbox(self) -> Callable[[Path], Sandbox] | None:
        """How the gate isolates a checkout's commands (None when the run has no sandbox)."""
        return (lambda root: self.sandbox_for(root, readonly=False)) if self.sandbox is not None else None

    def checkout_identity(self) -> str | None:
        """What the gate's checkout sandboxes show a command besides the checkout (None: no sandbox,
        or one whose view can change under the run: sandbox_identity)."""
        if self.sandbox is None:
            return None
        return sandbox_identity(self.req.repo.root, fallback=self.fallback, unsafe=self.req.unsafe_no_sandbox,
                                env=self.variables, secret=secret_globs(self.contract),
                                expose=self.exposed)  # fmt: skip

    def restore(self, tree: str) -> None:
        """Make the worktree that tree again."""
        self.workspace.restore(tree)
        if self.sandbox is not None:
            self.sandbox.close()  # files it bound read-only may have been replaced: the next command binds afresh

    def connect_mcp(self, stack: ExitStack | None = None) -> list[McpTool]:
        """Start the contract's MCP servers, once: a new run's as its resources open, a resumed run's
        after its leftovers are cleared (their sandboxes bind the worktree too); their tools. They
        are closed with the run's other resources."""
        servers = self.contract.mcp_servers
        if self.mcp is not None or not servers:
            return self.mcp.tools if self.mcp is not None else []
        self.mcp = McpHub(servers, self.workspace.path, fallback=self.fallback, source=self.contract.source,
                          lifetime_s=self.contract.limits.timeout_s or 3600.0).__enter__()  # fmt: skip
        (stack or self._stack).callback(self.mcp.close)
        return self.mcp.tools

    def tool_switch(self, tool: str) -> dict[str, Any] | None:
        """The kill switch of a tool: its own, or for an MCP tool its server's (`mcp__SERVER__*`) or all MCP's."""
        for key in switch_keys(tool):
            if (switched := self.store.tool_switch(key)) is not None:
                return switched
        return None

    def kill_commands(self) -> None:
        kill_sandboxes([os.path.realpath(self.workspace.path)])

    def _rate_limiter(self) -> RateLimiter | None:
        rate = rate_for(self.req.model.name, self.req.settings.rate_limits)
        if rate is None:
            return None
        return RateLimiter(self.req.rate_db or self.req.repo.state_dir / "ratelimits.db", rate, book=self.req.rate_book)

    def _leave_worktree(self) -> None:
        if self.ending is not None:
            if self.ending.ended:
                self.workspace.remove(keep_branch=self.ending.commit is not None)
        elif not self._journaled and not self.req.resuming:
            self.workspace.remove(keep_branch=False)  # nothing of a run that never started stays behind
