"""Eval scenarios: loading, validation and their typed form (docs/eval.md describes the format).

One scenario per YAML file, validated against agentic/schemas/scenario.schema.json; every error
names file, line and field. A directory given to `agentic eval` means the `*.yaml` / `*.yml` files
directly in it (not below: fixtures and scripts live in subdirectories). Paths inside a scenario
(the fixture, a local git repository, a contract file, a `script:` model) are relative to the
scenario file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agentic.errors import ConfigError, UsageError
from agentic.policy.contract import PRESETS
from agentic.tools import builtin_tools
from agentic.util import globs, yamlfile

SUFFIXES = (".yaml", ".yml")
URL_SCHEMES = ("file://", "https://", "http://")
DEFAULT_CHECK_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class RepoSource:
    """Where the starting repository comes from: a fixture directory, or a git repository and ref."""

    fixture: Path | None = None
    git: str | None = None  # an absolute local path or a URL
    ref: str = "HEAD"

    def describe(self) -> str:
        return str(self.fixture) if self.fixture is not None else f"{self.git}@{self.ref}"


@dataclass(frozen=True)
class Checks:
    status: str = "accepted"
    fail_to_pass: tuple[str, ...] = ()
    pass_to_pass: tuple[str, ...] = ()
    command: tuple[str, ...] | None = None
    changed_paths: tuple[str, ...] | None = None
    tools_called: tuple[str, ...] = ()
    tools_not_called: tuple[str, ...] = ()
    tools_denied: tuple[str, ...] = ()
    max_steps: int | None = None
    max_tokens: int | None = None
    max_cost_usd: float | None = None
    timeout_s: float = DEFAULT_CHECK_TIMEOUT_S

    @property
    def needs_tests(self) -> bool:
        return bool(self.fail_to_pass or self.pass_to_pass)


@dataclass(frozen=True)
class Scenario:
    id: str
    task: str
    path: Path  # the scenario file
    repo: RepoSource
    checks: Checks
    description: str = ""
    # a preset name or an absolute contract path (str), a mapping merged over the repository's
    # contract (dict), or None: the repository's own contract
    contract: str | dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    model: str | None = None  # resolved: a script path made absolute
    model_written: str | None = None  # as the file says it (for the fingerprint)
    repeats: int = 1
    min_pass_rate: float = 1.0
    tags: tuple[str, ...] = ()
    # the inline contract's place in the file, for errors found when it is merged
    contract_doc: yamlfile.Document | None = field(default=None, compare=False, repr=False)

    @property
    def directory(self) -> Path:
        return self.path.parent


def discover(paths: Iterable[Path]) -> list[Path]:
    """The scenario files named: files as given, directories by their top-level *.yaml files."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such scenario file or directory")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise UsageError(f"no scenario files (*.yaml) in {', '.join(str(p) for p in paths)}")
    return unique


def load_all(paths: Iterable[Path]) -> list[Scenario]:
    """Every scenario of the files and directories given; ids must be unique."""
    scenarios: list[Scenario] = []
    seen: dict[str, Path] = {}
    for file in discover(paths):
        doc = yamlfile.load(file, _shown(file))
        scenario = parse(doc, file)
        if scenario.id in seen:
            raise doc.error(f"duplicate scenario id {scenario.id!r} (also in {_shown(seen[scenario.id])})", ("id",))
        seen[scenario.id] = file
        scenarios.append(scenario)
    return scenarios


def load(path: Path) -> Scenario:
    return parse(yamlfile.load(path, _shown(path)), path.resolve())


def select(scenarios: list[Scenario], tags: Iterable[str]) -> list[Scenario]:
    """The scenarios carrying any of `tags` (all of them when no tag is given)."""
    wanted = set(tags)
    return [s for s in scenarios if not wanted or wanted & set(s.tags)]


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def parse(doc: yamlfile.Document, file: Path) -> Scenario:
    if not isinstance(doc.data, dict):
        raise doc.error("a scenario is a mapping with id, task, repo and checks (one scenario per file)")
    yamlfile.validate(doc, "scenario")
    data: dict[str, Any] = doc.data
    base = file.parent
    contract, contract_doc = _contract(doc, data.get("contract"), base)
    model = data.get("model")
    return Scenario(
        id=data["id"],
        task=data["task"],
        path=file,
        repo=_repo(doc, data["repo"], base),
        checks=_checks(doc, data["checks"]),
        description=data.get("description", ""),
        contract=contract,
        contract_doc=contract_doc,
        settings=_settings(doc, data.get("settings") or {}),
        model=resolve_model(model, base) if model else None,
        model_written=model,
        repeats=data.get("repeats", 1),
        min_pass_rate=float(data.get("min_pass_rate", 1.0)),
        tags=tuple(data.get("tags") or ()),
    )


