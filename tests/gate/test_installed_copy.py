"""A src-layout project installed into its .venv without -e (`pip install .`): its tests import the
installed copy, so the gate judged that copy and passed a broken change. Now the gate fails, saying
why (the base's collection shows where the project's packages came from), `agentic doctor` says so,
and the gate's cache is keyed by what is installed, so making the install editable is a new verdict.

The install is made here as pip makes one (the package copied into site-packages, or a .pth naming
src/ for an editable one), without the package index."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from tests import hermetic, inproc
from tests.conftest import CONTRACT, FINISH, cli, commit_initial, write

PACKAGE = "def double(x):\n    return x * 2\n"
TESTS = "import unittest\n\nfrom mypkg import double\n\n\nclass T(unittest.TestCase):\n" \
        "    def test_double(self):\n        self.assertEqual(double(2), 4)\n"  # fmt: skip


def project(root: Path) -> tuple[Path, Path]:
    """The project committed, its .venv holding a copy of the package (as `pip install .` leaves it)."""
    write(root / "src" / "mypkg" / "__init__.py", PACKAGE)
    write(root / "tests" / "__init__.py", "")
    write(root / "tests" / "test_mypkg.py", TESTS)
    write(root / ".gitignore", ".venv/\n")
    contract = {**CONTRACT, "test_command": [".venv/bin/python", "-m", "unittest", "discover", "-s", "tests", "-t", "."]}
    write(root / "policies" / "contract.yaml", yaml.safe_dump(contract, sort_keys=False))
    commit_initial(root)
    subprocess.run([hermetic.python(), "-m", "venv", "--without-pip", str(root / ".venv")], check=True)
    site = next((root / ".venv").glob("lib/python*/site-packages"))
    shutil.copytree(root / "src" / "mypkg", site / "mypkg")
    return root, site


def test_tests_that_import_an_installed_copy_are_named_and_a_new_install_is_a_new_verdict(tmp_path: Path) -> None:
    repo, site = project(tmp_path / "repo")
    doctor = cli("doctor", "--json", cwd=repo)
    checks = {c["name"]: c for c in map(json.loads, doctor.stdout.splitlines())}
    assert checks["test command"]["ok"], checks["test command"]
    imports = checks["project imports"]
    assert not imports["ok"] and imports["essential"] and "mypkg from an installed copy" in imports["detail"], imports
    assert f"{site}/mypkg/__init__.py" in imports["detail"] and "pip install -e ." in imports["fix"], imports

    (repo / "src" / "mypkg" / "__init__.py").write_text(PACKAGE.replace("x * 2", "x * 2 + 1"))  # broken
    gate = cli("gate", cwd=repo)  # the installed copy passes its tests, which never ran the change
    assert gate.returncode == 1 and "the tests import mypkg from an installed copy" in gate.stdout, gate.stdout
    assert "1 files changed" in gate.stdout, gate.stdout
    assert "never ran the change" in gate.stdout and "pip install -e ." in gate.stdout
    outcome = inproc.run(repo, [{"tool_calls": [FINISH]}, {"text": "I give up."}, {"text": "Really."}])
    assert outcome.status == "rejected" and "tests-pass" in outcome.reason, outcome.reason
    verdict = inproc.records(outcome, "gate.verdict")[-1]
    assert "mypkg from an installed copy" in json.dumps(verdict), verdict
    shutil.rmtree(site / "mypkg")
    (site / "_mypkg_editable.pth").write_text(f"{repo / 'src'}\n")  # `pip install -e .`
    gate = cli("gate", cwd=repo)
    assert gate.returncode == 1 and "this tree was gated" not in gate.stderr + gate.stdout, gate.stdout + gate.stderr
    assert "FAIL: test_double" in gate.stdout

    (repo / "src" / "mypkg" / "__init__.py").write_text(PACKAGE)
    # an editable install of another clone of the project, where the sandbox can see it (not /tmp, not the home)
    other = Path(tempfile.mkdtemp(prefix="agentic-test-", dir="/var/tmp"))
    try:
        other.chmod(0o755)
        shutil.copytree(repo / "src", other / "src")
        (site / "_mypkg_editable.pth").write_text(f"{other / 'src'}\n")
        gate = cli("gate", cwd=repo)
        assert gate.returncode == 1 and f"mypkg from another directory ({other}/src/mypkg/__init__.py" in gate.stdout, \
            gate.stdout  # fmt: skip
    finally:
        shutil.rmtree(other)
    (site / "_mypkg_editable.pth").write_text(f"{repo / 'src'}\n")
    doctor = cli("doctor", "--json", cwd=repo)
    imports = {c["name"]: c for c in map(json.loads, doctor.stdout.splitlines())}["project imports"]
    assert imports["ok"] and "mypkg from the checkout" in imports["detail"], imports
