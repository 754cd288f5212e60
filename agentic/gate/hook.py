"""`agentic gate`: the contract's invariants on the working tree or the staged change, outside a run.

A change made by a person must pass the same contract as one made by an agent, so this builds the
same `gate.Candidate` a run's gate builds (a clean checkout of one git tree, the changes and added
lines relative to a base, the base's test count) and hands it to the same `gate.evaluate`.

    working tree  the tree `git add -A` would make, built in a temporary index (the person's own
                  index is never touched): tracked edits, deletions and untracked-but-not-ignored files
    --staged      `git write-tree` of the real index: exactly what `git commit` would record

Both are compared with HEAD (the empty tree in a repository without commits). The verdict depends
only on the two trees, the contract and the harness, so it is cached under `.agentic/gate-cache/`
by a key of exactly those: an unchanged tree is answered from the cache without running anything.
Only a verdict every command reached on its own is cached; a timeout, a refusal, a command not found
or a signal may go another way next time, so such a verdict is reported but never stored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from agentic.config.settings import DEFAULT_CONTRACT, Settings, load_settings
from agentic.errors import UsageError, WorkspaceError
from agentic.gate.cache import cache_get, cache_key, cache_put
from agentic.gate.checks import (
    Baseline,
    Candidate,
    CheckResult,
    Verdict,
    count_tests,
    evaluate,
    runs_commands,
)
from agentic.gate.counting import src_packages
from agentic.gate.printer import Printer as Printer
from agentic.gate.result import FORMAT_VERSION, GateRequest, GateResult
from agentic.gate.result import write_reports as write_reports
from agentic.git.cmd import git, run_git, run_git_bytes
from agentic.git.staging import Skipped, stage
from agentic.policy.contract import Contract, command_env, load_contract
from agentic.sandbox import REFUSED_EXIT, CommandResult, Sandbox, make_sandbox, program_envs, require_sandbox
from agentic.workspace import (
    ADDED_LINES,
    NAME_STATUS,
    STATE_DIR,
    Workspace,
    ensure_excluded,
    parse_added_lines,
    parse_name_status,
)

GATE_TIMEOUT_S = 600.0  # per command, as in a run's gate; never past the contract's timeout_s
BWRAP_ERROR = "bwrap: "  # a sandbox that could not start (a run-once bubblewrap exits 1 with it)
CANDIDATE_AUTHOR = {"GIT_AUTHOR_NAME": "agentic", "GIT_AUTHOR_EMAIL": "agentic@localhost",
                    "GIT_COMMITTER_NAME": "agentic", "GIT_COMMITTER_EMAIL": "agentic@localhost"}  # fmt: skip


# --- the repository and the contract ---------------------------------------------------------------


@dataclass(frozen=True)
class Repo:
    root: Path
    index: Path  # the real index (GIT_INDEX_FILE when git hands the hook another one)
    head: str | None
    head_tree: str | None


def locate(start: Path) -> Repo:
    """The repository around `start`, in one git call when HEAD exists (the cached path is timed)."""
    if not start.is_dir():
        raise UsageError(f"{start} is not a directory")
    done = run_git(["rev-parse", "--show-toplevel", "--git-path", "index", "HEAD", "HEAD^{tree}"], start)
    lines = done.stdout.splitlines()
    head = head_tree = None
    if done.returncode == 0 and len(lines) == 4:
        head, head_tree = lines[2], lines[3]
    else:  # no commit yet, or not a repository at all
        done = run_git(["rev-parse", "--show-toplevel", "--git-path", "index"], start)
        lines = done.stdout.splitlines()
        if done.returncode != 0 or len(lines) != 2:
            why = done.stderr.strip().removeprefix("fatal: ")
            raise UsageError(f"{start} is not inside a git working tree ({why})", hint="run `git init` first")
    root, index = Path(lines[0]), start / lines[1]  # --git-path answers relative to `start`
    inherited = os.environ.get("GIT_INDEX_FILE")  # git sets it for hooks (`git commit -a`, `git commit FILE`)
    return Repo(root, Path(inherited).absolute() if inherited else index, head, head_tree)


def load_gate_contract(root: Path, ref: str | None) -> tuple[Settings, Contract, list[str]]:
    """Settings and the contract they name, as `agentic run` finds them (the `default` preset when the
    repository has no contract file and none is configured), plus notes to show the person."""
    settings = load_settings(root, {"contract": ref})
    chosen, notes = settings.contract, []
    unset = settings.origins.get("contract") == "default"
    if chosen == DEFAULT_CONTRACT and unset and not (root / chosen).is_file():
        chosen = "default"
        notes.append(f"no {DEFAULT_CONTRACT} in this repository: using the shipped `default` contract")
    return settings, load_contract(chosen, root), notes


def chosen_checks(contract: Contract, only: tuple[str, ...], skip: tuple[str, ...], notes: list[str]) -> Contract:
    """The contract with only the checks --only names, less those --skip names (a note says which were
    left out); UsageError for an id the contract does not have, or when no check is left."""
    ids = [inv.id for inv in contract.invariants]
    for wanted in (*only, *skip):
        if wanted not in ids:
            raise UsageError(f"the contract has no check {wanted!r}", hint=f"its checks: {', '.join(ids)}")
    kept = [inv for inv in contract.invariants if (not only or inv.id in only) and inv.id not in skip]
    if not kept:
        raise UsageError("no check is left to run", hint=f"the contract's checks: {', '.join(ids)}")
    left_out = [i for i in ids if i not in {inv.id for inv in kept}]
    if left_out:
        notes.append(f"not checked (--only/--skip): {', '.join(left_out)}")
    return dataclasses.replace(contract, invariants=tuple(kept))


def bound(contract: Contract, whom: str, notes: list[str]) -> Contract:
    """The contract's invariants that bind `whom`; a note names those that bind only the other."""
    kept = contract.binding(whom)
    others = [i.id for i in contract.invariants if i not in kept.invariants]
    if others:
        other = "an agent" if whom == "person" else "a person"
        notes.append(f"not checked for {'a person' if whom == 'person' else 'an agent'}'s change (they bind {other} "
                     f"only): {', '.join(others)}")  # fmt: skip
    return kept


