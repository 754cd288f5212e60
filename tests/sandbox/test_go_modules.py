"""A Go module's dependencies in the sandbox: `go test` found none (HOME, where go keeps its module
cache, is hidden, and with no network go could not download them: `dial tcp: lookup proxy.golang.org`),
so a Go repository with a single dependency could not be gated or worked on. The machine's module
cache is now shown read-only and named to commands, with no proxy: the modules it holds build offline,
and nothing can be written into them.

The dependency is served here from a file proxy (GOPROXY=file://) into a module cache of the test's
own, as `go mod download` would fill one from the network."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentic.git.cmd import git
from tests import inproc
from tests.conftest import cli, commit_initial, write

pytestmark = [pytest.mark.proof, pytest.mark.skipif(shutil.which("go") is None and not os.environ.get("AGENTIC_REQUIRE_GO"),
                                reason="go is not installed")]  # fmt: skip

GREET = "package greet\n\nfunc Hello(name string) string { return \"hello \" + name }\n"
PROJ = 'package proj\n\nimport "example.com/greet"\n\nfunc Greeting() string { return greet.Hello("World") }\n'
TEST = """package proj

import "testing"

func TestGreeting(t *testing.T) {
\tif got := Greeting(); got != "hello world" {
\t\tt.Fatalf("got %q", got)
\t}
}
"""
FIX = {"name": "edit_file", "arguments": {"path": "proj.go", "old_text": '"World"', "new_text": '"world"'}}
PLANT = {"name": "run_command", "arguments": {"command": 'touch "$GOMODCACHE/planted"; echo rc=$?'}}
FINISH = {"name": "finish", "arguments": {"summary": "fixed the greeting"}}


def file_proxy(root: Path) -> Path:
    """example.com/greet v1.0.0 laid out as a module proxy serves it."""
    served = root / "example.com" / "greet" / "@v"
    served.mkdir(parents=True)
    (served / "list").write_text("v1.0.0\n")
    (served / "v1.0.0.info").write_text('{"Version":"v1.0.0","Time":"2020-01-01T00:00:00Z"}\n')
    (served / "v1.0.0.mod").write_text("module example.com/greet\n\ngo 1.19\n")
    with zipfile.ZipFile(served / "v1.0.0.zip", "w") as archive:
        archive.writestr("example.com/greet@v1.0.0/go.mod", "module example.com/greet\n\ngo 1.19\n")
        archive.writestr("example.com/greet@v1.0.0/greet.go", GREET)
    return root


@pytest.fixture
def module_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A module cache the sandbox's user can read (as ~/go/pkg/mod is), named by GOMODCACHE."""
    cache = Path(tempfile.mkdtemp(prefix="agentic-test-gomod-")) / "mod"
    cache.parent.chmod(0o755)
    cache.mkdir()
    monkeypatch.setenv("GOMODCACHE", str(cache))
    try:
        yield cache
    finally:
        subprocess.run(["go", "clean", "-modcache"], env={**os.environ, "GOMODCACHE": str(cache)}, check=False)
        shutil.rmtree(cache.parent, ignore_errors=True)


def project(root: Path, proxy: Path) -> Path:
    write(root / "go.mod", "module example.com/proj\n\ngo 1.19\n\nrequire example.com/greet v1.0.0\n")
    write(root / "proj.go", PROJ)
    write(root / "proj_test.go", TEST)
    # go.sum, and the module in the cache, as `go mod tidy` makes them on a machine with the network
    env = {**os.environ, "GOPROXY": proxy.as_uri(), "GOSUMDB": "off", "GOFLAGS": "-mod=mod"}
    subprocess.run(["go", "mod", "tidy"], cwd=root, env=env, check=True, capture_output=True)
    init = cli("init", "--yes", cwd=commit_initial(root))
    assert init.returncode == 0 and "test command: go test ./..." in init.stdout, init.stdout + init.stderr
    git(["add", "--all"], root)
    git(["commit", "--quiet", "-m", "agentic: setup"], root)
    return root


def test_go_test_builds_with_the_machines_module_cache_read_only(tmp_path: Path, module_cache: Path) -> None:
    repo = project(tmp_path / "repo", file_proxy(tmp_path / "proxy"))
    assert (module_cache / "example.com" / "greet@v1.0.0" / "greet.go").is_file()
    gate = cli("gate", cwd=repo, env={"GOMODCACHE": str(module_cache)})
    # it built, with the dependency, and found the bug
    assert gate.returncode == 1 and 'got "hello World"' in gate.stdout, gate.stdout + gate.stderr
    outcome = inproc.run(repo, [{"tool_calls": [PLANT]}, {"tool_calls": [FIX]}, {"tool_calls": [FINISH]}])
    assert outcome.status == "accepted", outcome.reason
    planted = inproc.tool_results(outcome)[0]["content"]
    assert "Read-only file system" in planted and "rc=1" in planted, planted
    assert not (module_cache / "planted").exists()
    assert git(["show", "--name-only", "--format=", outcome.commit or ""], repo).split() == ["proj.go"]


def test_doctor_names_a_module_the_machine_has_not_downloaded(tmp_path: Path, module_cache: Path) -> None:
    repo = project(tmp_path / "repo", file_proxy(tmp_path / "proxy"))
    subprocess.run(["go", "clean", "-modcache"], env={**os.environ, "GOMODCACHE": str(module_cache)}, check=True)
    module_cache.mkdir(exist_ok=True)
    doctor = cli("doctor", cwd=repo, env={"GOMODCACHE": str(module_cache), "COLUMNS": "400"})
    assert "Go module example.com/greet v1.0.0 is not in this machine's module cache" in doctor.stdout, doctor.stdout
    assert "go mod download" in doctor.stdout
