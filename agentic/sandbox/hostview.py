"""The host as commands see it: which host directories are hidden, shown again read-only, and masked."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from agentic.git.view import GitView, git_common_dir
from agentic.sandbox.env import go_module_cache, rustup_home
from agentic.sandbox.users import traversable

# Relative to a home directory; masked when still visible inside the sandbox.
SECRET_PATHS = (
    ".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker/config.json", ".config/gcloud", ".config/gh",
    ".config/hub", ".config/op", ".git-credentials", ".netrc", ".pypirc", ".npmrc", ".yarnrc",
    ".gem/credentials", ".cargo/credentials", ".cargo/credentials.toml", ".m2/settings.xml", ".pgpass",
    ".my.cnf", ".vault-token", ".password-store", ".local/share/keyrings", ".terraform.d",
    ".bash_history", ".zsh_history", ".python_history", ".env",
)  # fmt: skip


# Each replaced by an empty tmpfs of the sandbox's own (bubblewrap.BubblewrapSandbox.wrap): what lies
# beneath is out of sight already, and comes back only where it is bound again.
PRIVATE = ("/tmp", "/dev/shm")


def under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _existing_dir(path: str | None) -> str | None:
    if not path:
        return None
    real = os.path.realpath(path)
    return real if os.path.isdir(real) else None


PROJECT_ENVS = (".venv", "venv", "env", ".env")  # virtual environments kept in a checkout (with a pyvenv.cfg)


PROJECT_PACKAGES = "node_modules"  # the packages npm, yarn and pnpm install into a checkout (ignored by git)


def project_envs(checkout: str | None) -> list[str]:
    """The checkout's own virtual environments, and the packages installed into its node_modules:
    shown read-only at their path, also inside a worktree seen at the checkout's path, so the
    project's interpreter, its editable installs and its test frameworks (mocha, jest, vitest:
    node_modules/.bin) work there. A node_modules that is a link is left out."""
    if checkout is None:
        return []
    envs = [os.path.join(checkout, d) for d in PROJECT_ENVS if os.path.isfile(os.path.join(checkout, d, "pyvenv.cfg"))]
    packages = [os.path.join(checkout, d, PROJECT_PACKAGES) for d in ["", *_workspaces(checkout)]]
    return [*envs, *(p for p in packages if os.path.isdir(p) and not os.path.islink(p))]


MAX_WORKSPACES = 64


def _workspaces(checkout: str) -> list[str]:
    """The workspace packages of a JavaScript monorepo (package.json `workspaces`, npm's and yarn's
    form), as directories relative to the checkout: each may hold a node_modules of its own."""
    try:
        with open(os.path.join(checkout, "package.json"), encoding="utf-8") as fh:
            manifest = json.load(fh)
    except (OSError, ValueError):
        return []
    declared = manifest.get("workspaces") if isinstance(manifest, dict) else None
    if isinstance(declared, dict):
        declared = declared.get("packages")
    found: list[str] = []
    for pattern in declared if isinstance(declared, list) else []:
        if isinstance(pattern, str) and not pattern.startswith(("/", "!")) and ".." not in pattern.split("/"):
            found += sorted(os.path.relpath(p, checkout) for p in glob.glob(os.path.join(checkout, pattern))
                            if os.path.isdir(p) and not os.path.islink(p))  # fmt: skip
    return list(dict.fromkeys(found))[:MAX_WORKSPACES]


def _homes() -> list[str]:
    homes = [os.environ.get("HOME", "")]
    with contextlib.suppress(KeyError):
        homes.append(pwd.getpwuid(os.geteuid()).pw_dir)
    return [h for h in homes if h]


def _interpreter_dirs() -> list[str]:
    """Where the Python that commands will likely use lives: this one's prefixes and VIRTUAL_ENV's."""
    dirs = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
            os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))]  # fmt: skip
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        dirs.append(venv)
        with contextlib.suppress(OSError):
            for line in Path(venv, "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "home" and value.strip():
                    dirs.append(os.path.dirname(os.path.realpath(value.strip())))
    return dirs


def program_envs(argv: Sequence[str]) -> list[Path]:
    """The Python environment a command's program lives in when the command names it by path (a
    virtual environment Poetry, Pipenv or Hatch keep under the home: [~/.cache/pypoetry/virtualenvs/
    p-AbCd-py3.11/bin/python, -m, pytest]): shown read-only, so the program is there to run."""
    if not argv or not os.path.isabs(argv[0]):
        return []
    scripts = os.path.dirname(argv[0])
    root = os.path.dirname(scripts)
    return [Path(root)] if os.path.basename(scripts) == "bin" and _python_environment(root) else []


def _python_environment(root: str) -> bool:
    """A virtual environment (pyvenv.cfg) or a conda environment (conda-meta/): its interpreter in
    bin/ finds its configuration and its libraries only beside bin/."""
    return os.path.isfile(os.path.join(root, "pyvenv.cfg")) or os.path.isdir(os.path.join(root, "conda-meta"))


def _path_entries() -> list[str]:
    entries = []
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if not entry or not os.path.isabs(entry):
            continue
        entries.append(entry)
        parent = os.path.dirname(entry)
        if os.path.basename(entry) == "shims" and os.path.isdir(os.path.join(parent, "libexec")):
            entries.append(parent)  # a pyenv/rbenv-style root: its shims call libexec/*
    return entries


def _environments(entries: Iterable[str], hidden: Iterable[str]) -> list[str]:
    """The Python environments PATH entries belong to (an environment's bin/: its python reads
    ../pyvenv.cfg or ../lib), and those that links in hidden PATH directories point into (pipx and
    `uv tool` install each tool in an environment of its own in the home and link its script from
    ~/.local/bin)."""
    out_of_sight = list(hidden)
    found: list[str] = []
    for entry in entries:
        parent = os.path.dirname(entry)
        if os.path.basename(entry) == "bin" and _python_environment(parent):
            found.append(parent)
        real = os.path.realpath(entry)
        if any(under(real, h) for h in out_of_sight):
            with contextlib.suppress(OSError):
                found.extend(_environments_linked_from(real, os.stat(real).st_mtime_ns))
    return list(dict.fromkeys(found))


@lru_cache(maxsize=64)
def _environments_linked_from(directory: str, mtime_ns: int) -> tuple[str, ...]:
    """The environments the links in `directory` point into, remembered while the directory is
    unchanged (a link added, removed or replaced changes its mtime)."""
    found = []
    with os.scandir(directory) as listing:
        links = [item.path for item in listing if item.is_symlink()]
    for link in links:
        scripts = os.path.dirname(os.path.realpath(link))
        root = os.path.dirname(scripts)
        if os.path.basename(scripts) == "bin" and _python_environment(root):
            found.append(root)
    return tuple(found)


@dataclass(frozen=True)
class HostView:
    """Which host directories are hidden, re-exposed read-only and masked (all real paths)."""

    hidden: tuple[str, ...]  # empty tmpfs over each, read-only after the binds below
    exposed: tuple[str, ...]  # bound read-only at their own path
    masked_files: tuple[str, ...]
    masked_dirs: tuple[str, ...]

    def mount_parents(self, targets: Iterable[str]) -> dict[str, str]:
        """{directory: mode} to create in the tmpfs above each target bound there.

        Left to itself, bubblewrap 0.8 gives them the modes of the host directories, so a 0700
        /root/.cargo above /root/.cargo/bin would lock the sandbox user out. Under the private
        /tmp and /dev/shm they are sticky and world-writable like those; elsewhere 0755.
        """
        out: dict[str, str] = {}
        for target in targets:
            root = next((h for h in (*self.hidden, *PRIVATE) if under(target, h) and target != h), None)
            if root is None:
                continue
            parts = Path(target).parts
            for depth in range(len(Path(root).parts) + 1, len(parts)):
                out[str(Path(*parts[:depth]))] = "1777" if root in PRIVATE else "0755"
        return out


def host_view(worktree: str, run_as: tuple[int, int] | None, expose: Iterable[Path] = (),
              view: GitView | None = None) -> HostView:  # fmt: skip
    """Compute what to hide and what to bring back for a sandbox on `worktree` (a real path). With
    a git view, the person's checkout and git dir are hidden and only the view's parts come back."""
    if view is not None:
        checkout: str | None = view.at
        git_dirs: list[str | None] = list(view.expose)
    else:
        common = git_common_dir(Path(worktree))
        checkout = str(common.parent) if common is not None and common.name == ".git" else None
        git_dirs = [str(common) if common else None]
    wanted = [*_homes(), "/root", "/home", "/run", "/var/run", os.environ.get("XDG_RUNTIME_DIR"), checkout,
              *(view.hide if view else ())]  # fmt: skip
    # Anything under /tmp or /dev/shm is already out of sight: the sandbox gets its own empty ones.
    hidden: set[str] = {d for d in map(_existing_dir, wanted)
                        if d and d != "/" and not any(under(d, p) for p in PRIVATE)}  # fmt: skip
    # an environment that holds the checkout or the worktree (a repository made a venv) is not brought back
    path_entries = _path_entries()
    environments = [e for e in map(os.path.realpath, _environments(path_entries, hidden | set(PRIVATE)))
                    if not under(worktree, e) and not (checkout and under(os.path.realpath(checkout), e))]  # fmt: skip
    candidates = [*path_entries, *_interpreter_dirs(), os.environ.get("PYENV_ROOT"), rustup_home(), go_module_cache(), *environments,
                  *git_dirs, *map(str, expose), *project_envs(checkout)]  # fmt: skip
    exposed_all = [d for d in dict.fromkeys(map(_existing_dir, candidates)) if d]

    def covered(path: str, dirs: Iterable[str]) -> bool:
        return any(under(path, d) for d in dirs)

    if run_as is not None:
        # A directory the sandbox user cannot search hides nothing it could see: an empty tmpfs
        # there changes no access, and lets bubblewrap create the mount points beneath it.
        for target in [worktree, *exposed_all]:
            for depth in range(2, len(Path(target).parts)):
                ancestor = str(Path(*Path(target).parts[:depth]))
                if covered(ancestor, hidden | set(PRIVATE)):
                    break
                if not traversable(ancestor, *run_as):
                    hidden.add(ancestor)
                    break
    hidden_list = sorted(hidden, key=len)
    hidden_list = [h for i, h in enumerate(hidden_list) if not covered(h, hidden_list[:i])]
    invisible = [*hidden_list, *PRIVATE]
    exposed = [d for d in sorted(exposed_all, key=len) if covered(d, invisible)]
    exposed = [d for i, d in enumerate(exposed) if not covered(d, exposed[:i])]
    files: list[str] = []
    dirs: list[str] = []
    for home in dict.fromkeys(_homes()):
        for name in SECRET_PATHS:
            real = os.path.realpath(os.path.join(home, name))
            if not os.path.exists(real) or (covered(real, invisible) and not covered(real, exposed)):
                continue
            if under(worktree, real):
                continue
            (dirs if os.path.isdir(real) else files).append(real)
    return HostView(
        tuple(hidden_list), tuple(exposed), tuple(dict.fromkeys(files)), tuple(dict.fromkeys(dirs))
    )
