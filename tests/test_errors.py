"""The exception tree drawn at the top of agentic/errors.py is the real one, and every error a person can
see has an exit code and a hint."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import agentic
from agentic import errors
from agentic.errors import AgenticError, ConfigError, UsageError, WorkspaceError
from agentic.git.cmd import git, run_git

DRAWN = re.compile(r"^    (?:[│ ]   )*(?:├── |└── )?(\w+)(?: \([\w.]+\))?\s+exit (\d)", re.MULTILINE)


def _every_error_class() -> list[type[AgenticError]]:
    for module in pkgutil.walk_packages(agentic.__path__, "agentic."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found: list[type[AgenticError]] = []
    todo: list[type[AgenticError]] = [AgenticError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def _drawn() -> list[tuple[int, str, int]]:
    """(depth, class name, exit code) for each line of the tree, top to bottom."""
    return [(match.start(1), match.group(1), int(match.group(2))) for match in DRAWN.finditer(errors.__doc__ or "")]


def test_the_drawn_tree_names_every_error_with_its_exit_code_and_parent() -> None:
    drawn = _drawn()
    classes = {cls.__name__: cls for cls in _every_error_class()}
    assert sorted(name for _, name, _ in drawn) == sorted(classes)
    assert {name: code for _, name, code in drawn} == {name: cls.exit_code for name, cls in classes.items()}
    starts = [m.start() for m in re.finditer(r"^", errors.__doc__ or "", re.MULTILINE)]
    indent = [(depth - max(s for s in starts if s <= depth), name) for depth, name, _ in drawn]
    for i, (depth, name) in enumerate(indent[1:], 1):  # the parent: the nearest line above, one level up
        parent = next(above for d, above in reversed(indent[:i]) if d < depth)
        assert classes[name].__base__ is classes[parent], f"{name} is drawn below {parent}"


@pytest.mark.parametrize("cls", _every_error_class(), ids=lambda cls: cls.__name__)
def test_every_error_has_an_exit_code_and_a_hint(cls: type[AgenticError]) -> None:
    assert cls.exit_code in (1, 2, 3, 4)
    assert cls.default_hint.strip()


def test_the_raisers_hint_wins_over_the_classs() -> None:
    assert UsageError("x", hint="do this").hint == "do this"
    assert UsageError("x").hint == UsageError.default_hint
    assert ConfigError("bad", file="f.yaml").hint == ConfigError.default_hint != UsageError.default_hint
    assert WorkspaceError("git said no").hint == WorkspaceError.default_hint


def test_git_that_cannot_start_is_a_workspace_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(WorkspaceError, match=r"git cannot run in .*gone") as gone:
        run_git(["status"], tmp_path / "gone")
    assert gone.value.hint and "install git" in gone.value.hint
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no git at all
    with pytest.raises(WorkspaceError, match=f"git cannot run in {re.escape(str(tmp_path))}: No such file"):
        git(["init"], tmp_path)
