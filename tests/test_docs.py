"""The documentation stays true: generated references current and complete, links resolve, defaults agree.

When a test here says the generated pages are stale, run `python -m devtools.docgen` and commit the result.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from devtools import docgen

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "run `python -m devtools.docgen` (from the repository root) and commit docs/reference/"


@pytest.fixture(scope="module")
def generated() -> dict[Path, str]:
    return docgen.generated_files()


# --- the generated references ---------------------------------------------------------------------


def test_committed_reference_pages_are_current(generated: dict[Path, str]) -> None:
    stale = docgen.stale_files(ROOT, generated)
    assert not stale, f"generated docs are stale: {', '.join(p.as_posix() for p in stale)}; {REGENERATE}"


def test_generation_is_deterministic(generated: dict[Path, str]) -> None:
    assert docgen.generated_files() == generated


def test_every_schema_has_a_reference_page(generated: dict[Path, str]) -> None:
    schemas = sorted(p.name.removesuffix(".schema.json") for p in (ROOT / "agentic/schemas").glob("*.schema.json"))
    assert {"contract", "settings"} <= set(schemas)
    for name in schemas:
        assert Path(f"docs/reference/{name}.md") in generated, name
    assert Path("docs/reference/cli.md") in generated


@pytest.mark.parametrize("name", docgen.schema_names())
def test_every_schema_property_is_in_its_reference(name: str, generated: dict[Path, str]) -> None:
    page = generated[Path(f"docs/reference/{name}.md")]
    schema = docgen.load_schema(name)
    missing = [key for key in docgen.schema_properties(schema) if f"| `{key}`" not in page]
    assert not missing, f"{name}: keys without a row in the reference: {missing}"
    for value in _enum_values(schema):
        assert f"`{value}`" in page, f"{name}: allowed value {value!r} not shown"


@pytest.mark.parametrize("name", docgen.schema_names())
def test_every_keyword_a_schema_uses_is_rendered(name: str) -> None:
    unknown = docgen.unrendered_keywords(docgen.load_schema(name))
    assert not unknown, f"{name}.schema.json uses {unknown}: teach devtools/docgen.py to render them"


def _enum_values(node: object) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        found += [str(v) for v in node.get("enum", [])]
        for value in node.values():
            found += _enum_values(value)
    elif isinstance(node, list):
        for value in node:
            found += _enum_values(value)
    return found


def test_contract_reference_shows_types_constraints_and_defaults() -> None:
    page = docgen.contract_reference()
    row = _row(page, "max_steps")
    assert "integer" in row and "≥ 1" in row and "| 40 |" in row and "Model calls per run" in row
    assert "| `version` (required) | always `1` |" in page
    assert "matching `^[A-Za-z0-9][A-Za-z0-9_.-]*$`" in _row(page, "id")
    assert "## `limits`" in page and "### `invariant.check`" in page and "### `pathRule`" in page
    assert "[`pathRule`](#pathrule)" in _row(page, "read_file")  # links to the definition's section


def test_settings_reference_shows_the_built_in_defaults() -> None:
    from agentic.config.settings import Settings

    page = docgen.settings_reference()
    assert "one of `auto`, `bubblewrap`" in _row(page, "sandbox")
    assert f"`{Settings().max_output_tokens}`" in _row(page, "max_output_tokens")
    assert "`policies/contract.yaml`" in _row(page, "contract")
    assert "## `prices.<name>`" in page and "At least one of: `webhook`, `command`." in page


def _row(page: str, key: str) -> str:
    return next(line for line in page.splitlines() if line.startswith(f"| `{key}`"))


def test_defaults_stated_in_the_contract_schema_match_the_code() -> None:
    from agentic.policy.contract import Limits

    limits = docgen.load_schema("contract")["properties"]["limits"]["properties"]
    for f in dataclasses.fields(Limits):
        stated = docgen.described_default(limits[f.name].get("description", ""))
        if stated is None:
            continue
        expected = "no limit" if f.default is None else docgen._yaml_scalar(f.default)
        assert stated == expected, f"limits.{f.name}: the schema says default {stated!r}, the code uses {f.default!r}"


def test_cli_reference_covers_every_command_and_option(generated: dict[Path, str]) -> None:
    page = generated[Path("docs/reference/cli.md")]
    commands = docgen.cli_commands()
    paths = [c.path for c in commands]
    for expected in ("agentic run", "agentic contract check", "agentic tools disable", "agentic journal verify"):
        assert expected in paths
    for c in commands:
        section = page.split(f"## `{c.path}`\n", 1)
        assert len(section) == 2, f"no section for {c.path}"
        body = section[1].split("\n## ", 1)[0]
        for param in c.command.params:
            if getattr(param, "hidden", False) or "--help" in param.opts:
                continue
            name = param.opts[0] if param.param_type_name != "argument" else docgen._argument_word(param)
            assert f"`{name}`" in body, f"{c.path}: {name} is not documented"


def test_cli_reference_renders_help_examples_and_defaults() -> None:
    page = docgen.cli_reference()
    assert "```\nagentic run [OPTIONS] TASK\n```" in page
    assert "```bash\nagentic resume last\n```" in page
    assert "| `--limit` | `NAME=VALUE` |" in page
    assert "| `--repo`, `-C` | `PATH` | Repository to work in (default: the current one). Default: `.`. |" in page


# --- the generator's entry point ------------------------------------------------------------------


def test_check_and_write_modes(tmp_path: Path) -> None:
    pages = {Path("docs/reference/a.md"): "# A\n", Path("docs/reference/b.md"): "# B\n"}
    assert docgen.stale_files(tmp_path, pages) == sorted(pages)
    assert docgen.write_files(tmp_path, pages) == sorted(pages)
    assert docgen.stale_files(tmp_path, pages) == []
    (tmp_path / "docs/reference/a.md").write_text("# edited by hand\n")
    (tmp_path / "docs/reference/gone.md").write_text(f"# Old\n\n{docgen.MARKER} from x. -->\n")
    (tmp_path / "docs/reference/notes.md").write_text("# Written by a person\n")
    assert docgen.stale_files(tmp_path, pages) == [Path("docs/reference/a.md"), Path("docs/reference/gone.md")]
    docgen.write_files(tmp_path, pages)
    assert (tmp_path / "docs/reference/a.md").read_text() == "# A\n"
    assert not (tmp_path / "docs/reference/gone.md").exists()
    assert (tmp_path / "docs/reference/notes.md").exists()  # not generated: left alone


def test_main_check_exits_1_naming_stale_pages_and_what_to_run(tmp_path: Path) -> None:
    said: list[str] = []
    assert docgen.main(["--check", "--root", str(tmp_path)], out=said.append) == 1
    assert "stale: docs/reference/cli.md" in said and "stale: docs/reference/contract.md" in said
    assert said[-1] == "regenerate with: python -m devtools.docgen"
    assert not (tmp_path / "docs").exists()
    assert docgen.main(["--root", str(tmp_path)], out=said.append) == 0
    said.clear()
    assert docgen.main(["--check", "--root", str(tmp_path)], out=said.append) == 0
    assert said == ["generated docs are up to date"]


def test_the_generator_is_not_in_the_runtime_package_and_importing_it_does_nothing(tmp_path: Path) -> None:
    def probe(code: str) -> str:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path, env=env)
        return done.stdout.strip()

    assert probe("import importlib.util as u; print(u.find_spec('agentic.docgen'))") == "None"
    loaded = probe("import sys, devtools.docgen; print(' '.join(m for m in sys.modules if m.startswith(('agentic', 'devtools'))))")
    assert set(loaded.split()) == {"devtools", "devtools.docgen", "devtools.modulemap"}  # typer, the CLI and settings only when used
    assert list(tmp_path.iterdir()) == []


# --- Markdown helpers -----------------------------------------------------------------------------


@pytest.mark.parametrize(("heading", "anchor"), [
    ("The contract", "the-contract"),
    ("`agentic eval run`", "agentic-eval-run"),
    ("The eval's verdict and exit codes", "the-evals-verdict-and-exit-codes"),
    ("`invariant.check.changed_paths`", "invariantcheckchanged_paths"),
    ("`prices.<name>`", "pricesname"),
    ("Limits, cost, rate limits and provider faults", "limits-cost-rate-limits-and-provider-faults"),
])  # fmt: skip
def test_anchors_follow_github(heading: str, anchor: str) -> None:
    assert docgen.heading_anchors(f"# {heading}\n") == {anchor}


def test_repeated_headings_are_numbered_and_fenced_code_is_not_a_heading() -> None:
    text = "# Usage\n\n```bash\n# not a heading\n```\n\n## Usage\n"
    assert docgen.heading_anchors(text) == {"usage", "usage-1"}


def test_prose_is_escaped_outside_code_spans() -> None:
    assert docgen.md_text("'*' and '**' in <run>, not `a|*b`", cell=True) == r"'\*' and '\*\*' in &lt;run>, not `a\|*b`"
    assert docgen.md_text("max_steps and AGENTIC_*") == r"max_steps and AGENTIC\_\*"


# --- the architecture page ------------------------------------------------------------------------


def test_architecture_names_every_package() -> None:
    """docs/architecture.md has a row per package; the module map (generated) has one per module."""
    page = (ROOT / "docs/architecture.md").read_text("utf-8")
    rows = {m.group(1) for m in re.finditer(r"^\| `([^`]+)` \|", page, re.M)}
    package = ROOT / "agentic"
    packages = {f"{p.name}/" for p in package.iterdir() if (p / "__init__.py").is_file()} | {"errors.py"}
    missing = sorted(packages - rows)
    assert not missing, f"docs/architecture.md: add a row for {', '.join(missing)} (its job)"
    gone = sorted(r for r in rows if r not in packages)
    assert not gone, f"docs/architecture.md names packages that do not exist: {', '.join(gone)}"
    modules = (ROOT / "docs/reference/modules.md").read_text("utf-8")
    for path in package.rglob("*.py"):
        top_init = path.name == "__init__.py" and path.parent.parent == package  # the package's paragraph
        if "demo_data" not in path.parts and not top_init:
            assert f"| `{path.relative_to(package).as_posix()}` |" in modules, f"{path} missing from the module map"


# --- links ----------------------------------------------------------------------------------------

_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(?:<([^>]*)>|([^)\s]+))(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]]+\]:\s+<?(\S+?)>?(?:\s|$)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every inline or reference link outside code blocks and code spans."""
    found = []
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip()
        opening = re.match(r"(`{3,}|~{3,})", stripped)
        if fence is None and opening:
            fence = opening.group(1)
            continue
        if fence is not None:
            if stripped.startswith(fence) and not stripped[len(fence) :].strip():
                fence = None
            continue
        prose = re.sub(r"(`+).+?\1", "", line)
        found += [(number, m.group(1) or m.group(2)) for m in _INLINE_LINK.finditer(prose)]
        found += [(number, m.group(1)) for m in _REFERENCE_LINK.finditer(prose)]
    return found


