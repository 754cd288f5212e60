"""The gate's verdict cache key: what is installed where the checkout's commands look is part of it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentic.config.settings import load_settings
from agentic.gate.cache import cache_key, path_site_packages
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
