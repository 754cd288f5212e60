"""`agentic doctor`: what works on this machine and in this repository, and how to fix what doesn't."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentic.config.settings import Settings, load_settings
from agentic.errors import AgenticError
from agentic.eval.onray import check_nodes
from agentic.gate.counting import SOURCE_DIRS, Baseline, count_tests, imported_elsewhere, src_packages
from agentic.git.cmd import run_git
from agentic.models._common import is_vendor_url
from agentic.policy.contract import Contract, command_env, is_pytest, is_unittest, load_contract
from agentic.policy.engine import decide
from agentic.policy.mcpservers import McpServer
from agentic.sandbox import CommandResult, make_sandbox, program_envs, sandbox_level
from agentic.tools.mcp import McpHub
from agentic.workspace import RepoInfo, Workspace, ensure_excluded, find_repo, recover_apply


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    essential: bool = True
    contract: Contract | None = field(default=None, repr=False, compare=False)  # the contract check's, for the test check

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "contract"}


def check_git() -> Check:
    path = shutil.which("git")
    if path is None:
        return Check("git", False, "git is not installed", "install git (apt-get install git)")
    version = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return Check("git", True, version)


def check_repo(start: Path) -> tuple[Check, RepoInfo | None]:
    try:
        info = find_repo(start)
    except AgenticError as exc:
        return Check("repository", False, exc.message, exc.hint or ""), None
    try:
        recovered = recover_apply(info.root)  # an `agentic apply` killed half-way: undone now
    except AgenticError as exc:
        return Check("repository", False, exc.message, exc.hint or ""), info
    note = f"; {recovered}" if recovered else ""
    return Check("repository", True, f"{info.root} at {info.head[:12]} ({info.branch or 'detached'}){note}"), info


def check_sandbox() -> list[Check]:
    level = sandbox_level()
    checks = [Check("sandbox", level.name != "none", f"{level.name}: {level.summary()}", level.fix)]
    for feature, on in level.features.items():
        checks.append(Check(f"sandbox: {feature}", on, "active" if on else "not available", essential=False))
    return checks


def check_settings(info: RepoInfo | None) -> list[Check]:
    checks = []
    try:
        settings = load_settings(info.root if info else None)
    except AgenticError as exc:
        return [Check("settings", False, exc.message, exc.hint or "fix the file named above")]
    checks.append(Check("settings", True, f"model {settings.model or '(none)'}, contract {settings.contract}"))
    ref = settings.contract
    if info is not None and settings.origins.get("contract") == "default" and not (info.root / ref).is_file():
        ref = "default"
    try:
        contract = load_contract(ref, info.root if info else None)
        checks.append(Check("contract", True, f"{contract.source}: {len(contract.tools)} tool rules, "
                                              f"{len(contract.invariants)} invariants", contract=contract))  # fmt: skip
    except AgenticError as exc:
        checks.append(Check("contract", False, exc.message, exc.hint or "run `agentic contract check`"))
    checks.extend(check_model(settings))
    return checks


KEYS = {"openai": "OPENAI_API_KEY", "openai-responses": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
DOMAINS = {"openai": "openai.com", "openai-responses": "openai.com", "anthropic": "anthropic.com"}
URLS = {"openai": ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
        "openai-responses": ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
        "anthropic": ("ANTHROPIC_BASE_URL", "https://api.anthropic.com")}  # fmt: skip


def check_model(settings: Settings) -> list[Check]:
    if not settings.model:
        return [Check("model", False, "no model configured", "set `model:` in .agentic.yaml or pass --model")]
    prefix, _, model_id = settings.model.partition(":")
    if prefix == "script":
        exists = Path(model_id).is_file()
        return [Check("model", exists, f"scripted model {model_id}", "" if exists else "the script file is missing")]
    if prefix not in KEYS:
        return [Check("model", False, f"unknown provider {prefix!r}", "use openai:, openai-responses:, anthropic:")]
    env_url, default_url = URLS[prefix]
    url = settings.base_url or os.environ.get(env_url) or default_url
    # a key is needed unless the base URL points away from the vendor (Ollama, vLLM, a proxy)
    local = not is_vendor_url(settings.base_url or os.environ.get(env_url) or None, DOMAINS[prefix])
    key = KEYS[prefix]
    has_key = bool(os.environ.get(key))
    checks = [Check("api key", has_key or local, f"{key} is {'set' if has_key else 'not set'}",
                    "" if has_key or local else f"export {key}=…")]  # fmt: skip
    checks.append(reachable(url))
    return checks


def reachable(url: str, timeout_s: float = 3.0) -> Check:
    """Any HTTP answer means the server is there; only connection failures count against it."""
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=timeout_s)
    except urllib.error.HTTPError:
        pass
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Check("provider reachable", False, f"{url}: {reason}",
                     "check the base URL, the network, or start the local server")  # fmt: skip
    return Check("provider reachable", True, url)


TEST_TIMEOUT_S = 300.0
RAN = re.compile(r"(?m)^Ran (\d+) tests? in|(\d+) (?:passed|failed|errors?)\b|^(?:FAILED|OK)\b")
CAUSES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"No module named '?([\w.]+)'?"), "module {0} is missing in the sandbox's Python",
     "install it in the project's environment (the sandbox sees the Python on PATH and the checkout's .venv, "
     "read-only), or point test_command at that environment: [.venv/bin/python, -m, pytest]"),
    (re.compile(r"(?:command not found|No such file or directory: '([^']+)'|execvp)"),
     "the test command's program is not found in the sandbox",
     "set test_command to a program on PATH, or to the project's interpreter (.venv/bin/python …)"),
    (re.compile(r"go: downloading (\S+) (v\S+)"), "Go module {0} {1} is not in this machine's module cache",
     "run `go mod download` in the repository: the sandbox has no network, and reads the machine's module "
     "cache (GOMODCACHE, ~/go/pkg/mod) read-only"),
    (re.compile(r"Temporary failure in name resolution|Network is unreachable|getaddrinfo|Name or service not known"),
     "a test needs the network, which the sandbox does not have",
     "mark those tests and leave them out of test_command (pytest -m 'not network'), or give them a local fake"),
    (re.compile(r"no tests ran|collected 0 items|Ran 0 tests"), "the test command runs no test",
     "check its arguments and the test paths; `agentic init` detects the runner"),
)  # fmt: skip


def check_tests(info: RepoInfo, contract: Contract, settings: Settings) -> list[Check]:
    """Run the contract's test command once, in the sandbox, on a clean checkout of HEAD: does the
    runner start, and do the tests pass on the base? Then, for pytest and unittest, where the tests
    import the project's packages from: the checkout, or an installed copy the gate would judge instead."""
    shown = " ".join(contract.test_command)
    ensure_excluded(info.root)
    argv = list(contract.test_command)
    packages = src_packages(info.root) if is_pytest(argv) or is_unittest(argv) else []
    try:
        workspace = Workspace(info.root, f"doctor-{os.getpid()}", info.head, contract.generated)
        with workspace.checkout(info.head) as root:
            sandbox = make_sandbox(root, [], fallback=settings.sandbox == "auto", env=command_env(contract),
                                   expose=program_envs(contract.test_command))  # fmt: skip
            try:
                rule = contract.tools.get("run_tests")
                timeout = min(rule.timeout_s or TEST_TIMEOUT_S, TEST_TIMEOUT_S) if rule else TEST_TIMEOUT_S
                result = sandbox.run(argv, timeout_s=timeout)
                ran = packages and not result.timed_out
                imported = count_tests(argv, sandbox, root, timeout, packages) if ran else Baseline(None)
            finally:
                sandbox.close()
    except AgenticError as exc:
        return [Check("test command", False, f"{shown}: {exc.message}", exc.hint or "")]
    return [judge_tests(shown, result, info.root), *judge_imports(imported)]


