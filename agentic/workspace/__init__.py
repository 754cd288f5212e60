"""The person's repository and the run's place in it: the repository and its state directory (repo),
the run's git worktree with its snapshots and commits (worktree), the ignored files the build
generates that each checkout gets (generated), what changed between two trees (changes), and bringing an accepted change onto the person's branch (apply).

This module is the package's public surface: other packages import from here.
"""

from __future__ import annotations

from agentic.workspace.apply import APPLY_MARKER as APPLY_MARKER
from agentic.workspace.apply import apply_commit as apply_commit
from agentic.workspace.apply import recover_apply as recover_apply
from agentic.workspace.changes import ADDED_LINES as ADDED_LINES
from agentic.workspace.changes import NAME_STATUS as NAME_STATUS
from agentic.workspace.changes import parse_added_lines as parse_added_lines
from agentic.workspace.changes import parse_name_status as parse_name_status
from agentic.workspace.generated import version_files as version_files
from agentic.workspace.repo import STATE_DIR as STATE_DIR
from agentic.workspace.repo import RepoInfo as RepoInfo
from agentic.workspace.repo import check_state_dir as check_state_dir
from agentic.workspace.repo import ensure_excluded as ensure_excluded
from agentic.workspace.repo import exclude_state_dir as exclude_state_dir
from agentic.workspace.repo import find_repo as find_repo
from agentic.workspace.repo import who as who
from agentic.workspace.worktree import Snapshot as Snapshot
from agentic.workspace.worktree import Workspace as Workspace
