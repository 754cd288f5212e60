"""Landlock through raw syscalls (ctypes): the filesystem and network rules of the fallback sandbox.

Landlock is an allow-list: once a ruleset is enforced, a process may only use the access rights
granted beneath the directories (and files) named in its rules; the rest of the filesystem is out
of reach for every access type the ruleset handles, whatever the file permissions say. Path lookup
itself is never restricted, so granting `/a/b/c` works while `/a` stays closed.

From ABI 4 TCP bind/connect are handled too (no rule grants them, so both are refused); from
ABI 6 abstract Unix sockets and signals are scoped to the sandbox's own processes.

The ruleset is built in the parent (`Ruleset`), and the child only calls `restrict_self` in its
preexec function after no_new_privs is set.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat
from functools import cache
from pathlib import Path

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446  # the same on every architecture
CREATE_RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH, RULE_NET_PORT = 1, 2
PR_SET_NO_NEW_PRIVS = 38

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

READ = EXECUTE | READ_FILE | READ_DIR
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # the only rights a file rule may hold

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]  # fmt: skip


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


@cache
def abi_version() -> int:
    """The Landlock ABI this kernel offers; 0 when Landlock is missing or disabled."""
    version = _syscall(ctypes.c_long(SYS_CREATE_RULESET), None, ctypes.c_size_t(0),
                       ctypes.c_uint32(CREATE_RULESET_VERSION))  # fmt: skip
    return max(0, int(version))


def handled_fs(abi: int) -> int:
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


class Ruleset:
    """A Landlock ruleset under construction; `fd` is what the child passes to restrict_self."""

    def __init__(self, abi: int | None = None, network: bool = False) -> None:
        self.abi = abi_version() if abi is None else abi
        if self.abi < 1:
            raise OSError("Landlock is not available on this kernel")
        self.fs = handled_fs(self.abi)
        # TCP handled (so refused: no rule allows a port) unless the network is granted
        attr = _RulesetAttr(self.fs, NET_BIND_TCP | NET_CONNECT_TCP if self.abi >= 4 and not network else 0,
                            SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if self.abi >= 6 else 0)  # fmt: skip
        size = 8 if self.abi < 4 else 16 if self.abi < 6 else 24
        fd = _syscall(
            ctypes.c_long(SYS_CREATE_RULESET), ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0)
        )
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"landlock_create_ruleset: {os.strerror(err)}")
        self.fd = int(fd)

    def allow(self, path: Path | str, access: int) -> bool:
        """Grant `access` beneath `path` (a directory) or on it (a file). False when it is missing."""
        try:
            target = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            if not stat.S_ISDIR(os.fstat(target).st_mode):
                access &= FILE_RIGHTS
            rule = _PathBeneath(access & self.fs, target)
            done = _syscall(ctypes.c_long(SYS_ADD_RULE), ctypes.c_int(self.fd), ctypes.c_int(RULE_PATH_BENEATH),
                            ctypes.byref(rule), ctypes.c_uint32(0))  # fmt: skip
            if done != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"landlock_add_rule({path}): {os.strerror(err)}")
        finally:
            os.close(target)
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def restrict_self(fd: int) -> None:
    """Set no_new_privs and enforce the ruleset on the calling process (for a preexec function)."""
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(err)}")
    if _syscall(ctypes.c_long(SYS_RESTRICT_SELF), ctypes.c_int(fd), ctypes.c_uint32(0)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock_restrict_self: {os.strerror(err)}")


def readable_except(hidden: list[str], root: str = "/") -> list[str]:
    """Paths whose hierarchies together cover everything under `root` except the `hidden` ones.

    Descends only along the hidden paths; symbolic links are left out (their targets are covered
    at their real place, or hidden there).
    """
    hidden_set = {os.path.normpath(h) for h in hidden}

    def contains_hidden(path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        return any(h.startswith(prefix) for h in hidden_set)

    out: list[str] = []

    def visit(path: str) -> None:
        if path in hidden_set:
            return
        if not contains_hidden(path):
            out.append(path)
            return
        try:
            entries = list(os.scandir(path))
        except OSError:
            return
        for entry in entries:
            if not entry.is_symlink():
                visit(entry.path)

    visit(os.path.normpath(root))
    return out
