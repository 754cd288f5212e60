"""The payload fields of an event class: how a field is marked (Required, Nullable), the type readers
accept and the type writers write, and whether a JSON value fits a type."""

from __future__ import annotations

import dataclasses
import functools
import operator
import types
import typing
from typing import Annotated, Any, NamedTuple, Union


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


# Every payload field is `T | None`: None when a record does not carry it. In Annotated[T | None, ...]:
Required = _Marker("Required")  # this version always writes the field
Nullable = _Marker("Nullable")  # and the value it writes may be null (otherwise null is never written)


class Spec(NamedTuple):
    """One payload field of an event class: its key on disk, its attribute, the type readers accept (None
    for absent), the type writers write, and whether this version always writes it."""

    key: str
    attr: str
    type: Any
    written: Any
    required: bool


_SPECS: dict[type[Any], dict[str, Spec]] = {}


def specs(cls: type[Any]) -> dict[str, Spec]:
    """The payload fields of an event class by their key on disk (`from`, not `from_`); its `kind` and
    `extra` are not payload."""
    if cls not in _SPECS:
        hints = typing.get_type_hints(cls, include_extras=True)
        found: dict[str, Spec] = {}
        for f in dataclasses.fields(cls):
            if f.name in ("kind", "extra"):
                continue
            hint = hints[f.name]
            marks = hint.__metadata__ if typing.get_origin(hint) is Annotated else ()
            read = typing.get_args(hint)[0] if marks else hint
            arms = [a for a in typing.get_args(read) if Nullable in marks or a is not type(None)]
            written = functools.reduce(operator.or_, arms)
            key = str(f.metadata.get("key", f.name))
            found[key] = Spec(key, f.name, read, written, Required in marks)
        _SPECS[cls] = found
    return _SPECS[cls]


def fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a field's type, one level deep (the elements of a list, the values of a
    TypedDict are not looked into). A bool is no number here, though Python says it is an int."""
    classes, no_bool = accepted(hint)
    return isinstance(value, classes) and not (no_bool and isinstance(value, bool))


@functools.cache
def accepted(hint: Any) -> tuple[tuple[type[Any], ...], bool]:
    """The Python classes a JSON value of this type may have, and whether a bool is refused (a field of
    int or float type): worked out once per type, so checking a record costs a few isinstance calls."""
    if hint is Any:
        return (object,), False
    origin = typing.get_origin(hint)
    if origin is Union or origin is types.UnionType:
        arms = [accepted(arm) for arm in typing.get_args(hint)]
        classes = tuple(dict.fromkeys(c for arm, _ in arms for c in arm))
        return classes, bool not in classes and any(no_bool for _, no_bool in arms)
    if hint is type(None):
        return (type(None),), False
    if origin in (list, tuple):
        return (list, tuple), False  # a tuple is written as a JSON array
    if origin is dict or typing.is_typeddict(hint):
        return (dict,), False
    if hint in (bool, str):
        return (hint,), False
    if hint is int:
        return (int,), True
    if hint is float:
        return (int, float), True
    raise TypeError(f"no JSON check for {hint!r}")
