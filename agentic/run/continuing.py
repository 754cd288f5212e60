"""`agentic run --continue RUN "follow-up"`: a new run that goes on from where an earlier one ended.

The new run starts from the earlier run's base commit, its worktree set to the earlier run's final
tree (its commit's, or the worktree as it was left, or the tree its last gate judged), so its change
is the earlier change plus the follow-up, and `agentic apply` brings both. The model is told the
follow-up first, then what came before: the earlier task, how it ended, its last summary, and that
its changes are in place (uncommitted; `git diff` shows them). `run.start` records the parent
(`continued_from`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from agentic.errors import UsageError
from agentic.git.cmd import git
from agentic.journal.tape import Tape
from agentic.workspace import RepoInfo, Workspace
from agentic.workspace.changes import NAME_STATUS, parse_name_status

SUMMARY_CHARS = 2000


@dataclass(frozen=True)
class Continuation:
    run: str  # the earlier run
    status: str  # how it ended
    base_commit: str  # its base: the new run's too
    tree: str  # where it ended: the new run's worktree starts as this tree

    def record(self) -> dict[str, str]:
        return {"run": self.run, "status": self.status, "tree": self.tree}


def continue_run(repo: RepoInfo, tape: Tape, follow_up: str) -> tuple[Continuation, str]:
    """Where the run ended, and the new run's task: the follow-up, then what came before it."""
    went_on = continuation(repo, tape)
    base_tree = f"{went_on.base_commit}^{{tree}}"
    changed = [path for _, path in parse_name_status(git([*NAME_STATUS, base_tree, went_on.tree], repo.root))]
    return went_on, follow_up_task(follow_up, tape, changed)


def continuation(repo: RepoInfo, tape: Tape) -> Continuation:
    """Where a run ended, for a run that goes on from there (UsageError if it has not ended)."""
    if tape.status == "running":
        raise UsageError(f"run {tape.run_id} has not ended (it is running, or its harness died)",
                         hint=f"go on with it: agentic resume {tape.run_id}")  # fmt: skip
    tree = final_tree(repo, tape)
    if git(["cat-file", "-t", tree], repo.root, check=False).strip() != "tree":
        raise UsageError(f"the final tree of run {tape.run_id} ({tree[:12]}) is no longer in the repository",
                         hint=f"start from an earlier step instead: agentic fork {tape.run_id} --from-step N")  # fmt: skip
    return Continuation(tape.run_id, tape.status, tape.base_commit, tree)


def final_tree(repo: RepoInfo, tape: Tape) -> str:
    """The run's last state: its commit's tree, its kept worktree, the tree its last gate judged, or its base."""
    if tape.commit is not None and tape.commit.tree:
        return str(tape.commit.tree)
    kept = Workspace(repo.root, tape.run_id, tape.base_commit)
    if kept.path.is_dir():
        return kept.snapshot().tree
    if tape.gates:
        return tape.gates[-1].tree
    return git(["rev-parse", f"{tape.base_commit}^{{tree}}"], repo.root).strip()


def follow_up_task(follow_up: str, tape: Tape, changed: list[str]) -> str:
    """The new run's task: the follow-up, then what came before it."""
    end = tape.ends[-1] if tape.ends else None
    lines = [follow_up.strip(), "",
             f"(This continues run {tape.run_id}, which ended {tape.status}"
             + (f": {end.reason}" if end is not None and end.reason else "") + ".",
             "The worktree starts where it ended: its changes are in place, not committed (`git diff` shows them"
             + (f"; changed: {', '.join(changed[:20])}" + (" …" if len(changed) > 20 else "") if changed else "") + ").",
             f"Its task was: {tape.start.task}"]  # fmt: skip
    if summary := last_summary(tape):
        lines.append(f"Its last summary: {summary[:SUMMARY_CHARS]}")
    lines[-1] += ")"
    return "\n".join(lines)


def last_summary(tape: Tape) -> str:
    """The summary of the run's last `finish` call ("" if it made none)."""
    for recorded in reversed(tape.calls):
        if recorded.call.tool == "finish":
            try:
                args = json.loads(recorded.call.arguments or "{}")
            except json.JSONDecodeError:
                return ""
            return str(args.get("summary", "")) if isinstance(args, dict) else ""
    return ""
