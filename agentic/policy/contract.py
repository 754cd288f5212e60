"""The contract: loading, validation and its typed form.

A contract is YAML validated against agentic/schemas/contract.schema.json, then checked further
(globs and command patterns must parse). It comes from a path in the repository or from a preset
shipped with agentic (`default`, `strict`, `readonly`).

Path and command rules may carry `examples: {allow: [...], ask: [...], deny: [...]}`: paths (file
tools) or command strings (run_command) with the verdict the rule must give them. They are kept with
their file and line in `Contract.examples`; `agentic contract check` verifies them with
`policy.check_examples`.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from agentic.errors import ConfigError, UsageError
from agentic.policy.hooks import Hooks, parse_hooks
from agentic.policy.mcpservers import McpServer, parse_servers
from agentic.util import globs, yamlfile
from agentic.util.redact import looks_secret

PRESETS = ("default", "strict", "readonly")
DEFAULT_TEST_COMMAND = ("python", "-m", "pytest", "-q")
ALWAYS_PROTECTED = (".agentic.yaml", ".agentic/**", ".git/**")

Patterns = bool | tuple[str, ...]


@dataclass(frozen=True)
class Limits:
    max_steps: int = 40
    max_tool_calls: int = 80
    timeout_s: float = 1800.0
    max_total_tokens: int | None = None
    max_gate_attempts: int = 3
    max_cost_usd: float | None = None  # checked before each model call against its worst case
    max_tokens_per_step: int | None = None  # the output cap sent with each model request
    max_files_changed: int | None = None  # files the agent's write tools may change
    max_disk_mb: float = 2048.0  # how much the worktree may grow, across all the run's commands
    max_repeats: int = 3  # the same call (or error) this many times in a row: a warning; once more: stuck
    max_retries: int = 4  # of one failed model request (agentic.util.retry)

    def output_cap(self, setting: int) -> int:
        """Output tokens a model call may use: the setting, lowered by max_tokens_per_step."""
        return min(setting, self.max_tokens_per_step) if self.max_tokens_per_step else setting


@dataclass(frozen=True)
class Rule:
    allow: Patterns = False
    ask: Patterns = False
    deny: Patterns = False
    timeout_s: float | None = None
    reasons: Mapping[str, str] = field(default_factory=dict, compare=False)  # pattern → why, told when it decides


REVIEWS = ("allow", "ask", "deny")


@dataclass(frozen=True)
class Changes:
    """Results judged on the change at the gate, whatever made them (see agentic.agent.review)."""

    delete_tracked: str = "ask"
    runs_code: str = "ask"
    runs_code_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class Example:
    """A rule's example: the verdict `subject` (a path, or a command for run_command) must get."""

    tool: str
    expected: str  # allow | ask | deny
    subject: str
    file: str  # as shown to people
    line: int | None


CHECK_OPTIONS = ("timeout_s", "junit_report")  # keys of a check that qualify it, not kinds of check


def is_pytest(argv: list[str] | tuple[str, ...]) -> bool:
    """`pytest …`, `py.test …` or `python -m pytest …`."""
    if not argv:
        return False
    program = Path(argv[0]).name
    if program in ("pytest", "py.test"):
        return True
    return program.startswith("python") and list(argv[1:3]) == ["-m", "pytest"]


def is_unittest(argv: list[str] | tuple[str, ...]) -> bool:
    """`python -m unittest …`."""
    return bool(argv) and Path(argv[0]).name.startswith("python") and list(argv[1:3]) == ["-m", "unittest"]


AUDIENCES = ("agent", "person")  # whose changes an invariant may bind (agentic.gate: `--for`)


@dataclass(frozen=True)
class Invariant:
    id: str
    description: str
    check: dict[str, Any]
    binds: tuple[str, ...] = AUDIENCES  # whose changes it checks: "agent" (a run), "person" (a commit, a PR)

    @property
    def kind(self) -> str:
        return next(k for k in self.check if k not in CHECK_OPTIONS)