def judge_imports(facts: Baseline) -> list[Check]:
    """A project package the tests import from somewhere other than the checkout (an installed copy:
    a `pip install .`, not editable): the gate would test that copy, never the change."""
    if not any(facts.modules.values()):
        return []
    elsewhere = imported_elsewhere(facts)
    if not elsewhere:
        return [Check("project imports", True, f"the tests import {', '.join(sorted(n for n, p in facts.modules.items() if p))} "
                                               "from the checkout", essential=False)]  # fmt: skip
    name, where = sorted(elsewhere.items())[0]
    return [Check("project imports", False, f"the tests import {name} from {where}, not from the checkout: the gate "
                  "would judge that copy, never the change",
                  "install the project editable (pip install -e .) in the environment the test command runs, or add "
                  "`env: {PYTHONPATH: src}` to the contract")]  # fmt: skip


def _source_dir_of(root: Path, module: str) -> str | None:
    """The directory below the root that holds a top-level module (a src layout), or None."""
    top = module.split(".")[0]
    for base in SOURCE_DIRS:
        if (root / base / top).is_dir() or (root / base / f"{top}.py").is_file():
            return base
    return None


def _ignored_module(root: Path, module: str) -> str | None:
    """The file of `module` (a version file, an extension built in place) that the person's checkout
    holds and git ignores, as a path relative to the root; None when there is none."""
    rel = Path(*module.split("."))
    for base in (Path(), *map(Path, SOURCE_DIRS)):
        stem = root / base / rel
        found = [stem.with_suffix(".py"), stem / "__init__.py", *stem.parent.glob(f"{stem.name}.*.so"),
                 *stem.parent.glob(f"{stem.name}.*.pyd")]  # fmt: skip
        for path in found:
            rel_path = path.relative_to(root).as_posix()
            if path.is_file() and run_git(["check-ignore", "-q", "--", rel_path], root).returncode == 0:
                return rel_path
    return None


