"""What changed between two trees, read from git's own output (`diff-tree`)."""

from __future__ import annotations

NAME_STATUS = ["diff-tree", "-r", "--no-renames", "--name-status", "-z"]  # + base, tree
ADDED_LINES = ["diff-tree", "-p", "--no-ext-diff", "--no-textconv", "-r", "-U0"]  # + base, tree


def parse_name_status(out: str) -> list[tuple[str, str]]:
    """(A/M/D/T, path) for every path that differs, from `git NAME_STATUS base tree` (renames as D + A)."""
    parts = [p for p in out.split("\0") if p]
    return [(parts[i][0], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]


def parse_added_lines(text: str) -> list[tuple[str, str]]:
    """(path, line) for every added line, from `git ADDED_LINES base tree` (what no_secrets reads)."""
    current, out = "", []
    for line in text.splitlines():
        if line.startswith("+++ "):
            current = line[6:] if line.startswith("+++ b/") else line[4:]
        elif line.startswith("+") and not line.startswith("+++"):
            out.append((current, line[1:]))
    return out
