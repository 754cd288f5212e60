"""YAML's safe subset, parsed by libyaml when PyYAML was built with it (several times faster than the
pure-Python parser, which is what PyYAML falls back to): the same data and errors either way."""

from __future__ import annotations

from typing import Any

import yaml

SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> Any:
    """`yaml.safe_load`, through libyaml when it is there."""
    return yaml.load(text, Loader=SAFE_LOADER)
