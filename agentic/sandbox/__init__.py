"""Process isolation for every command the agent or the gate runs.

`BubblewrapSandbox` runs an argv (never a shell) under bubblewrap:

- a harness worktree is seen at the person's working tree path (agentic.git.view): bound over the
  person's checkout, which stays hidden, with the checkout's virtual environment bound back read-only
  and a `.git` file of the sandbox's own pointing at a git dir synthesized for the run (its branch,
  tags and the object store; none of the person's config, index, stash or worktrees), bound
  read-only at /tmp/.agentic-git; editable installs and absolute paths then resolve to the run's code;
- the host root read-only; only the run's worktree writable, except its `.git` link and the given
  read-only paths, which are bound read-only after a check, before every spawn, that no component
  of them below the worktree is a symbolic link (bubblewrap before 0.12 follows links at mount
  targets, so a planted link would put a mount onto the host);
- a private, size-limited /tmp and /dev/shm; the harness's $HOME, /root, /home, /run,
  $XDG_RUNTIME_DIR and the person's checkout hidden under empty read-only tmpfs, then the few
  directories commands need re-bound read-only (PATH entries, with the virtual or conda environment
  whose bin/ one is and the environments its links point into, as pipx and `uv tool` install; the Python prefixes,
  PYENV_ROOT, VIRTUAL_ENV, rustup's toolchains, Go's module cache, the repository's git dir when it
  is not viewed), and secret files that are
  still visible masked;
- every namespace unshared (no network, its own PID namespace), `--die-with-parent`,
  `--new-session`, a seccomp filter (agentic.sandbox.seccomp), and resource limits (address space, CPU
  seconds, file size, process count) set on the sandbox's init with prlimit(2) while bubblewrap
  waits on `--block-fd`, so the command and everything it starts inherit them;
- when the harness is root, the command runs as a uid/gid of the worktree's own (sandbox_user; process
  limits do not bind root, and concurrent runs must not share theirs):
  bubblewrap mounts as root, keeps only CAP_SETUID/CAP_SETGID, and `setpriv` drops to that user with
  no capabilities and no_new_privs. The worktree is handed to that user before every command.

A timeout kills the whole process tree: bubblewrap is the PID-namespace init's parent, and the
namespace dies with it, including children that called setsid or double-forked.

With `persistent=True` (the run's worktree) the same bubblewrap set-up is started once and a server
inside it runs each command (agentic.sandbox.server): rlimits are set by the server in the forked
command, what a command leaves running is killed when it ends, and read-only targets are checked
and bound when the sandbox starts.
Output is capped: head and tail are kept and the cut is marked.

Without bubblewrap, `LandlockSandbox` (opt-in) uses Landlock filesystem/network rules, the seccomp
filter (which here also pins the process group), rlimits and a new session. `UnsafeNoSandbox` is a
plain subprocess with the same environment and limits, for `--unsafe-no-sandbox` only.
`sandbox_level()` says which level this machine gets and what it blocks.

The package's modules, one job each: base (the Protocol and CommandResult), env (the command's
environment), process (capped output, process-group timeouts), users (who commands run as), hostview
(what of the host is hidden), mounts (link checks at mount targets), limits (rlimits), probe (a
working bubblewrap), bubblewrap, fallback (Landlock, none), levels (what this machine gets, and
make_sandbox), server (the persistent sandbox's server), seccomp, landlock, diskguard, hostexec.
This module is their public surface: other packages import from here.
"""

from __future__ import annotations

from agentic.sandbox.base import REFUSED_EXIT as REFUSED_EXIT
from agentic.sandbox.base import CommandResult as CommandResult
from agentic.sandbox.base import Sandbox as Sandbox
from agentic.sandbox.bubblewrap import BubblewrapSandbox as BubblewrapSandbox
from agentic.sandbox.bubblewrap import kill_sandboxes as kill_sandboxes
from agentic.sandbox.env import command_env as command_env
from agentic.sandbox.fallback import LandlockSandbox as LandlockSandbox
from agentic.sandbox.fallback import UnsafeNoSandbox as UnsafeNoSandbox
from agentic.sandbox.hostview import program_envs as program_envs
from agentic.sandbox.levels import SandboxLevel as SandboxLevel
from agentic.sandbox.levels import make_sandbox as make_sandbox
from agentic.sandbox.levels import require_sandbox as require_sandbox
from agentic.sandbox.levels import sandbox_identity as sandbox_identity
from agentic.sandbox.levels import sandbox_level as sandbox_level
from agentic.sandbox.mounts import MountRefused as MountRefused
from agentic.sandbox.process import run_process as run_process
from agentic.sandbox.users import sandbox_user as sandbox_user