def test_link_extraction() -> None:
    text = ("see [a](docs/a.md) and [b](b.md#part \"title\"), not `[c](c.md)`\n"
            "```\n[d](d.md)\n```\n[e]: ../e.md\n![img](<i m g.png>)\n")  # fmt: skip
    assert [t for _, t in _links(text)] == ["docs/a.md", "b.md#part", "../e.md", "i m g.png"]


@pytest.mark.parametrize("page", _markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_point_to_existing_files_and_anchors(page: Path) -> None:
    problems = []
    for number, target in _links(page.read_text("utf-8")):
        if _SCHEME.match(target):
            continue
        path_part, _, anchor = target.partition("#")
        where = (page.parent / path_part).resolve() if path_part else page
        label = f"{page.relative_to(ROOT)}:{number}: {target}"
        if not where.exists():
            problems.append(f"{label}: no such file")
        elif ROOT not in where.parents and where != ROOT:
            problems.append(f"{label}: outside the repository")
        elif anchor and where.suffix == ".md" and anchor not in docgen.heading_anchors(where.read_text("utf-8")):
            problems.append(f"{label}: no heading with anchor #{anchor}")
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_every_command_has_an_example_in_its_help() -> None:
    commands = docgen.cli_commands()
    groups = {" ".join(c.path.split()[:-1]) for c in commands}
    missing = [c.path for c in commands if c.path not in groups and "Example: agentic " not in (c.command.help or "")]
    assert len(commands) > len(groups) > 1  # the walk reached the commands, loaded or not, and the groups'
    assert not missing, f"commands without an `Example: agentic …` line in their help: {missing}"


# --- the README's set-up and CI -------------------------------------------------------------------


def test_ci_runs_the_readmes_test_command_then_the_proofs() -> None:
    """The README's set-up is two commands, the second the test command; .ci/run runs that command as
    written and then the proofs it leaves out, so nothing marked proof goes untested."""
    quick_start = ROOT.joinpath("README.md").read_text(encoding="utf-8").split("## Quick start", 1)[1]
    block = re.search(r"```bash\n(.*?)```", quick_start, re.S)
    assert block is not None, "README: no set-up block under Quick start"
    commands = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(commands) == 2 and commands[0].endswith("agentic demo"), commands
    ci = [line.strip() for line in ROOT.joinpath(".ci", "run").read_text(encoding="utf-8").splitlines()]
    assert commands[1] in ci, f".ci/run does not run the README's test command {commands[1]!r}"
    proofs = f"{commands[1]} -m proof"
    assert proofs in ci and ci.index(proofs) > ci.index(commands[1]), f".ci/run does not run {proofs!r} after it"
    assert proofs in ROOT.joinpath("README.md").read_text(encoding="utf-8"), "README: the proofs' command is not shown"