@dataclass(frozen=True)
class Contract:
    source: str  # as shown to people: a path or "preset:default"
    sha256: str
    test_command: tuple[str, ...] = DEFAULT_TEST_COMMAND
    protected: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    tools: dict[str, Rule] = field(default_factory=dict)
    invariants: tuple[Invariant, ...] = ()
    description: str = ""
    examples: tuple[Example, ...] = ()
    ask_files_changed_above: int | None = None  # approvals.files_changed_above
    changes: Changes = field(default_factory=Changes)
    env: Mapping[str, str | None] = field(default_factory=dict, compare=False)  # for every sandboxed command
    env_passthrough: tuple[str, ...] = ()  # host variables passed through by name
    generated: tuple[str, ...] = ()  # globs of ignored files copied into each checkout (agentic.workspace.generated)
    hooks: Hooks = field(default_factory=Hooks)  # commands run at points of a run (agentic.policy.hooks)
    mcp_servers: tuple[McpServer, ...] = ()  # whose tools the agent gets (agentic.policy.mcpservers)
    text: str = field(default="", repr=False, compare=False)  # the YAML as read (journaled at run.start)

    @property
    def hash_ref(self) -> str:
        return f"sha256:{self.sha256}"

    def binding(self, whom: str) -> Contract:
        """The contract with only the invariants that bind `whom` ("agent" or "person")."""
        return replace(self, invariants=tuple(i for i in self.invariants if whom in i.binds))


def _patterns(value: Any) -> Patterns:
    """true, false, or the patterns of a list whose items are strings or {pattern, reason}."""
    if isinstance(value, bool):
        return value
    return tuple(item["pattern"] if isinstance(item, dict) else item for item in value)


def _reasons(rule: dict[str, Any]) -> dict[str, str]:
    return {item["pattern"]: item["reason"] for key in ("allow", "ask", "deny") if isinstance(rule.get(key), list)
            for item in rule[key] if isinstance(item, dict)}  # fmt: skip


def _check_patterns(doc: yamlfile.Document, at: yamlfile.JsonPath, value: Any, command: bool) -> None:
    if isinstance(value, bool):
        return
    for i, item in enumerate(value):
        pattern = item["pattern"] if isinstance(item, dict) else item
        try:
            if command:
                if not shlex.split(pattern):
                    raise ValueError("empty command pattern")
            else:
                globs.validate(pattern)
        except ValueError as exc:
            kind = "command pattern" if command else "glob"
            raise doc.error(f"bad {kind} {pattern!r}: {exc}", (*at, i)) from None


