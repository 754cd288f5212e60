"""The agentic CLI with crash-test instrumentation, run as `python tests/crashhook.py ARGS...`.

AGENTIC_CRASH_AFTER=N   SIGKILL the process right after its N-th journal append (0: never)
AGENTIC_CRASH_TORN=1    ...after cutting that last record in half first (a write torn by the crash)
AGENTIC_CRASH_UNANCHORED=1  ...after writing that record, before the run database anchors it
AGENTIC_CRASH_IN_WRITE=N  SIGKILL inside the N-th file write, its temporary file written, not yet renamed
AGENTIC_COUNT_FILE=F    append the idempotency key of every side effect that completed (a write
                        applied, a command run) to F, fsynced, before the harness records its result
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentic.journal import records as journal_module
from agentic.tools import commands, files
from agentic.util import paths

CRASH_AFTER = int(os.environ.get("AGENTIC_CRASH_AFTER", "0"))
CRASH_IN_WRITE = int(os.environ.get("AGENTIC_CRASH_IN_WRITE", "0"))
_writes = 0
TORN = os.environ.get("AGENTIC_CRASH_TORN") == "1"
UNANCHORED = os.environ.get("AGENTIC_CRASH_UNANCHORED") == "1"
COUNT_FILE = os.environ.get("AGENTIC_COUNT_FILE")
_appends = 0


def _count(key: str) -> None:
    if COUNT_FILE:
        fd = os.open(COUNT_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (key + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)


def _die(seq: int, head: str) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _append(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    global _appends
    if UNANCHORED and _appends + 1 == CRASH_AFTER and self.on_head is not None:
        self.on_head = _die  # the record is on disk; its anchor never reaches the database
    record = _original_append(self, *args, **kwargs)
    _appends += 1
    if _appends == CRASH_AFTER:
        if TORN:
            size = self.path.stat().st_size
            line = len(journal_module.canonical(record)) + 1
            os.truncate(self.path, size - line // 2)
        os.kill(os.getpid(), signal.SIGKILL)
    return record


def _counted_plan(original: Any) -> Any:
    def plan(self: Any, args: dict[str, Any], ctx: Any) -> Any:
        planned = original(self, args, ctx)
        apply = planned.apply

        def counted() -> object:
            done = apply()
            _count(ctx.idempotency_key)
            return done

        planned.apply = counted
        return planned

    return plan


def _counted_execute(original: Any) -> Any:
    def execute(self: Any, args: dict[str, Any], ctx: Any) -> Any:
        result = original(self, args, ctx)
        _count(ctx.idempotency_key)
        return result

    return execute


def _write_temp(dir_fd: int, data: bytes, mode: int | None) -> str:
    global _writes
    name = _original_write_temp(dir_fd, data, mode)
    _writes += 1
    if _writes == CRASH_IN_WRITE:
        os.kill(os.getpid(), signal.SIGKILL)
    return name


_original_write_temp = paths._write_temp
paths._write_temp = _write_temp
_original_append = journal_module.Journal.append
journal_module.Journal.append = _append  # type: ignore[method-assign]
for cls in (files.WriteFile, files.EditFile, files.DeleteFile):
    cls.plan = _counted_plan(cls.plan)  # type: ignore[method-assign]
for cls in (commands.RunCommand, commands.RunTests):
    cls.execute = _counted_execute(cls.execute)  # type: ignore[method-assign]

if __name__ == "__main__":
    from agentic.cli.main import main

    sys.argv = ["agentic", *sys.argv[1:]]
    main()
