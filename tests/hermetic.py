"""The Python the suite's sandboxed commands run: this interpreter with pytest and nothing else.

The tests' repositories run `python -m pytest` and `python -m unittest` inside the sandbox, where
`python` is whatever PATH finds. On a developer's machine that is an interpreter whose site-packages
hold every pytest plugin installed there (hypothesis, anyio, pytest-benchmark, xdist...): pytest
loads each through its entry point and rewrites the asserts of all their modules again in every
sandboxed session (bytecode is not written there), about a second per test run, and a plugin can
change what the tests see. So the suite puts a virtual environment of its own first on PATH (and in
VIRTUAL_ENV, which the sandbox shows read-only): this interpreter, with links to pytest and the
distributions it requires, nothing else. Made once per machine and version, shared by the workers.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.requirements import Requirement

ROOT = "pytest"
PREFIX = "agentic-tests-python-"  # the environment's directory name, before its key


def closure(name: str = ROOT) -> list[metadata.Distribution]:
    """The installed distribution `name` and those it requires (markers evaluated, extras left out)."""
    found: dict[str, metadata.Distribution] = {}
    todo = [name]
    while todo:
        key = todo.pop().lower().replace("_", "-")
        if key in found:
            continue
        dist = metadata.distribution(key)
        found[key] = dist
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return list(found.values())


def _tops(dist: metadata.Distribution) -> set[str]:
    """The names the distribution puts at the top of its site-packages (packages, modules, its metadata)."""
    tops = {Path(str(f)).parts[0] for f in dist.files or []}
    return {t for t in tops if t not in ("..", "__pycache__") and not t.endswith(".pth")}


def link(site: Path, dists: list[metadata.Distribution]) -> None:
    """Put the distributions in the site-packages directory `site`, as links to where they are installed."""
    for dist in dists:
        for top in _tops(dist):
            source = Path(str(dist.locate_file(top)))
            if source.exists() and not (site / top).exists():
                (site / top).symlink_to(source)


def python_env(base: Path | None = None) -> Path:
    """The environment's directory, made if this machine does not have it yet."""
    dists = closure()
    key = hashlib.sha256(repr((sys.executable, sys.version, sorted((d.metadata["Name"], d.version)
                                                                   for d in dists))).encode()).hexdigest()[:12]  # fmt: skip
    home = (base or Path(tempfile.gettempdir())) / f"{PREFIX}{key}"
    if (home / "ready").exists():
        return home
    building = Path(tempfile.mkdtemp(prefix=home.name + ".", dir=home.parent))
    building.chmod(0o755)  # mkdtemp's 0700 would keep out the user sandboxed commands run as
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--clear", str(building)], check=True)
    link(next(building.glob("lib/python*/site-packages")), dists)
    # the venv's pyvenv.cfg and scripts name the directory they were made in
    for text_file in [building / "pyvenv.cfg", *(building / "bin").glob("activate*")]:
        text_file.write_text(text_file.read_text().replace(str(building), str(home)))
    (building / "ready").write_text("")
    try:
        building.rename(home)
    except OSError:  # another worker made it first
        shutil.rmtree(building, ignore_errors=True)
    return home


def install() -> None:
    """Put the environment first on this process's PATH (inherited by every command it starts)."""
    if os.environ.get("AGENTIC_TEST_HOST_PYTHON") == "1":  # to run the suite against the host's plugins
        return
    home = python_env()
    bin_dir = str(home / "bin")
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir, path])
    os.environ["VIRTUAL_ENV"] = str(home)


def python() -> str:
    """The interpreter the suite's sandboxed commands run as `python`: the environment's once installed,
    else this one."""
    venv = os.environ.get("VIRTUAL_ENV", "")
    if venv and Path(venv).name.startswith(PREFIX) and (Path(venv) / "bin" / "python").exists():
        return str(Path(venv) / "bin" / "python")
    return sys.executable