# --- the candidate tree ------------------------------------------------------------------------------


def working_tree(repo: Repo) -> tuple[str, list[Skipped]]:
    """The tree of the working tree, every change staged (as `git add -A` would, .agentic/ excluded by
    ensure_excluded), built in a temporary copy of the index.

    Copying the real index (rather than starting from `read-tree HEAD`) keeps its stat data, so git
    re-hashes only files that changed, and keeps what the person staged and sparse-checkout entries.
    Staged as a run's snapshot is (agentic.git.staging), not by `git add`, which dies on a file it
    must read again and cannot convert to its `working-tree-encoding` (sphinx ships one on purpose):
    a touched file, or one checked out in the second the index was written, as in a fresh CI clone.
    Also returns the paths that cannot be staged at all (unreadable, a FIFO): left as the index has them.
    """
    with tempfile.TemporaryDirectory(prefix="gate-index-", dir=repo.root / STATE_DIR) as tmp:
        index = Path(tmp) / "index"
        env = {"GIT_INDEX_FILE": str(index)}
        if repo.index.is_file():
            shutil.copy2(repo.index, index)  # its time too: git trusts no entry as new as the index (racy git)
        elif repo.head is not None:
            git(["read-tree", "HEAD"], repo.root, env=env)

        def text(args: list[str], *, input: str | None = None, check: bool = True) -> str:
            return git(args, repo.root, env=env, check=check, input=input)

        def data(args: list[str], input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
            return run_git_bytes(args, repo.root, env=env, input=input)

        skipped = stage(text, data, repo.root, [])
        return git(["write-tree"], repo.root, env=env).strip(), skipped


def staged_tree(repo: Repo) -> str:
    """`git write-tree` of the real index: what the next commit would record."""
    done = run_git(["write-tree"], repo.root, env={"GIT_INDEX_FILE": str(repo.index)})
    if done.returncode != 0:
        raise UsageError(f"the staged change cannot be gated: {done.stderr.strip().removeprefix('error: ')}",
                         hint="resolve the conflicts and stage the result first")  # fmt: skip
    return done.stdout.strip()


def empty_tree(root: Path) -> str:
    return git(["hash-object", "-t", "tree", "-w", "--stdin"], root, input="").strip()


# --- evaluation --------------------------------------------------------------------------------------


@dataclass
class Watch:
    """Whether every command the gate ran ended on its own, so that its verdict may be cached.

    Not on its own: a timeout; exit 126 (the sandbox refused to start it), 127 (not found), 128+N or a
    negative status (killed by signal N); bubblewrap's own error before the command started.
    """

    clean: bool = True

    def note(self, result: CommandResult) -> None:
        code = result.exit_code
        killed = result.timed_out or code is None or code < 0 or code >= REFUSED_EXIT
        if killed or result.output.startswith(BWRAP_ERROR):
            self.clean = False


@dataclass
class WatchedSandbox:
    """A sandbox that reports each command's ending to a Watch."""

    inner: Sandbox
    watch: Watch
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.inner.name

    @property
    def where(self) -> str | None:
        return getattr(self.inner, "where", None)

    def run(self, argv: list[str], *, timeout_s: float, max_output_bytes: int = 60_000, stdin: bytes | None = None,
            split_stderr: bool = False, attached: bool = False) -> CommandResult:  # fmt: skip
        result = self.inner.run(argv, timeout_s=timeout_s, max_output_bytes=max_output_bytes, stdin=stdin,
                                split_stderr=split_stderr, attached=attached)  # fmt: skip
        self.watch.note(result)
        return result

    def close(self) -> None:
        self.inner.close()


@dataclass
class Evaluation:
    """One cold gate: a clean checkout of the candidate, the base's test counts, the contract's checks."""

    root: Path
    contract: Contract
    head: str | None
    sandbox_for: Callable[[Path], Sandbox] | None
    timeout_s: float
    watch: Watch = field(default_factory=Watch)
    base_counts: dict[tuple[str, ...], Baseline] = field(default_factory=dict)

    @cached_property
    def workspace(self) -> Workspace:
        """One for the gate: its checkouts (base and candidate) share what it found once (generated files)."""
        return Workspace(self.root, "gate", self.head or "", self.contract.generated)

    def sandbox(self, root: Path) -> Sandbox | None:
        return WatchedSandbox(self.sandbox_for(root), self.watch) if self.sandbox_for is not None else None

    def base_test_count(self, argv: list[str]) -> int | None:
        """How many tests HEAD collects with this argv (as Session.base_test_count; once per argv)."""
        return self.base_facts(argv).collected

    def base_facts(self, argv: list[str]) -> Baseline:
        """HEAD's run of this test argv: its test count and what it read for configuration (once per argv)."""
        key = tuple(argv)
        if key not in self.base_counts:
            self.base_counts[key] = Baseline(None)
            if self.head is not None and self.sandbox_for is not None:
                with self.workspace.checkout(self.head) as root:
                    sandbox = self.sandbox(root)
                    assert sandbox is not None
                    try:
                        self.base_counts[key] = count_tests(argv, sandbox, root, min(300.0, self.timeout_s),
                                                            src_packages(root))  # fmt: skip
                    finally:
                        sandbox.close()
        return self.base_counts[key]

    def run(self, tree: str, base_tree: str, changes: list[tuple[str, str]],
            on_check: Callable[[CheckResult], None] | None) -> Verdict:  # fmt: skip
        added = parse_added_lines(git([*ADDED_LINES, base_tree, tree], self.root))
        if not runs_commands(self.contract):  # nothing runs: the checks read the change itself
            cand = Candidate(self.root, changes, added, base=self.head)
            return evaluate(self.contract, cand, None, timeout_s=self.timeout_s, on_check=on_check)
        parents = ["-p", self.head] if self.head else []
        commit = git(["commit-tree", tree, *parents, "-m", "agentic: gate candidate"], self.root,
                     env=CANDIDATE_AUTHOR).strip()  # fmt: skip
        with self.workspace.checkout(commit) as root:
            sandbox = self.sandbox(root)
            try:
                cand = Candidate(root, changes, added, baseline=self.base_test_count, base=self.head,
                                 base_facts=self.base_facts)  # fmt: skip
                return evaluate(self.contract, cand, sandbox, timeout_s=self.timeout_s, on_check=on_check)
            finally:
                if sandbox is not None:
                    sandbox.close()


def run_gate(req: GateRequest, on_check: Callable[[CheckResult], None] | None = None) -> GateResult:
    """Gate the working tree or the staged change; answer from the cache when it holds the verdict.

    Raises UsageError / ConfigError (bad repository or contract) and SandboxUnavailable (commands
    cannot be isolated and --unsafe-no-sandbox was not given), all exit 2. A git failure is raised as
    a UsageError too: exit 1 must keep meaning "a check failed", never "the gate could not run".
    """
    try:
        return _gate(req, on_check)
    except WorkspaceError as exc:
        raise UsageError(f"the gate could not run: {exc.message}", hint=exc.hint) from None


def _gate(req: GateRequest, on_check: Callable[[CheckResult], None] | None) -> GateResult:
    started = time.monotonic()
    repo = locate(req.repo)
    settings, contract, notes = load_gate_contract(repo.root, req.contract)
    contract = bound(chosen_checks(contract, req.only, req.skip, notes), req.binding, notes)
    ensure_excluded(repo.root)  # the temporary index and the cache live in .agentic/: never in the tree
    (repo.root / STATE_DIR).mkdir(exist_ok=True)
    if req.staged:
        tree = staged_tree(repo)
    else:
        tree, skipped = working_tree(repo)
        notes += [f"not part of the change (left as the index has it): {s.path}: {s.why}" for s in skipped]
    base_tree = repo.head_tree or empty_tree(repo.root)
    key = cache_key(tree, base_tree, contract, settings, req.unsafe_no_sandbox, repo.root)
    result = GateResult(Verdict(), "staged" if req.staged else "working-tree", tree, repo.head, base_tree, [],
                        contract, key, cached=False, evaluated_at=time.time(), duration_s=0.0, notes=notes,
                        unsafe_no_sandbox=req.unsafe_no_sandbox)  # fmt: skip
    hit = cache_get(repo.root, key) if req.use_cache else None
    if hit is not None:
        result.verdict, result.cached = Verdict.from_dict(hit["verdict"]), True
        result.changes, result.evaluated_at = [(s, p) for s, p in hit["changes"]], float(hit["evaluated_at"])
    else:
        result.changes = parse_name_status(git([*NAME_STATUS, base_tree, tree], repo.root))
        evaluation = Evaluation(repo.root, contract, repo.head, _sandbox_factory(contract, settings, req),
                                min(GATE_TIMEOUT_S, contract.limits.timeout_s))  # fmt: skip
        result.verdict = evaluation.run(tree, base_tree, result.changes, on_check)
        result.cacheable = evaluation.watch.clean
        if result.cacheable:  # --no-cache skips the look-up; the fresh verdict still replaces the stored one
            _store(repo.root, result)
    result.duration_s = time.monotonic() - started
    return result


def _sandbox_factory(
    contract: Contract, settings: Settings, req: GateRequest
) -> Callable[[Path], Sandbox] | None:
    """Sandboxes for the checkouts, as a run's gate gets them; None when no check runs a command.

    Fails (SandboxUnavailable) before any checkout is made when commands cannot be isolated here.
    """
    if not runs_commands(contract):
        return None
    fallback = settings.sandbox == "auto"
    if not req.unsafe_no_sandbox:
        require_sandbox(fallback=fallback)
    variables = command_env(contract)
    shown = program_envs(contract.test_command)
    return lambda root: make_sandbox(root, [], fallback=fallback, unsafe=req.unsafe_no_sandbox, env=variables,
                                     expose=shown)  # fmt: skip


def _store(root: Path, result: GateResult) -> None:
    entry = {"version": FORMAT_VERSION, "key": result.key, "tree": result.tree, "base_tree": result.base_tree,
             "contract": result.contract.hash_ref, "verdict": result.verdict.to_dict(),
             "changes": result.changes, "evaluated_at": result.evaluated_at}  # fmt: skip
    with contextlib.suppress(OSError):  # a cache that cannot be written costs time, not correctness
        cache_put(root, result.key, entry)
