"""The gate's verdict cache key: what is installed where the checkout's commands look is part of it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from agentic.config.settings import load_settings
from agentic.gate.cache import cache_key, path_site_packages
from agentic.gate.gomodules import _entries, go_modules_stamp
from agentic.policy.contract import load_contract
from tests.conftest import make_repo


def test_a_package_installed_for_an_interpreter_on_path_is_a_new_key(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """No virtual environment: the test command's `python` is the one PATH finds (a system or pyenv
    interpreter), and `pip install` puts a package in its site-packages. The cached verdict of the same
    tree must not answer for it."""
    local = tmp_path / "usr-local"
    (local / "bin").mkdir(parents=True)
    site = local / "lib" / "python3.11" / "site-packages"
    debian = local / "lib" / "python3" / "dist-packages"
    pyenv = tmp_path / "pyenv"
    (pyenv / "shims").mkdir(parents=True)
    version = pyenv / "versions" / "3.12.1" / "lib" / "python3.12" / "site-packages"
    for place in (site, debian, version):
        place.mkdir(parents=True)
        os.utime(place, (1_000_000_000, 1_000_000_000))  # older than anything made below, at any clock tick
    root = make_repo(tmp_path / "repo")
    settings = load_settings(root)
    contract = load_contract(settings.contract, root)
    monkeypatch.setenv("PATH", f"{local / 'bin'}:relative/bin:{pyenv / 'shims'}:{local / 'bin'}/")
    assert path_site_packages() == [os.path.realpath(p) for p in (site, debian, version)]
    key = cache_key("tree", "base", contract, settings, False, root)
    assert cache_key("tree", "base", contract, settings, False, root) == key
    for place in (site, version):
        (place / "newpkg-1.0.dist-info").mkdir()
        assert cache_key("tree", "base", contract, settings, False, root) != key, place
        key = cache_key("tree", "base", contract, settings, False, root)


def test_a_go_module_downloaded_to_the_machine_is_a_new_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox builds Go offline from the machine's module cache: a verdict taken while a module was
    missing there (the build failed) must not answer once `go mod download` fetched it, for the module
    itself or for one of a go.work's modules."""
    if shutil.which("go") is None:
        if os.environ.get("AGENTIC_REQUIRE_GO"):
            pytest.fail("AGENTIC_REQUIRE_GO is set but go is not installed (apt-get install golang-go)")
        pytest.skip("go is not installed")
    modules = tmp_path / "gomodcache"
    modules.mkdir()
    monkeypatch.setenv("GOMODCACHE", str(modules))
    root = make_repo(tmp_path / "repo")
    (root / "go.mod").write_text("module example.com/app\n\ngo 1.21\n\nrequire example.com/Greet v1.0.0\n")
    (root / "go.sum").write_text("example.com/Greet v1.0.0 h1:abc=\nexample.com/Greet v1.0.0/go.mod h1:def=\n")
    (root / "go.work").write_text("go 1.21\n\nuse (\n\t. // the app\n\t./tools\n)\n")
    (root / "tools").mkdir()
    (root / "tools" / "go.sum").write_text("golang.org/x/Text v0.3.0 h1:ghi=\n")
    settings = load_settings(root)
    contract = load_contract(settings.contract, root)
    keys = {cache_key("tree", "base", contract, settings, False, root)}
    assert go_modules_stamp(root) is not None
    versions = modules / "cache" / "download" / "example.com" / "!greet" / "@v"  # go's escaping of upper case
    versions.mkdir(parents=True)
    for name in ("v1.0.0.mod", "v1.0.0.zip"):
        (versions / name).write_text("")
        keys.add(cache_key("tree", "base", contract, settings, False, root))
    other = modules / "cache" / "download" / "golang.org" / "x" / "!text" / "@v"
    other.mkdir(parents=True)
    (other / "v0.3.0.zip").write_text("")
    keys.add(cache_key("tree", "base", contract, settings, False, root))
    assert len(keys) == 4  # each download a new key
    assert cache_key("tree", "base", contract, settings, False, root) in keys  # and the same key while nothing changes
    (root / "tools" / "go.sum").write_text("../../../escape v0.1.0 h1:x=\n/abs v0.1.0 h1:y=\nexample.com/m .. h1:z=\n")
    assert _entries(root / "tools" / "go.sum") == set()  # nothing that climbs out of the module cache
    (root / "go.sum").unlink()
    (root / "tools" / "go.sum").unlink()
    assert go_modules_stamp(root) is None
