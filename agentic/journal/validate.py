"""The writers' side of the typed events: a payload checked against its kind's class before it is
appended (`check`), and the required fields it lacks (`missing`). See agentic.journal.events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentic.journal.events import KINDS, EventError
from agentic.journal.fields import fits, specs


def check(kind: str, data: Mapping[str, Any]) -> None:
    """A writer's payload against its kind's class: EventError for a field the class does not declare
    or a value of the wrong type. Kinds without a class pass (tests and newer kinds)."""
    cls = KINDS.get(kind)
    if cls is None:
        return
    fields_ = specs(cls)
    for key, value in data.items():
        spec = fields_.get(key)
        if spec is None:
            raise EventError(f"{kind} has no field {key!r} (add it to agentic.journal.events.{cls.__name__})")
        if not fits(value, spec.written):
            raise EventError(f"{kind}.{key} is {type(value).__name__}, not {spec.written}")


def missing(kind: str, data: Mapping[str, Any]) -> list[str]:
    """Required fields of a known kind the payload lacks (what this version's writers always write)."""
    cls = KINDS.get(kind)
    if cls is None:
        return []
    return [key for key, spec in specs(cls).items() if spec.required and key not in data]
