"""The package layering (docs/architecture.md): agentic's packages import only their own layer or lower ones,
with no import cycle, and every module stays small enough to read."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from devtools.modulemap import LAYERS, docstring_summary

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "agentic"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, int, bool]]:
    """(module imported, line, at the top of the file?) for each import of an agentic module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text("utf-8"))
    top = {id(node) for node in tree.body}
    top |= {id(n) for node in tree.body if isinstance(node, ast.If) for n in node.body}  # if TYPE_CHECKING:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names]
            targets = [n for n in names if n in MODULES] or ([base] if base in MODULES else [])
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names if alias.name in MODULES]
        else:
            continue
        found += [(target, node.lineno, id(node) in top) for target in targets if target != name]
    return found


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_package_has_a_layer() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()} | {"errors"}
    assert packages == set(LAYERS)


def test_no_module_imports_a_higher_layer() -> None:
    upward = []
    for name, path in MODULES.items():
        for target, line, _ in _imports(name, path):
            low, high = _layer(name), _layer(target)
            if low is not None and high is not None and high > low:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not upward, "imports against the layering:\n" + "\n".join(upward)


def test_no_import_cycle() -> None:
    graph = {name: {t for t, _, _ in _imports(name, path)} for name, path in MODULES.items()}
    state: dict[str, int] = {}
    cycles: list[str] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_agentic_imports_sit_at_the_top_of_each_file() -> None:
    inner = [
        f"{path.relative_to(ROOT)}:{line} imports {target} inside a function"
        for name, path in MODULES.items()
        for target, line, top in _imports(name, path)
        if not top
    ]
    assert not inner, "\n".join(inner)


def test_no_module_is_too_long() -> None:
    long = {str(p.relative_to(ROOT)): n for p in MODULES.values() if (n := len(p.read_text("utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by job): {long}"


def test_the_architecture_page_draws_the_same_layers() -> None:
    page = (ROOT / "docs/architecture.md").read_text("utf-8")
    drawn = re.search(r"<!-- layers -->\n```\n(.*?)```", page, re.S)
    assert drawn, "docs/architecture.md: the layer drawing (<!-- layers --> then a code block) is missing"
    order = [m.group(1) for m in re.finditer(r"^\s*(\w+)/?\s", drawn.group(1), re.M)]
    assert [layer for layer in order if layer in LAYERS] == LAYERS[::-1]


def test_every_module_says_its_job() -> None:
    """docs/reference/modules.md is generated from these first paragraphs."""
    silent = [str(p.relative_to(ROOT)) for p in MODULES.values() if "demo_data" not in p.parts and not docstring_summary(p)]
    assert not silent, f"modules without a docstring saying their job: {silent}"


def test_tests_are_laid_out_like_the_packages() -> None:
    tests = ROOT / "tests"
    folders = {p.parent.name for p in tests.rglob("test_*.py") if p.parent != tests}
    assert folders <= set(LAYERS), f"test folders that are no package of agentic: {sorted(folders - set(LAYERS))}"
    loose = sorted(p.name for p in tests.glob("test_*.py"))
    # the project's docs, errors.py, its layers, and the suite's own fork server (tests/forkserver.py)
    assert loose == ["test_docs.py", "test_errors.py", "test_forkserver.py", "test_layers.py"], \
        f"put these in their package's folder: {loose}"  # fmt: skip