def parse_contract(doc: yamlfile.Document, text: str, protect_self: str | None,
                   repo_root: Path | None = None) -> Contract:  # fmt: skip
    if not isinstance(doc.data, dict):
        raise doc.error("a contract is a mapping with at least 'version: 1'")
    yamlfile.validate(doc, "contract")
    data: dict[str, Any] = doc.data
    tools: dict[str, Rule] = {}
    examples: list[Example] = []
    for name, rule in (data.get("tools") or {}).items():
        for key in ("allow", "ask", "deny"):
            if key in rule:
                _check_patterns(doc, ("tools", name, key), rule[key], command=name == "run_command")
            for i, subject in enumerate((rule.get("examples") or {}).get(key) or []):
                line = doc.locator.line(("tools", name, "examples", key, i))
                examples.append(Example(name, key, subject, doc.path, line))
        tools[name] = Rule(
            allow=_patterns(rule.get("allow", False)),
            ask=_patterns(rule.get("ask", False)),
            deny=_patterns(rule.get("deny", False)),
            timeout_s=rule.get("timeout_s"),
            reasons=_reasons(rule),
        )
    protected = list(data.get("protected") or [])
    _check_patterns(doc, ("protected",), protected, command=False)
    invariants = []
    seen: set[str] = set()
    for i, item in enumerate(data.get("invariants") or []):
        if item["id"] in seen:
            raise doc.error(f"duplicate invariant id {item['id']!r}", ("invariants", i, "id"))
        seen.add(item["id"])
        check = item["check"]
        if len([k for k in check if k not in CHECK_OPTIONS]) != 1:
            raise doc.error("a check names exactly one kind of check", ("invariants", i, "check"))
        for option in CHECK_OPTIONS:
            if option in check and "command" not in check and "tests" not in check:
                raise doc.error(f"{option} applies to command and tests checks only", ("invariants", i, "check"))
        test_argv = data.get("test_command") or DEFAULT_TEST_COMMAND
        if check.get("tests") and not ("junit_report" in check or is_pytest(test_argv) or is_unittest(test_argv)):
            raise doc.error(
                "the gate reads test results from a report, never from an exit status alone: this test_command "
                "is neither pytest nor python -m unittest, so name the JUnit XML file it writes with junit_report",
                ("invariants", i, "check"),
            )
        if "junit_report" in check:
            rel = check["junit_report"]
            if rel.startswith(("/", "~")) or ".." in Path(rel).parts:
                raise doc.error("junit_report is a path inside the repository", ("invariants", i, "check", "junit_report"))
        for key in ("allow", "deny"):
            if key in check.get("changed_paths", {}):
                _check_patterns(
                    doc, ("invariants", i, "check", "changed_paths", key), check["changed_paths"][key], False
                )
        invariants.append(Invariant(item["id"], item.get("description", ""), check, tuple(item.get("binds") or AUDIENCES)))
    hooks = parse_hooks(doc, data.get("hooks") or {}, repo_root)
    servers, server_paths = parse_servers(doc, data.get("mcp") or {}, repo_root)
    always = [*ALWAYS_PROTECTED, *hooks.paths, *server_paths]
    if protect_self:
        always.append(protect_self)
    return Contract(
        source=doc.path,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        text=text,
        test_command=tuple(data.get("test_command") or DEFAULT_TEST_COMMAND),
        protected=tuple(dict.fromkeys(always + protected)),
        ask_files_changed_above=(data.get("approvals") or {}).get("files_changed_above"),
        limits=Limits(**(data.get("limits") or {})),
        tools=tools,
        invariants=tuple(invariants),
        description=data.get("description", ""),
        examples=tuple(sorted(examples, key=lambda e: e.line or 0)),
        changes=_changes(doc, data.get("changes") or {}),
        env=_env(doc, data.get("env") or {}),
        env_passthrough=_passthrough(doc, data.get("env_passthrough") or []),
        generated=_generated(doc, data.get("generated") or []),
        hooks=hooks,
        mcp_servers=servers,
    )


SECRET_NAME = re.compile(r"(?i)key|token|secret|passw|credential|auth|private|session|cookie|signature")
RESERVED_ENV = re.compile(r"^GIT_CONFIG_")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env(doc: yamlfile.Document, data: dict[str, Any]) -> dict[str, str | None]:
    for name, value in data.items():
        if not ENV_NAME.fullmatch(name):
            raise doc.error(f"{name!r} is not a variable name (letters, digits and _, not first a digit)", ("env",))
        if SECRET_NAME.search(name) or RESERVED_ENV.match(name):
            why = "keeps git safe in the sandbox" if RESERVED_ENV.match(name) else "looks like a secret's name"
            raise doc.error(f"{name} {why}: commands never get it", ("env", name))
        if value is not None and looks_secret(value):
            raise doc.error(f"the value of {name} looks like a secret: commands never get one", ("env", name))
    return dict(data)


def _passthrough(doc: yamlfile.Document, names: list[str]) -> tuple[str, ...]:
    for i, name in enumerate(names):
        if SECRET_NAME.search(name) or RESERVED_ENV.match(name):
            raise doc.error(f"{name} looks like a secret's name: it is never passed to commands", ("env_passthrough", i))
    return tuple(names)


