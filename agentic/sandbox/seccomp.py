"""The seccomp filter every sandboxed command runs under, built with libseccomp (through pyseccomp).

The filter allows everything except a short deny-list: new sockets (socket pairs stay allowed, so
asyncio, multiprocessing pipes and pytest keep working), io_uring (which can open sockets and files
without the syscalls below), ptrace and cross-process memory access, the kernel keyring, BPF,
perf events, userfaultfd, and every way to make or enter namespaces and mounts. `socket()` for
AF_INET/AF_INET6 fails with ENETUNREACH ("Network is unreachable", the same answer an empty network
namespace gives); every other family, AF_UNIX included, fails with EPERM.

The program is compiled once per process into classic BPF. Bubblewrap reads it from a pipe
(`--seccomp FD`); the Landlock fallback loads it itself in the child with prctl. When libseccomp or
pyseccomp is missing, `program()` returns None and `status()` says why: the sandbox still works,
and reports that seccomp is off.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import tempfile
from collections.abc import Callable
from functools import cache
from typing import Any

# Always refused with EPERM. Names unknown to this kernel's libseccomp are skipped.
DENIED = (
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "keyctl", "add_key", "request_key",
    "bpf", "perf_event_open", "userfaultfd",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot",
    "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "acct", "quotactl", "lookup_dcookie", "name_to_handle_at",
    "open_by_handle_at",
)  # fmt: skip
# Only without a PID namespace (the Landlock fallback): a process that cannot leave its process
# group is killed with it at the timeout.
SESSION_CALLS = ("setsid", "setpgid")
CLONE_NEWUSER = 0x10000000
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


def _load_pyseccomp() -> tuple[Any, str]:
    try:
        import pyseccomp
    except ImportError:
        return None, "pyseccomp is not installed (pip install pyseccomp)"
    except (OSError, RuntimeError) as exc:  # pyseccomp raises RuntimeError when libseccomp is missing
        return None, f"libseccomp is not usable: {exc} (Debian/Ubuntu: apt-get install libseccomp2)"
    return pyseccomp, ""


def _build(sc: Any, *, pin_session: bool, network: bool = False) -> bytes:
    rules = sc.SyscallFilter(sc.ALLOW)
    eperm, unreachable = sc.ERRNO(errno.EPERM), sc.ERRNO(errno.ENETUNREACH)
    inet, inet6 = int(socket.AF_INET), int(socket.AF_INET6)
    # socket(domain, …): libseccomp accepts one comparison per argument and per rule, so the
    # families between and around AF_INET (2) and AF_INET6 (10) are listed explicitly. With the
    # network granted (an MCP server the contract lets out), AF_INET and AF_INET6 are allowed.
    rules.add_rule(eperm, "socket", sc.Arg(0, sc.LT, inet))
    if not network:
        rules.add_rule(unreachable, "socket", sc.Arg(0, sc.EQ, inet))
    for family in range(inet + 1, inet6):
        rules.add_rule(eperm, "socket", sc.Arg(0, sc.EQ, family))
    if not network:
        rules.add_rule(unreachable, "socket", sc.Arg(0, sc.EQ, inet6))
    rules.add_rule(eperm, "socket", sc.Arg(0, sc.GT, inet6))
    # clone3 passes its flags in memory the filter cannot read: ENOSYS makes libc fall back to clone.
    rules.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    rules.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER))
    for name in DENIED + (SESSION_CALLS if pin_session else ()):
        if sc.resolve_syscall(sc.Arch.NATIVE, name) < 0:
            continue
        rules.add_rule(eperm, name)
    with tempfile.TemporaryFile() as out:
        rules.export_bpf(out)
        out.seek(0)
        return out.read()


@cache
def program(pin_session: bool = False, network: bool = False) -> bytes | None:
    """The filter as BPF bytes (cached), or None when seccomp is unavailable here."""
    sc, _ = _load_pyseccomp()
    if sc is None:
        return None
    try:
        return _build(sc, pin_session=pin_session, network=network)
    except OSError:
        return None


@cache
def status() -> tuple[bool, str]:
    """(on, detail) for `agentic doctor` and the sandbox level."""
    sc, why = _load_pyseccomp()
    if sc is None:
        return False, why
    if program() is None:
        return False, "libseccomp could not build the filter"
    return (
        True,
        "new sockets (socket pairs allowed), io_uring, ptrace, keyrings, bpf, namespaces and mounts refused",
    )


def pipe_with(data: bytes) -> int:
    """A pipe's read end holding `data` (bubblewrap's `--seccomp FD` reads it to the end)."""
    if len(data) >= 65536:  # pragma: no cover - a filter this size would block the write
        raise ValueError("seccomp program too large for a pipe")
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, data)
    finally:
        os.close(write_end)
    return read_end


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def loader(data: bytes) -> Callable[[], None]:
    """A function for a child process (preexec) that sets no_new_privs and installs `data`.

    Everything is allocated here, in the parent: the child only makes two prctl calls.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    prctl = libc.prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    buffer = ctypes.create_string_buffer(data, len(data))
    fprog = _SockFprog(len(data) // 8, ctypes.addressof(buffer))

    def load() -> None:
        _keep = buffer  # the BPF program must outlive the call
        if prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
        del _keep

    return load
