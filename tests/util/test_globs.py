"""Path globs for contract rules: matching semantics and validation."""

from __future__ import annotations

import re

import pytest

from agentic.util import globs


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        # `*` stays within one segment; a pattern without '/' matches only at the top level
        ("*.py", "a.py", True),
        ("*.py", "src/a.py", False),
        ("src/*.py", "src/a.py", True),
        ("src/*.py", "src/x/a.py", False),
        ("src/*", "src", False),
        ("*", "a", True),
        ("*", "a/b", False),
        # `?` is one non-'/' character
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("a?c", "a/c", False),
        # classes
        ("[abc].txt", "b.txt", True),
        ("[abc].txt", "d.txt", False),
        ("[!a].txt", "b.txt", True),
        ("[!a].txt", "a.txt", False),
        ("[^a].txt", "a.txt", False),
        ("file[0-9]", "file7", True),
        ("file[0-9]", "filex", False),
        ("[]x]", "]", True),
        # `**` as a whole segment
        ("src/**", "src", True),
        ("src/**", "src/a", True),
        ("src/**", "src/a/b.py", True),
        ("src/**", "srcx", False),
        ("src/**", "lib/src/a", False),
        ("**/*.py", "a.py", True),
        ("**/*.py", "x/y/a.py", True),
        ("**/*.py", "x/y/a.pyc", False),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("a/**/b", "a/x/y/bc", False),
        ("a/**/b", "ab", False),
        ("**", "anything/at/all", True),
        ("**", ".", True),
        ("**/**", "x/y", True),
        ("**/conftest.py", "conftest.py", True),
        ("**/conftest.py", "tests/unit/conftest.py", True),
        # `**` not alone in a segment is two `*`
        ("a**", "abc", True),
        ("a**", "a/bc", False),
        # dotfiles are matched by `*`
        (".env*", ".env", True),
        (".env*", ".env.local", True),
        ("*", ".env", True),
        ("**/.env*", "config/.env.prod", True),
        ("**/*.key", "deploy/.secret.key", True),
        # a trailing slash means the directory and everything beneath it
        ("src/", "src/a/b.py", True),
        ("src/", "src", True),
        # paths are normalised
        ("src/*.py", "./src/a.py", True),
        ("src/*.py", "src//a.py", True),
        ("src/*.py", "src/./a.py", True),
        ("src/**", "src/", True),
        # the root matches only `**`
        ("*", ".", False),
        ("*", "", False),
        # absolute paths and '..' match nothing
        ("**", "/etc/passwd", False),
        ("**", "src/../../etc/passwd", False),
        # case-sensitive, regex characters are literal
        ("README.md", "readme.md", False),
        ("a+b(c).txt", "a+b(c).txt", True),
        ("a.txt", "abtxt", False),
    ],
)
def test_match(pattern: str, path: str, expected: bool) -> None:
    assert globs.match(pattern, path) is expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "non-empty"),
        ("   ", "non-empty"),
        ("/etc/*", "leading '/'"),
        ("src/../etc", "'..'"),
        ("..", "'..'"),
        ("a[b", "unbalanced '['"),
        ("src/[!x", "unbalanced '['"),
        ("[z-a]", "bad character class"),
        ("a\x00b", "control"),
        ("a\nb", "control"),
    ],
)
def test_validate_refuses(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        globs.validate(pattern)


@pytest.mark.parametrize("pattern", ["*.py", "src/**", "**/test_*.py", "[!.]*", "a/**/b", "..x", "src/"])
def test_validate_accepts(pattern: str) -> None:
    globs.validate(pattern)


def test_match_with_bad_pattern_raises() -> None:
    with pytest.raises(ValueError, match="unbalanced"):
        globs.match("a[", "a[")


def test_match_any_returns_first_matching_pattern() -> None:
    patterns = ["docs/**", "**/*.py", "src/**"]
    assert globs.match_any(patterns, "src/a.py") == "**/*.py"
    assert globs.match_any(patterns, "src/a.txt") == "src/**"
    assert globs.match_any(patterns, "README.md") is None
    assert globs.match_any([], "a") is None


def test_compiled_patterns_are_cached() -> None:
    globs._compile.cache_clear()
    globs.match("cache/**", "cache/a")
    globs.match("cache/**", "cache/b")
    info = globs._compile.cache_info()
    assert (info.hits, info.misses) == (1, 1)


def test_negated_globs() -> None:
    from agentic.util import globs

    assert globs.match("!src/**", "docs/a.md") and globs.match("!src/**", "setup.py")
    assert not globs.match("!src/**", "src/a.py") and not globs.match("!src/**", "src")
    assert not globs.match("!src/**", "../x")
    globs.validate("!src/**")
    for bad in ("!", "!!src", "!/abs"):
        with pytest.raises(ValueError):
            globs.validate(bad)


@pytest.mark.parametrize(("pattern", "path"), [
    ("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", "a" * 250),
    ("**/*a*a*a*a*a*a*a*a*a*a*a*a*b", "/".join(["a" * 200] * 15)),
    ("**/**/**/**/**/**/**/**/**/**/x", "/".join("d" * 2000)),
    ("[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*9", "q" * 255),
])  # fmt: skip
def test_a_glob_built_to_backtrack_is_answered_at_once(pattern: str, path: str) -> None:
    import time

    started = time.perf_counter()
    assert not globs.match(pattern, path)
    assert time.perf_counter() - started < 2.0  # a backtracking matcher takes hours here


def test_the_linear_matcher_agrees_with_the_regex_translation() -> None:
    import itertools
    import random

    rng = random.Random(7)
    atoms = ["a", "b", ".", "*", "?", "[ab]", "[!a]", "**", "/"]
    names = ["a", "b", "ab", "ba", ".a", "a.b", "aab", "bba", "x"]
    for _ in range(400):
        pattern = "".join(rng.choice(atoms) for _ in range(rng.randint(1, 7))).strip("/") or "a"
        try:
            globs.validate(pattern)
        except ValueError:
            continue
        compiled = globs._Glob(pattern)
        regex = re.compile(globs._translate([s for s in pattern.split("/") if s not in ("", ".")]), re.DOTALL)
        compiled.regex = None  # the linear matcher alone
        for depth in range(0, 4):
            for parts in itertools.islice(itertools.product(names, repeat=depth), 30):
                path = "/".join(parts)
                assert compiled.matches(path) == (regex.fullmatch(path) is not None), (pattern, path)