def _generated(doc: yamlfile.Document, patterns: list[str]) -> tuple[str, ...]:
    for i, pattern in enumerate(patterns):
        try:
            globs.validate(pattern)
        except ValueError as exc:
            raise doc.error(f"bad glob {pattern!r}: {exc}", ("generated", i)) from None
        if pattern.startswith("!") or pattern.split("/", 1)[0] in (".git", ".agentic"):
            raise doc.error(f"{pattern!r}: name files of the checkout (no '!', nothing in .git or .agentic)",
                            ("generated", i))  # fmt: skip
    return tuple(patterns)


def command_env(contract: Contract, environ: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """The variables the contract gives every sandboxed command: `env_passthrough` from the harness's
    environment, then `env`. ConfigError when a passed-through value looks like a secret."""
    environ = os.environ if environ is None else environ
    out: dict[str, str | None] = {}
    for name in contract.env_passthrough:
        value = environ.get(name)
        if value is None:
            continue
        if looks_secret(value):
            raise ConfigError(f"env_passthrough: the value of {name} looks like a secret, so it is not passed",
                              file=contract.source, hint=f"remove {name} from env_passthrough, or unset it")  # fmt: skip
        out[name] = value
    out.update(contract.env)
    return out


def _changes(doc: yamlfile.Document, data: dict[str, Any]) -> Changes:
    paths = list(data.get("runs_code_paths") or [])
    _check_patterns(doc, ("changes", "runs_code_paths"), paths, command=False)
    return Changes(data.get("delete_tracked", "ask"), data.get("runs_code", "ask"), tuple(paths))


def tighten(contract: Contract, given: dict[str, Any], origin: str = "command line") -> Contract:
    """The contract with some limits lowered for one run (`agentic run --limit NAME=VALUE`).

    Values are checked against the contract schema; a value that would loosen a limit the contract
    sets is refused: flags can only tighten.
    """
    if not given:
        return contract
    yamlfile.validate(yamlfile.Document(origin, {"version": 1, "limits": given}, yamlfile.Locator(None)), "contract")
    for name, value in given.items():
        current = getattr(contract.limits, name)
        if current is not None and value > current:
            raise UsageError(
                f"--limit {name}={value} would loosen the contract's {name} ({current})",
                hint="flags can only tighten the contract's limits; change the contract to loosen them",
            )
    return replace(contract, limits=replace(contract.limits, **given))


def preset_text(name: str) -> str:
    return resources.files("agentic").joinpath("presets", f"{name}.yaml").read_text("utf-8")


def load_contract(ref: str, repo_root: Path | None) -> Contract:
    """Load the contract named by settings: a preset name, or a path relative to the repository."""
    if ref in PRESETS:
        text = preset_text(ref)
        return parse_contract(yamlfile.parse(text, f"preset:{ref}"), text, None)
    path = Path(ref)
    if not path.is_absolute() and repo_root is not None:
        path = repo_root / path
    if not path.is_file():
        hint = f"set `contract:` in .agentic.yaml to a file, or to a preset: {', '.join(PRESETS)}"
        raise ConfigError("contract file not found", file=ref, hint=hint)
    text = yamlfile.read_text(path, ref)
    rel = None
    if repo_root is not None:
        try:
            rel = path.resolve().relative_to(repo_root.resolve()).as_posix()
        except ValueError:
            rel = None
    return parse_contract(yamlfile.parse(text, ref), text, rel, repo_root)


def load_contract_file(path: Path) -> Contract:
    """Load a contract from an explicit file (for `agentic contract check FILE`)."""
    if not path.is_file():
        raise ConfigError("contract file not found", file=str(path))
    text = yamlfile.read_text(path, str(path))
    return parse_contract(yamlfile.parse(text, str(path)), text, None)
