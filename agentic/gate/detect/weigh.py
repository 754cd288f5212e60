"""The clues summed per command into ranked candidates, each tried in the project's environment."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from .clues import clues
from .findings import Candidate, Clue, Evidence, Findings, Python, Start
from .start import StartChecks, project_python

# The Python runners' commands after the interpreter; the others' whole commands.
PYTHON_RUNNERS = {"pytest": ("-m", "pytest", "-q"), "unittest": ("-m", "unittest"),
                  "django": ("manage.py", "test"), "runtests": ("runtests.py",)}  # fmt: skip
OTHER_RUNNERS = {"npm": ("npm", "test"), "cargo": ("cargo", "test"), "go": ("go", "test", "./...")}


def _argv(clue: Clue, python: Python) -> tuple[str, ...] | None:
    if clue.argv is not None:
        return (python.command, *clue.argv) if clue.argv[0].endswith(".py") else clue.argv
    if clue.runner in PYTHON_RUNNERS:
        return (python.command, *PYTHON_RUNNERS[clue.runner])
    return OTHER_RUNNERS.get(clue.runner)  # tox and nox alone: not run (they need the network)


def rank(found: Iterable[Clue], python: Python,
         check: Callable[[tuple[str, ...], str], Start]) -> tuple[Candidate, ...]:  # fmt: skip
    """The clues summed per command, best supported first (ties: the order of the evidence)."""
    grouped: dict[tuple[str, ...], tuple[str, list[Evidence]]] = {}
    for clue in found:
        argv = _argv(clue, python)
        if argv is None:
            continue
        _, evidence = grouped.setdefault(argv, (clue.runner, []))
        if clue.evidence not in evidence:
            evidence.append(clue.evidence)
    candidates = [Candidate(argv, runner, tuple(ev), check(argv, runner)) for argv, (runner, ev) in grouped.items()]
    return tuple(sorted(candidates, key=lambda c: -c.score))


def detect(root: Path) -> Findings:
    """All the evidence in `root`, weighed into ranked candidates, each tried in the project's environment."""
    python = project_python(root)
    return Findings(rank(clues(root), python, StartChecks(root, python)), python)
