"""Which of the Go modules a checkout needs this machine's module cache holds: the gate's verdict
depends on it (the sandbox builds offline, from that cache), so `go mod download` must make a new
cache key (agentic.gate.cache)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from agentic.sandbox.env import go_module_cache

MAX_SUM_BYTES = 8 << 20  # a go.sum larger than this is read this far
_USE = re.compile(r"^\s*use\s*(?:\(\s*(?P<many>[^)]*)\)|(?P<one>\S+))", re.M)


def go_modules_stamp(root: Path) -> str | None:
    """A digest of which modules the checkout's go.sum files list (its own and those of the modules
    its go.work uses) are in the machine's module cache; None without a go.sum or a module cache."""
    cache = go_module_cache()
    sums = [p for p in (root / d / "go.sum" for d in [".", *_workspace_modules(root)]) if p.is_file()]
    if cache is None or not sums:
        return None
    present = sorted({entry for path in sums for entry in _entries(path) if os.path.exists(_cached(cache, entry))})
    return hashlib.sha256("\n".join(present).encode("utf-8", "surrogateescape")).hexdigest()


def _workspace_modules(root: Path) -> list[str]:
    """The module directories a go.work at the checkout's root uses (relative, inside the checkout)."""
    try:
        text = (root / "go.work").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    text = re.sub(r"//[^\n]*", "", text)
    found = []
    for match in _USE.finditer(text):
        for word in (match.group("many") or match.group("one") or "").split():
            word = word.strip('"`')
            if word and not os.path.isabs(word) and ".." not in Path(word).parts:
                found.append(word)
    return found


def _entries(go_sum: Path) -> set[str]:
    """`module@version` (a module's files) and `module@version/go.mod` (its go.mod only), as go.sum lists
    them; a line whose path or version climbs out (`..`) or is absolute is no module (the file is the
    repository's: what it names is only ever looked up in the module cache)."""
    with open(go_sum, "rb") as fh:
        text = fh.read(MAX_SUM_BYTES).decode("utf-8", "surrogateescape")
    found = set()
    for words in (line.split() for line in text.splitlines()):
        if len(words) == 3 and not words[0].startswith("/") and ".." not in f"{words[0]}/{words[1]}".split("/"):
            found.add(f"{words[0]}@{words[1]}")
    return found


def _cached(cache: str, entry: str) -> str:
    """Where the module cache keeps an entry: cache/download/<module>/@v/<version>.zip, or .mod for a
    go.mod only (module paths and versions escaped as go escapes them: an upper-case letter is `!`
    and the letter in lower case)."""
    module, _, version = entry.partition("@")
    version, _, only_mod = version.partition("/")
    suffix = ".mod" if only_mod == "go.mod" else ".zip"
    return os.path.join(cache, "cache", "download", _escape(module), "@v", _escape(version) + suffix)


def _escape(text: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), text)
