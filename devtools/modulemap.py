"""The module map (docs/reference/modules.md): every package of `agentic`, lowest layer first, and every
module in it with its one job, taken from the module's docstring.

LAYERS is the layering that tests/test_layers.py enforces and docs/architecture.md draws.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

# Lowest first. A module may import modules of its own package and of packages listed before it.
LAYERS = ["errors", "util", "models", "journal", "policy", "config", "git", "sandbox", "workspace",
          "reports", "tools", "gate", "agent", "observe", "run", "eval", "cli"]  # fmt: skip


def docstring_summary(path: Path) -> str:
    """The first paragraph of a module's docstring, on one line ("" when it has none)."""
    doc = ast.get_docstring(ast.parse(path.read_text("utf-8"))) or ""
    return " ".join(doc.split("\n\n")[0].split())


def modules_of(package_dir: Path) -> list[Path]:
    """A package's modules, its own `__init__.py` first, sub-packages' modules after its own."""
    own = sorted(p for p in package_dir.glob("*.py") if p.name != "__init__.py")
    subs = sorted(p for p in package_dir.iterdir() if (p / "__init__.py").is_file())
    found = [package_dir / "__init__.py", *own]
    for sub in subs:
        found += modules_of(sub)
    return found


def render(package: Path, md: Callable[..., str], marker: str) -> str:
    """The page. `md(text, cell=...)` escapes prose for Markdown (docgen's `md_text`)."""
    lines = ["# Module map", "", f"{marker} from the modules' docstrings; do not edit by hand. -->", "",
             "Every module of `agentic`, package by package, lowest layer first: a module imports only its own "
             "package and the layers before it on this page (`tests/test_layers.py` holds the code to that). "
             "How the pieces work together: [architecture](../architecture.md).", ""]  # fmt: skip
    for number, layer in enumerate(LAYERS, 1):
        if layer == "errors":
            rows = [package / "errors.py", package / "__init__.py", package / "__main__.py"]
            lines += [f"## {number}. `errors.py` and the package root", ""]
        else:
            folder = package / layer
            rows = modules_of(folder)[1:]
            lines += [f"## {number}. `{layer}/`", "", md(docstring_summary(folder / "__init__.py")), ""]
        lines += ["| module | its one job |", "|---|---|"]
        lines += [f"| `{p.relative_to(package).as_posix()}` | {md(docstring_summary(p), cell=True) or '—'} |" for p in rows]
        lines.append("")
    return "\n".join(lines)
