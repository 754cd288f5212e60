"""The vocabulary of test-command detection: a piece of evidence and its weight, a clue for a runner, a
candidate command and whether it starts, and the findings that rank them and explain the choice."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

EXPLICIT = 3  # a file names the runner: a config section, tox/nox/make commands, a manifest, manage.py
SUPPORT = 2  # a file implies it: pytest among the requirements, tests importing pytest
HINT = 1  # a Python project with tests, the runner unsaid; a make target wrapping a known runner
REAL = SUPPORT  # evidence at least this heavy counts when runners disagree


@dataclass(frozen=True)
class Evidence:
    """One file's word on how the tests run."""

    source: str  # the file, and the section or target
    says: str
    weight: int

    def __str__(self) -> str:
        return f"{self.source}: {self.says}" if self.says else self.source


@dataclass(frozen=True)
class Clue:
    """Evidence for a runner; `argv` when it names a command other than the runner's own (make test)."""

    runner: str
    evidence: Evidence
    argv: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Start:
    """Whether a candidate's program starts in the project's environment."""

    ok: bool
    detail: str


@dataclass(frozen=True)
class Candidate:
    """A test command, the runner underneath it, the evidence for it and whether it starts."""

    argv: tuple[str, ...]
    runner: str  # `make test` whose recipe runs pytest is a pytest candidate
    evidence: tuple[Evidence, ...]
    start: Start = Start(True, "")

    @property
    def text(self) -> str:
        return shlex.join(self.argv)

    @property
    def score(self) -> int:
        return sum(e.weight for e in self.evidence)

    @property
    def supported(self) -> bool:
        """Some file names or implies this runner (not only a Python project's tests)."""
        return any(e.weight >= REAL for e in self.evidence)

    @property
    def reason(self) -> str:
        """The files that gave it away, for the contract's header and the prompt: each file once, as
        its weightiest evidence names it (`pyproject.toml [tool.pytest]`, not that and `pyproject.toml`)."""
        named: dict[str, tuple[int, str]] = {}  # file -> (weight, the source naming it); first seen first
        for evidence in self.evidence:
            for source in evidence.source.split(", "):
                file = source.split(" [", 1)[0].split(" ", 1)[0]
                if file not in named or evidence.weight > named[file][0]:
                    named[file] = (evidence.weight, source)
        return ", ".join(source for _, source in named.values())

    def describe(self) -> str:
        return "; ".join(str(e) for e in self.evidence)


@dataclass(frozen=True)
class Python:
    """The interpreter a sandboxed Python test command runs, as the contract names it and on this host."""

    command: str  # argv[0]: "python", "python3" or ".venv/bin/python"
    path: str | None  # the program that runs, None when there is none
    origin: str


@dataclass(frozen=True)
class Findings:
    """The ranked candidates (best supported first) and the interpreter they were tried with."""

    candidates: tuple[Candidate, ...]
    python: Python

    @property
    def chosen(self) -> Candidate | None:
        """The best supported candidate that starts; the best supported one when none starts."""
        return next((c for c in self.candidates if c.start.ok), self.candidates[0] if self.candidates else None)

    @property
    def disputed(self) -> bool:
        """Two different runners each have real support (a file names or implies each)."""
        return len({c.runner for c in self.candidates if c.supported}) > 1

    @property
    def unclear(self) -> bool:
        """Worth a word to the person: runners disagree, or the best supported one cannot start."""
        chosen = self.chosen
        return chosen is not None and (self.disputed or not chosen.start.ok or chosen is not self.candidates[0])

    def explain(self, contract_path: str = "policies/contract.yaml") -> list[str]:
        """What was chosen, from which evidence, over which alternatives, and how to change it."""
        chosen = self.chosen
        if chosen is None:
            return []
        others = [c for c in self.candidates if c is not chosen]
        evidence = chosen.describe() if others or self.unclear else chosen.reason  # the detail when it matters
        lines = [f"test command: {chosen.text}, from {evidence}"]
        lines.append(f"  {'starts' if chosen.start.ok else 'cannot start'}: {chosen.start.detail}")
        if others:
            lines.append("not chosen:")
            for other in others:
                state = "" if other.start.ok else f" [cannot start: {other.start.detail}]"
                lines.append(f"  {other.text}, from {other.describe()}{state}")
        if others or not chosen.start.ok:
            lines.append(f"change it with --test-command 'COMMAND' (and --force), or edit test_command in {contract_path}")
        return lines