def judge_tests(shown: str, result: CommandResult, root: Path | None = None) -> Check:
    """What one test run says about the set-up: the cause and a fix when the runner did not work."""
    tail = " ".join(result.output.strip().splitlines()[-1:])[:160]
    if result.timed_out:
        return Check("test command", False, f"{shown}: still running after {result.duration_s:.0f}s",
                     "narrow test_command, or raise run_tests' timeout_s in the contract")  # fmt: skip
    for pattern, cause, fix in CAUSES:
        found = pattern.search(result.output)
        if found and (result.exit_code != 0 or "no test" in cause):
            if "missing" in cause and root is not None and (ignored := _ignored_module(root, found.group(1))):
                fix = (f"{ignored} is in your checkout but git ignores it (the build writes it), so the sandbox's "
                       f"clean checkout lacks it: list it under `generated:` in the contract")  # fmt: skip
            elif "missing" in cause and root is not None and (base := _source_dir_of(root, found.group(1))):
                fix = (f"the project keeps {found.group(1)} in {base}/ and it is not installed: add "
                       f"`env: {{PYTHONPATH: {base}}}` to the contract, or install the project editable in its "
                       ".venv (.venv/bin/pip install -e .) and point test_command at .venv/bin/python")  # fmt: skip
            return Check("test command", False, f"{shown}: {cause.format(*(g or '' for g in found.groups()))}", fix)
    if result.exit_code == 0:
        return Check("test command", True, f"{shown}: passes in the sandbox in {result.duration_s:.1f}s ({tail})")
    if RAN.search(result.output):
        return Check("test command", False, f"{shown}: runs in the sandbox, but tests fail on HEAD ({tail})",
                     "a run must make them pass for the gate to accept its change", essential=False)  # fmt: skip
    return Check("test command", False, f"{shown}: exit status {result.exit_code} before any test ran ({tail})",
                 "run it yourself in the repository to see why; `agentic init` detects the runner")  # fmt: skip


def diagnose(start: Path, quick: bool = False) -> list[Check]:
    checks = [check_git()]
    repo_check, info = check_repo(start)
    checks.append(repo_check)
    checks.extend(check_sandbox())
    checks.extend(check_settings(info))
    contract = next((c.contract for c in checks if getattr(c, "contract", None) is not None), None)
    if quick or info is None or contract is None:
        return checks
    sandboxed = any(c.name == "sandbox" and c.ok for c in checks)
    if not sandboxed:
        return [*checks, Check("test command", False, "not tried: no sandbox to run it in", "see the sandbox check")]
    settings = load_settings(info.root)
    return [*checks, *check_tests(info, contract, settings), *check_mcp(info, contract, settings)]


def check_mcp(info: RepoInfo, contract: Contract, settings: Settings) -> list[Check]:
    """Each MCP server the contract declares, started as a run starts it (stdio: in the sandbox, on a
    clean checkout of HEAD, never the person's own): its tools and what the contract decides for each."""
    if not contract.mcp_servers:
        return []
    try:
        workspace = Workspace(info.root, f"doctor-mcp-{os.getpid()}", info.head, contract.generated)
        with workspace.checkout(info.head) as root:
            return [_check_server(server, root, contract, settings) for server in contract.mcp_servers]
    except AgenticError as exc:
        return [Check("mcp servers", False, exc.message, exc.hint or "")]


def _check_server(server: McpServer, root: Path, contract: Contract, settings: Settings) -> Check:
    """One server, started and listed, its tools grouped by the contract's verdict."""
    try:
        with McpHub((server,), root, lifetime_s=60, fallback=settings.sandbox == "auto") as hub:
            by_verdict: dict[str, list[str]] = {}
            for tool in hub.tools:
                verdict = decide(contract, tool.name, "mcp", {}).verdict
                read_only = " (read-only)" if tool.annotations.get("readOnlyHint") else ""
                by_verdict.setdefault(verdict, []).append(tool.tool + read_only)
    except AgenticError as exc:
        return Check(f"mcp server {server.name}", False, exc.message, exc.hint or "")
    decided = "; ".join(f"{v}: {', '.join(names)}" for v, names in sorted(by_verdict.items()))
    count = sum(len(names) for names in by_verdict.values())
    return Check(f"mcp server {server.name}", True, f"{server.transport}, {count} tools; {decided or 'none'}")


def check_ray(address: str | None) -> list[Check]:
    """`doctor --ray`: every node of the Ray cluster asked whether it can sandbox with bubblewrap (an eval
    attempt on a node that cannot is refused, never run unconfined) and which agentic it runs."""
    try:
        nodes = check_nodes(address)
    except AgenticError as exc:
        return [Check("ray cluster", False, exc.message, exc.hint or "")]
    checks = [Check("ray cluster", bool(nodes), f"{len(nodes)} nodes alive at {address or 'a new local cluster'}",
                    "" if nodes else "start nodes with `ray start --address HEAD:PORT`")]  # fmt: skip
    for node in nodes:
        fix = node.get("fix") or "install bubblewrap on the node (apt-get install bubblewrap)"
        checks.append(Check(f"ray node {node.get('node')} ({node.get('address')})", bool(node.get("ok")),
                            f"agentic {node.get('agentic', '?')}; sandbox {node.get('sandbox')}: {node.get('detail')}",
                            "" if node.get("ok") else fix))  # fmt: skip
    return checks
