"""Bytecode for the suite's own modules, written once by pytest's controller before its workers start.

Every worker imports every test module to collect it, and pytest rewrites each one's asserts first:
about 3 CPU-s of rewriting and compiling per worker on this suite, done again by each of the four
workers of a clean checkout (they start together, so none finds another's cache), and on every run
when PYTHONDONTWRITEBYTECODE is set (pytest then writes no cache at all, but still reads one it
finds). Written here once, as pytest itself would write it (the same file, the same checks of the
source's size and time), the workers only read it. The helpers the tests import (tests/inproc.py,
the fake provider...) are compiled as Python would compile them.

The rewriting goes through pytest's assertion-rewriting module, which is not a public interface:
if it is not there as expected, nothing is written and each worker rewrites for itself, as before.
"""

from __future__ import annotations

import compileall
import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REWRITTEN = re.compile(r"(^|/)(test_[^/]*|conftest)\.py$")  # pytest's python_files, and conftest.py


def write(config: pytest.Config) -> None:
    compileall.compile_dir(TESTS, quiet=2, rx=REWRITTEN)  # rx: what matches is left to pytest
    try:
        from _pytest.assertion import rewrite

        state = config.stash[rewrite.assertstate_key]
        for source in sorted(TESTS.rglob("*.py")):
            if not REWRITTEN.search(source.as_posix()):
                continue
            pyc = rewrite.get_cache_dir(source) / (source.name[:-3] + rewrite.PYC_TAIL)
            if rewrite._read_pyc(source, pyc) is not None:
                continue
            if not rewrite.try_makedirs(pyc.parent):
                return
            stat, code = rewrite._rewrite_test(source, config)
            rewrite._write_pyc(state, code, stat, pyc)
    except (ImportError, AttributeError, KeyError, TypeError):
        return
