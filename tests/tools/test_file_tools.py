"""The file tools, end to end through agentic.paths, on a plain directory as the worktree."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from agentic.tools.base import ToolContext, ToolFailure, ToolResult
from agentic.tools.files import FILE_TOOLS
from agentic.util.paths import PathRefused

TOOLS = {tool.name: tool for tool in FILE_TOOLS}


@pytest.fixture
def wt(tmp_path: Path) -> Path:
    root = tmp_path / "wt"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "app.py").write_text("import os\n\n\ndef main():\n    return 1\n")
    (root / "src" / "pkg" / "util.py").write_text("def helper():\n    return 'main'\n")
    (root / "README.md").write_text("# Demo\nrun main\n")
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    out.mkdir()
    (out / "bashrc").write_text("original bashrc\n")
    return out


def run(wt: Path, name: str, **args: Any) -> ToolResult:
    tool = TOOLS[name]
    jsonschema.validate(args, tool.parameters)  # what the dispatcher checks before a call
    return tool.execute(args, ToolContext(worktree=wt, sandbox=None, test_command=[]))


# ---------------------------------------------------------------------------------------------
# the tool declarations


def test_tools_and_kinds() -> None:
    kinds = {t.name: t.kind for t in FILE_TOOLS}
    assert kinds == {
        "list_files": "read",
        "read_file": "read",
        "search": "read",
        "write_file": "write",
        "edit_file": "write",
        "delete_file": "write",
    }


@pytest.mark.parametrize("tool", FILE_TOOLS, ids=lambda t: t.name)
def test_parameters_are_strict_json_schema(tool: Any) -> None:
    schema = tool.parameters
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema.get("required", [])) <= set(schema["properties"])
    for prop in schema["properties"].values():
        assert "type" in prop
        if prop["type"] == "string":
            assert "maxLength" in prop
    assert len(tool.description) > 40
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**dict.fromkeys(schema.get("required", []), "x"), "extra": 1}, schema)


def test_schema_limits() -> None:
    assert TOOLS["read_file"].parameters["properties"]["path"]["maxLength"] == 4096
    assert TOOLS["write_file"].parameters["properties"]["content"]["maxLength"] == 1_000_000
    assert TOOLS["edit_file"].parameters["properties"]["old_text"]["minLength"] == 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"path": "a", "limit": 5001}, TOOLS["read_file"].parameters)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"path": "a", "offset": 0}, TOOLS["read_file"].parameters)


# ---------------------------------------------------------------------------------------------
# list_files


def test_list_files(wt: Path, outside: Path) -> None:
    (wt / "src" / "__pycache__").mkdir()
    (wt / "src" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\x00")
    (wt / "node_modules" / "x").mkdir(parents=True)
    (wt / "node_modules" / "x" / "index.js").write_text("")
    (wt / ".venv").mkdir()
    (wt / ".venv" / "pyvenv.cfg").write_text("")
    (wt / ".agentic").mkdir()
    (wt / ".agentic" / "run.json").write_text("")
    (wt / ".git").mkdir()
    (wt / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (wt / ".env").write_text("TOKEN=1\n")
    (wt / "src" / "x").symlink_to(outside / "bashrc")

    result = run(wt, "list_files")
    assert result.content == ".env\nREADME.md\nsrc/app.py\nsrc/pkg/util.py\nsrc/x -> (link)"
    assert not result.is_error
    assert result.data == {"path": ".", "pattern": None, "entries": 5, "total": 5}


def test_list_files_beneath_a_path_and_with_a_pattern(wt: Path) -> None:
    assert run(wt, "list_files", path="src/pkg").content == "src/pkg/util.py"
    # the pattern is matched against the path from the repository root
    assert run(wt, "list_files", pattern="**/*.py").content == "src/app.py\nsrc/pkg/util.py"
    assert run(wt, "list_files", path="src", pattern="src/*.py").content == "src/app.py"
    assert run(wt, "list_files", pattern="*.md").content == "README.md"
    assert run(wt, "list_files", pattern="*.py").content == "(no files match '*.py' beneath .)"


def test_list_files_caps_the_listing(wt: Path) -> None:
    many = wt / "many"
    many.mkdir()
    for i in range(1005):
        (many / f"f{i:04d}.txt").write_text("")
    result = run(wt, "list_files", path="many")
    lines = result.content.splitlines()
    assert len(lines) == 1001
    assert lines[0] == "many/f0000.txt"
    assert lines[999] == "many/f0999.txt"
    assert lines[1000] == "… 5 more files not shown; narrow the listing with path or pattern"
    assert result.data == {"path": "many", "pattern": None, "entries": 1000, "total": 1005}


def test_list_files_failures(wt: Path, outside: Path) -> None:
    (wt / "o").symlink_to(outside)
    with pytest.raises(ToolFailure, match="bad glob 'a\\['"):
        run(wt, "list_files", pattern="a[")
    with pytest.raises(ToolFailure, match="no such file"):
        run(wt, "list_files", path="missing")
    with pytest.raises(PathRefused):
        run(wt, "list_files", path="../outside")
    with pytest.raises(PathRefused):
        run(wt, "list_files", path="o/deeper")
    assert run(wt, "list_files", path="o").content == "o -> (link)"


# ---------------------------------------------------------------------------------------------
# read_file


def test_read_file(wt: Path) -> None:
    result = run(wt, "read_file", path="src/app.py")
    assert result.content == (
        "     1\timport os\n     2\t\n     3\t\n     4\tdef main():\n     5\t    return 1"
    )
    assert result.data == {"path": "src/app.py", "bytes": 37, "lines": 5, "offset": 1, "shown": 5}


def test_read_file_offset_and_limit(wt: Path) -> None:
    (wt / "long.txt").write_text("".join(f"line {i}\n" for i in range(1, 2501)))
    result = run(wt, "read_file", path="long.txt", offset=3, limit=2)
    assert result.content == (
        "     3\tline 3\n     4\tline 4\n… 2496 more lines; call read_file with offset=5 to continue"
    )
    default = run(wt, "read_file", path="long.txt").content.splitlines()
    assert len(default) == 2001
    assert default[1999] == "  2000\tline 2000"
    assert default[2000] == "… 500 more lines; call read_file with offset=2001 to continue"
    tail = run(wt, "read_file", path="long.txt", offset=2499)
    assert tail.content == "  2499\tline 2499\n  2500\tline 2500"
    with pytest.raises(ToolFailure, match=re.escape("offset 2501 is past the end: long.txt has 2500 lines")):
        run(wt, "read_file", path="long.txt", offset=2501)


def test_read_file_text_edge_cases(wt: Path) -> None:
    (wt / "empty.txt").write_text("")
    assert run(wt, "read_file", path="empty.txt").content == "(empty.txt is empty)"
    (wt / "crlf.txt").write_bytes(b"a\r\nb\r\n")
    assert run(wt, "read_file", path="crlf.txt").content == "     1\ta\n     2\tb"
    (wt / "latin1.txt").write_bytes(b"caf\xe9\n")
    assert run(wt, "read_file", path="latin1.txt").content == "     1\tcaf\ufffd"
    (wt / "nonl.txt").write_text("x\ny")
    assert run(wt, "read_file", path="nonl.txt").content == "     1\tx\n     2\ty"
    (wt / "wide.txt").write_text("z" * 2100 + "\n")
    assert (
        run(wt, "read_file", path="wide.txt").content == "     1\t" + "z" * 2000 + "… [100 more characters]"
    )


def test_read_file_refuses_binary_and_huge_files(wt: Path) -> None:
    (wt / "blob.bin").write_bytes(b"PK\x03\x04\x00\x00data")
    with pytest.raises(ToolFailure, match=re.escape("blob.bin is a binary file")):
        run(wt, "read_file", path="blob.bin")
    with (wt / "huge.txt").open("wb") as fh:
        fh.truncate(10 * 1024 * 1024 + 1)
    with pytest.raises(ToolFailure, match="over the limit"):
        run(wt, "read_file", path="huge.txt")


@pytest.mark.parametrize(
    "path",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "~/.ssh/id_ed25519",
        "%2e%2e/x",
        "src/app.py\x00.txt",
        "src/app\u200b.py",
        "src/\u202eyp.ppa",
        "x" * 256,
        ".git/config",
        ".GIT/hooks/x",
    ],
)
def test_read_file_refuses_unsafe_paths(wt: Path, path: str) -> None:
    with pytest.raises(PathRefused):
        run(wt, "read_file", path=path)


def test_read_and_write_through_a_planted_link_are_refused(wt: Path, outside: Path) -> None:
    (wt / "src" / "x").symlink_to(outside / "bashrc")
    with pytest.raises(PathRefused):
        run(wt, "read_file", path="src/x")
    with pytest.raises(PathRefused):
        run(wt, "write_file", path="src/x", content="pwned\n")
    with pytest.raises(PathRefused):
        run(wt, "edit_file", path="src/x", old_text="original", new_text="pwned")
    assert (outside / "bashrc").read_text() == "original bashrc\n"


def test_a_linked_directory_component_is_refused(wt: Path) -> None:
    (wt / "r").symlink_to("/")
    with pytest.raises(PathRefused):
        run(wt, "read_file", path="r/etc/passwd")
    with pytest.raises(PathRefused):
        run(wt, "write_file", path="r/tmp/agentic-escape.txt", content="x")
    assert not Path("/tmp/agentic-escape.txt").exists()


def test_hard_link_to_an_outside_file_is_refused(wt: Path, outside: Path) -> None:
    os.link(outside / "bashrc", wt / "h")
    with pytest.raises(PathRefused):
        run(wt, "read_file", path="h")
    with pytest.raises(PathRefused):
        run(wt, "edit_file", path="h", old_text="original", new_text="pwned")
    assert (outside / "bashrc").read_text() == "original bashrc\n"


# ---------------------------------------------------------------------------------------------
# search


def test_search(wt: Path) -> None:
    result = run(wt, "search", pattern=r"main")
    assert (
        result.content == "README.md:2: run main\nsrc/app.py:4: def main():\nsrc/pkg/util.py:2: return 'main'"
    )
    assert result.data == {
        "path": ".",
        "matches": 3,
        "files_searched": 3,
        "files_skipped": 0,
        "truncated": False,
    }


def test_search_with_path_and_glob(wt: Path) -> None:
    assert run(wt, "search", pattern="main", glob="**/*.py").content == (
        "src/app.py:4: def main():\nsrc/pkg/util.py:2: return 'main'"
    )
    assert run(wt, "search", pattern="main", path="src/pkg").content == "src/pkg/util.py:2: return 'main'"
    assert run(wt, "search", pattern="main", glob="src/*.py").content == "src/app.py:4: def main():"
    assert run(wt, "search", pattern=r"^def \w+\(", path="src/app.py").content == "src/app.py:4: def main():"


def test_search_no_matches(wt: Path) -> None:
    result = run(wt, "search", pattern="nowhere")
    assert result.content == "no matches for 'nowhere' in 3 files beneath ."
    assert not result.is_error
    assert result.data["matches"] == 0


def test_search_invalid_regex(wt: Path) -> None:
    with pytest.raises(
        ToolFailure, match=r"invalid regular expression '\(unclosed': missing \), unterminated"
    ):
        run(wt, "search", pattern="(unclosed")


def test_search_skips_binary_large_and_linked_files(wt: Path, outside: Path) -> None:
    (wt / "blob.bin").write_bytes(b"\x00main")
    (wt / "big.txt").write_text("main\n" * (500 * 1024))  # 2.5 MiB
    (wt / "x").symlink_to(outside / "bashrc")
    (outside / "bashrc").write_text("main\n")
    (wt / "node_modules").mkdir()
    (wt / "node_modules" / "m.js").write_text("main\n")
    result = run(wt, "search", pattern="main")
    assert result.data["matches"] == 3
    assert result.data["files_skipped"] == 2
    assert "blob.bin" not in result.content and "big.txt" not in result.content
    assert "x:" not in result.content and "node_modules" not in result.content


def test_search_trims_lines_and_caps_matches(wt: Path) -> None:
    (wt / "wide.txt").write_text("   needle " + "y" * 400 + "\n")
    assert run(wt, "search", pattern="needle", path="wide.txt").content == "wide.txt:1: needle " + "y" * 293
    (wt / "many.txt").write_text("hit\n" * 250)
    result = run(wt, "search", pattern="hit", path="many.txt")
    lines = result.content.splitlines()
    assert len(lines) == 201
    assert lines[199] == "many.txt:200: hit"
    assert lines[200] == "… stopped after 200 matches; narrow the search with path or glob"
    assert result.data["matches"] == 200 and result.data["truncated"] is True


# ---------------------------------------------------------------------------------------------
# write_file, edit_file, delete_file


def test_write_file(wt: Path) -> None:
    result = run(wt, "write_file", path="src/new/mod.py", content="x = 'é'\n")
    assert result.content == "created src/new/mod.py (9 bytes)"
    assert result.data == {"path": "src/new/mod.py", "bytes": 9, "created": True}
    assert (wt / "src" / "new" / "mod.py").read_text("utf-8") == "x = 'é'\n"
    again = run(wt, "write_file", path="src/new/mod.py", content="")
    assert again.content == "overwrote src/new/mod.py (0 bytes)"
    assert again.data["created"] is False
    assert (wt / "src" / "new" / "mod.py").read_bytes() == b""


def test_write_file_refusals(wt: Path) -> None:
    with pytest.raises(ToolFailure, match="is a directory"):
        run(wt, "write_file", path="src", content="x")
    with pytest.raises(PathRefused):
        run(wt, "write_file", path=".git/hooks/pre-commit", content="#!/bin/sh\n")
    with pytest.raises(PathRefused):
        run(wt, "write_file", path="../escape.txt", content="x")
    assert not (wt.parent / "escape.txt").exists()
    assert not (wt / ".git").exists()


def test_edit_file_once(wt: Path) -> None:
    result = run(wt, "edit_file", path="src/app.py", old_text="    return 1\n", new_text="    return 2\n")
    assert result.content == "edited src/app.py at line 5 (37 bytes)"
    assert result.data == {"path": "src/app.py", "bytes": 37, "created": False, "line": 5}
    assert (wt / "src" / "app.py").read_text() == "import os\n\n\ndef main():\n    return 2\n"


def test_edit_file_not_found(wt: Path) -> None:
    with pytest.raises(ToolFailure, match=re.escape("old_text not found in src/app.py; read_file it")):
        run(wt, "edit_file", path="src/app.py", old_text="return 3", new_text="return 4")
    assert (wt / "src" / "app.py").read_text() == "import os\n\n\ndef main():\n    return 1\n"


def test_edit_file_many(wt: Path) -> None:
    (wt / "dup.py").write_text("x = 1\nx = 1\nx = 1\n")
    with pytest.raises(
        ToolFailure, match=re.escape("old_text occurs 3 times in dup.py; include more surrounding lines")
    ):
        run(wt, "edit_file", path="dup.py", old_text="x = 1", new_text="x = 2")
    (wt / "overlap.txt").write_text("aaa")
    with pytest.raises(ToolFailure, match="occurs 2 times"):
        run(wt, "edit_file", path="overlap.txt", old_text="aa", new_text="b")
    assert (wt / "dup.py").read_text() == "x = 1\nx = 1\nx = 1\n"
    assert (wt / "overlap.txt").read_text() == "aaa"


def test_edit_file_other_failures(wt: Path) -> None:
    with pytest.raises(jsonschema.ValidationError):
        run(wt, "edit_file", path="src/app.py", old_text="", new_text="x")
    with pytest.raises(ToolFailure, match="identical"):
        run(wt, "edit_file", path="src/app.py", old_text="main", new_text="main")
    with pytest.raises(ToolFailure, match="no such file"):
        run(wt, "edit_file", path="missing.py", old_text="a", new_text="b")
    (wt / "latin1.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(ToolFailure, match="not valid UTF-8"):
        run(wt, "edit_file", path="latin1.txt", old_text="caf", new_text="bar")
    assert (wt / "latin1.txt").read_bytes() == b"caf\xe9\n"


def test_edit_file_keeps_crlf(wt: Path) -> None:
    (wt / "win.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    run(wt, "edit_file", path="win.txt", old_text="one\ntwo", new_text="one\n2")
    assert (wt / "win.txt").read_bytes() == b"one\r\n2\r\nthree\r\n"


def test_delete_file(wt: Path, outside: Path) -> None:
    result = run(wt, "delete_file", path="README.md")
    assert result.content == "deleted file README.md"
    assert result.data == {"path": "README.md", "deleted": "file"}
    assert not (wt / "README.md").exists()
    (wt / "x").symlink_to(outside / "bashrc")
    assert run(wt, "delete_file", path="x").content == "deleted symbolic link x"
    assert (outside / "bashrc").read_text() == "original bashrc\n"
    with pytest.raises(ToolFailure, match="is a directory"):
        run(wt, "delete_file", path="src/pkg")
    with pytest.raises(ToolFailure, match="no such file"):
        run(wt, "delete_file", path="README.md")
    assert (wt / "src" / "pkg" / "util.py").exists()


def test_list_and_search_apply_the_contracts_readable_filter(wt: Path) -> None:
    (wt / ".env").write_text("TOKEN=main-secret\n")
    ctx = ToolContext(worktree=wt, sandbox=None, test_command=[])
    ctx.readable = lambda path: not path.startswith(".env")  # type: ignore[attr-defined]
    listing = TOOLS["list_files"].execute({}, ctx)
    assert listing.content == "README.md\nsrc/app.py\nsrc/pkg/util.py"
    found = TOOLS["search"].execute({"pattern": "main"}, ctx)
    assert "secret" not in found.content
    assert found.data["matches"] == 3
    # without a filter the file is listed and searched
    assert "TOKEN=main-secret" in run(wt, "search", pattern="main").content


def test_search_with_a_catastrophic_regex_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from agentic.tools import search
    from agentic.tools.base import ToolContext, ToolFailure

    (tmp_path / "a.txt").write_text("a" * 60 + "b\n")
    monkeypatch.setattr(search, "SEARCH_TIMEOUT_S", 0.3)
    ctx = ToolContext(worktree=tmp_path, sandbox=None, test_command=[])
    start = time.monotonic()
    with pytest.raises(ToolFailure, match=r"took longer than 0\.3s"):
        search.Search().execute({"pattern": "(a+)+$"}, ctx)
    assert time.monotonic() - start < 3
    assert "a.txt:1:" in search.Search().execute({"pattern": "ab$"}, ctx).content  # the timer is gone
