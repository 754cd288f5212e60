"""The reports a test run writes for the gate: where (a fresh directory, as the sandbox sees it) and
how they are read (never through a link, never blocking, never larger than a cap), JUnit XML or JSON."""

from __future__ import annotations

import json
import os
import stat
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentic.sandbox import Sandbox


@dataclass
class Totals:
    """What a test run's report says."""

    tests: int
    failures: int
    errors: int
    skipped: int


REPORT_MAX_BYTES = 64 * 1024 * 1024


def read_report(path: Path, max_bytes: int = REPORT_MAX_BYTES) -> bytes | None:
    """A report the tested process wrote, or None: only a regular file no larger than max_bytes is
    read, never through a link, never blocking (the code under test may swap it for a FIFO, a
    device, a link to /dev/zero or a huge file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return None
        data = fh.read(max_bytes + 1)
    return data if len(data) <= max_bytes else None


def read_junit(path: Path) -> Totals | None:
    """Totals of a JUnit XML report, or None when it is missing or unreadable."""
    data = read_report(path)
    return parse_junit(data) if data is not None else None


def parse_junit(data: bytes) -> Totals | None:
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    if not suites:
        return None
    total = Totals(0, 0, 0, 0)
    for suite in suites:
        for field_name in ("tests", "failures", "errors", "skipped"):
            try:
                value = int(suite.get(field_name, "0") or 0)
            except ValueError:
                return None
            setattr(total, field_name, getattr(total, field_name) + value)
    return total


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object a test program wrote, or None (missing, too big, not JSON, not an object)."""
    raw = read_report(path)
    try:
        data = json.loads(raw.decode("utf-8")) if raw is not None else None
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def read_json_report(path: Path) -> dict[str, int] | None:
    """A report of totals: a JSON object whose every value is an integer, or None."""
    data = read_json_object(path)
    return data if data is not None and all(isinstance(v, int) for v in data.values()) else None


def report_dir(root: Path) -> Path:
    """A fresh directory, named by the harness, where a test run writes its report."""
    path = root / f".agentic-report-{uuid.uuid4().hex}"
    path.mkdir()
    path.chmod(0o777)  # the sandboxed command may run as an unprivileged user
    return path


def seen(sandbox: Sandbox, root: Path, path: Path) -> str:
    """`path` (under the checkout `root`) as the sandboxed command sees it: the sandbox may show the
    checkout at the repository's own path (BubblewrapSandbox.where)."""
    where = getattr(sandbox, "where", None)
    if not where:
        return str(path)
    return os.path.normpath(os.path.join(where, os.path.relpath(os.path.realpath(path), os.path.realpath(root))))
