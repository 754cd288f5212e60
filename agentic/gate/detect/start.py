"""The interpreter a sandboxed Python test command runs, and whether a candidate's program starts in it."""

from __future__ import annotations

import base64
import glob
import hashlib
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

from .findings import Python, Start

PROJECT_ENVS = (".venv", "venv", "env", ".env")  # as agentic.sandbox shows them: with a pyvenv.cfg
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
START_TIMEOUT_S = 20.0
MODULES = {"pytest": "pytest", "django": "django"}  # what must import for the runner to start


def search_path() -> str:
    """PATH as sandboxed commands get it (agentic.sandbox.command_env passes the host's through)."""
    return os.environ.get("PATH") or DEFAULT_PATH


def _inside(program: str, directory: Path) -> bool:
    return Path(os.path.abspath(program)).parent == Path(os.path.abspath(directory))


def project_python(root: Path) -> Python:
    """The checkout's own virtual environment (.venv, venv, env with a pyvenv.cfg) unless `python` on
    PATH already is it (activated); else `python` (or `python3`) on PATH, as the sandbox runs it."""
    name = "python" if shutil.which("python", path=search_path()) else "python3"
    on_path = shutil.which(name, path=search_path())
    for env in PROJECT_ENVS:
        program = root / env / "bin" / "python"
        if not (root / env / "pyvenv.cfg").is_file() or not os.access(program, os.X_OK):
            continue
        if on_path is not None and _inside(on_path, program.parent):
            return Python(name, on_path, f"python on PATH, the activated {env}")
        return Python(f"{env}/bin/python", str(program), f"the checkout's {env}")
    for manager, managed in (("Poetry", poetry_env(root)), ("Pipenv", pipenv_env(root))):
        if managed is not None and not (on_path is not None and _inside(on_path, managed / "bin")):
            interpreter = str(managed / "bin" / "python")  # named by path: the sandbox shows its environment (program_envs)
            return Python(interpreter, interpreter, f"the environment {manager} made for the checkout")
    if on_path is not None:
        return Python(name, on_path, f"{name} on PATH")
    return Python("python", None, "no python on PATH")


def poetry_env(root: Path) -> Path | None:
    """The virtual environment Poetry made for the checkout outside it (its default): in its cache's
    virtualenvs/, named after the project and a hash of the checkout's path, as Poetry names it; the
    newest Python's when there are several. None for a project Poetry does not manage."""
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    tool, project = data.get("tool") or {}, data.get("project") or {}
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    if not isinstance(poetry, dict) and not (root / "poetry.lock").is_file():
        return None
    name = (poetry or {}).get("name") or (project.get("name") if isinstance(project, dict) else None)
    if not isinstance(name, str) or not name:
        return None
    cache = os.environ.get("POETRY_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "pypoetry")
    home = Path(os.environ.get("POETRY_VIRTUALENVS_PATH") or os.path.join(cache, "virtualenvs"))
    found = [env for env in home.glob(f"{glob.escape(poetry_env_name(name, os.path.realpath(root)))}-py*")
             if (env / "pyvenv.cfg").is_file() and os.access(env / "bin" / "python", os.X_OK)]  # fmt: skip
    return max(found, key=lambda env: [int(p) for p in re.findall(r"\d+", env.name.rpartition("-py")[2])], default=None)


def pipenv_env(root: Path) -> Path | None:
    """The virtual environment Pipenv made for a checkout with a Pipfile (its default, out of the
    checkout): in WORKON_HOME, named after the checkout's directory and a hash of the Pipfile's path."""
    if not (root / "Pipfile").is_file():
        return None
    workon = os.environ.get("WORKON_HOME") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share"), "virtualenvs")
    env = Path(workon) / pipenv_env_name(os.path.realpath(root))
    return env if (env / "pyvenv.cfg").is_file() and os.access(env / "bin" / "python", os.X_OK) else None


def pipenv_env_name(where: str) -> str:
    """What Pipenv names the environment of the project in directory `where`: the directory's name,
    made safe, and a hash of its Pipfile's path."""
    sanitized = re.sub(r'[ &$`!*@"()\[\]\\\r\n\t]', "_", os.path.basename(where))[:42]
    return _hashed_name(sanitized, os.path.join(where, "Pipfile"))


def poetry_env_name(name: str, where: str) -> str:
    """What Poetry names a project's environment (before `-pyX.Y`): its package name (PEP 503), made
    safe for a directory, and a hash of the checkout's real path."""
    canonical = re.sub(r"[-_.]+", "-", name).lower()
    sanitized = re.sub(r'[ $`!*@"\\\r\n\t]', "_", canonical)[:42]
    return _hashed_name(sanitized, os.path.normcase(where))


def _hashed_name(name: str, hashed: str) -> str:
    """`name-XXXXXXXX`: the first 8 characters of the url-safe base64 of `hashed`'s SHA-256, as Poetry
    and Pipenv suffix an environment's name."""
    digest = hashlib.sha256(hashed.encode("utf-8", "surrogateescape")).digest()
    return f"{name}-{base64.urlsafe_b64encode(digest).decode()[:8]}"


def _run_python(python: Python, root: Path, module: str) -> Start:
    assert python.path is not None
    code = "import importlib, sys; m = importlib.import_module(sys.argv[1]); print(getattr(m, '__version__', ''))"
    # -I: neither the checkout (the current directory), nor PYTHONPATH (not passed into the sandbox), nor
    # user site-packages (the sandbox's HOME is /tmp): the check never runs the repository's own code
    env = {**os.environ, "HOME": "/tmp"}
    try:
        done = subprocess.run([python.path, "-I", "-c", code, module], cwd=root, env=env, capture_output=True,
                              text=True, timeout=START_TIMEOUT_S, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Start(False, f"{python.command} does not run ({exc})")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        if "No module named" in last:
            return Start(False, f"{module} is not importable by {python.command} ({python.origin})")
        return Start(False, f"{python.command} -c 'import {module}' fails: {last[:160]}")
    if module == "unittest":
        return Start(True, f"{python.command} runs ({python.origin})")
    version = f" {done.stdout.strip()}" if done.stdout.strip() else ""
    return Start(True, f"{module}{version} importable by {python.command} ({python.origin})")


class StartChecks:
    """Whether each candidate's program starts; each Python module is tried once."""

    def __init__(self, root: Path, python: Python) -> None:
        self.root, self.python = root, python
        self._modules: dict[str, Start] = {}

    def module(self, name: str) -> Start:
        if self.python.path is None:
            return Start(False, "no python or python3 on PATH and no virtual environment in the checkout")
        if name not in self._modules:
            self._modules[name] = _run_python(self.python, self.root, name)
        return self._modules[name]

    def __call__(self, argv: tuple[str, ...], runner: str) -> Start:
        if argv and argv[0] == self.python.command:
            return self.module(MODULES.get(runner, "unittest"))
        program = shutil.which(argv[0], path=search_path())
        if program is None:
            return Start(False, f"{argv[0]} is not on PATH")
        return Start(True, f"{argv[0]} at {program}")