def resolve_model(name: str, base: Path) -> str:
    """A `script:` model's path made absolute against `base`; other model names as they are."""
    if name.startswith("script:") and not Path(name[7:]).is_absolute():
        return f"script:{(base / name[7:]).resolve()}"
    return name


def _repo(doc: yamlfile.Document, value: Any, base: Path) -> RepoSource:
    if isinstance(value, str):
        fixture = (base / value).resolve()
        if not fixture.is_dir():
            raise doc.error(f"fixture directory {value!r} not found (relative to the scenario file)", ("repo",))
        return RepoSource(fixture=fixture)
    url, ref = value["git"], value.get("ref", "HEAD")
    if url.startswith(URL_SCHEMES):
        return RepoSource(git=url, ref=ref)
    if "://" in url or url.startswith("git@"):
        raise doc.error(f"unsupported repository URL {url!r}: use a local path, file://, http:// or https://",
                        ("repo", "git"))  # fmt: skip
    local = (base / url).resolve()
    if not local.exists():
        raise doc.error(f"git repository {url!r} not found (relative to the scenario file)", ("repo", "git"))
    return RepoSource(git=str(local), ref=ref)


def _subdocument(doc: yamlfile.Document, key: str) -> yamlfile.Document:
    """The value at `key` as a document of its own, its positions still those of the file."""
    node = doc.locator.root
    child = None
    if isinstance(node, yaml.MappingNode):
        child = next((v for k, v in node.value if k.value == key), None)
    return yamlfile.Document(doc.path, doc.data[key], yamlfile.Locator(child))


def validate_part(doc: yamlfile.Document, key: str, data: Any, schema: str) -> None:
    """Validate `data` (the value at `key`, possibly completed) against a schema; errors name `key.field`."""
    sub = _subdocument(doc, key)
    try:
        yamlfile.validate(yamlfile.Document(sub.path, data, sub.locator), schema)
    except ConfigError as exc:
        raise ConfigError(exc.reason, file=exc.file, line=exc.line,
                          field=f"{key}.{exc.field}" if exc.field else key, hint=exc.hint) from None  # fmt: skip


def _contract(
    doc: yamlfile.Document, value: Any, base: Path
) -> tuple[str | dict[str, Any] | None, yamlfile.Document | None]:
    if value is None:
        return None, None
    if isinstance(value, dict):
        validate_part(doc, "contract", {"version": 1, **value}, "contract")  # its shape, before merging
        return value, _subdocument(doc, "contract")
    if value in PRESETS:
        return value, None
    path = (base / value).resolve()
    if not path.is_file():
        raise doc.error(f"contract file {value!r} not found (relative to the scenario file)", ("contract",))
    return str(path), None


def _settings(doc: yamlfile.Document, value: dict[str, Any]) -> dict[str, Any]:
    for key in ("model", "contract"):
        if key in value:
            raise doc.error(f"set the scenario's own `{key}:` rather than settings.{key}", ("settings", key))
    if value:
        validate_part(doc, "settings", value, "settings")
    return dict(value)


def _checks(doc: yamlfile.Document, value: dict[str, Any]) -> Checks:
    known = builtin_tools()
    for key in ("tools_called", "tools_not_called", "tools_denied"):
        for i, name in enumerate(value.get(key) or []):
            if name not in known:
                raise doc.error(f"unknown tool {name!r} (the tools are: {', '.join(sorted(known))})",
                                ("checks", key, i))  # fmt: skip
    for i, pattern in enumerate(value.get("changed_paths") or []):
        try:
            globs.validate(pattern)
        except ValueError as exc:
            raise doc.error(f"bad glob {pattern!r}: {exc}", ("checks", "changed_paths", i)) from None
    both = set(value.get("tools_called") or []) & set(value.get("tools_not_called") or [])
    if both:
        raise doc.error(f"{sorted(both)[0]!r} is both in tools_called and tools_not_called", ("checks",))
    tuples = ("fail_to_pass", "pass_to_pass", "tools_called", "tools_not_called", "tools_denied")
    return Checks(
        status=value.get("status", "accepted"),
        command=tuple(value["command"]) if "command" in value else None,
        changed_paths=tuple(value["changed_paths"]) if "changed_paths" in value else None,
        max_steps=value.get("max_steps"),
        max_tokens=value.get("max_tokens"),
        max_cost_usd=value.get("max_cost_usd"),
        timeout_s=float(value.get("timeout_s", DEFAULT_CHECK_TIMEOUT_S)),
        **{key: tuple(value.get(key) or ()) for key in tuples},
    )


def merge(base: Any, over: Any) -> Any:
    """`over` merged onto `base`: mappings key by key (recursively); anything else replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = merge(base.get(key), value) if key in base else value
        return merged
    return over
