"""The commands the README and docs show work when copied (issue 16, point 6).

- Every `agentic …` command shown (in code blocks and in running text, about a hundred) is parsed by
  the real CLI: the command exists, and so do its options, with arguments that fit.
- The shell blocks a person copies whole are run as written, by bash, on a real repository: the
  README's "Using it on your repository" (init, commit, doctor, run, show, audit, apply) with the
  OpenAI SDK talking to a local server that speaks its wire format; docs/gate.md's three gates on a
  person's change; docs/events.md's `--json | jq` pipelines. docs/howto/github-actions.md's eval
  commands run in tests/gate/test_actions_example.py, the pre-commit howto's hooks in
  tests/gate/test_precommit.py, `agentic demo` in tests/run/test_run_lifecycle.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import forkshim
from tests.docs_commands import ROOT, parse_error, shown_commands
from tests.fakeprovider import FakeProvider

PARSER = "def parse(text):\n    return [part.strip() for part in text.split(',')]\n"
TEST = ("from parser import parse\n\n\ndef test_empty():\n    assert parse('') == []\n\n\n"
        "def test_two():\n    assert parse('a, b') == ['a', 'b']\n")  # fmt: skip
FIX = {"name": "edit_file", "arguments": {"path": "parser.py", "old_text": "    return [part.strip() for part in text.split(',')]",
                                          "new_text": "    return [part.strip() for part in text.split(',')] if text else []"}}  # fmt: skip
FINISH = {"name": "finish", "arguments": {"summary": "parse('') is []"}}


def test_every_command_the_docs_show_parses() -> None:
    shown = shown_commands()
    assert len(shown) > 80 and any(s.argv[:2] == ["run", "--continue"] or "--continue" in s.argv for s in shown)
    problems = [f"{s}\n    {error}" for s in shown if (error := parse_error(s)) is not None]
    assert not problems, "commands in the docs that the CLI does not take:\n" + "\n".join(problems)


def test_a_wrong_command_in_the_docs_is_caught() -> None:
    from tests.docs_commands import Shown

    assert parse_error(Shown("x.md", 1, "agentic gate --no-such-option", False, ["gate", "--no-such-option"]))
    assert parse_error(Shown("x.md", 1, "agentic prune --older-than", False, ["prune", "--older-than"]))
    assert parse_error(Shown("x.md", 1, "agentic show last extra", False, ["show", "last", "extra"]))


def block(page: str, containing: str) -> str:
    """The fenced shell block of `page` that contains `containing`, as written."""
    text = (ROOT / page).read_text(encoding="utf-8")
    for found in re.finditer(r"^```bash\n(.*?)^```", text, re.S | re.M):
        if containing in found.group(1):
            return found.group(1)
    raise AssertionError(f"{page} has no bash block with {containing!r}")


def person_repo(root: Path) -> Path:
    """A small Python project with a failing test, as a person has it: pytest configured, one commit."""
    root.mkdir()
    (root / "parser.py").write_text(PARSER)
    (root / "tests").mkdir()
    (root / "tests" / "test_parser.py").write_text(TEST)
    (root / "pyproject.toml").write_text('[project]\nname = "parser"\nversion = "1.0"\n\n'
                                         '[tool.pytest.ini_options]\npythonpath = ["."]\n')  # fmt: skip
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "parser"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=person_env())
    return root


def person_env(**more: str) -> dict[str, str]:
    # this interpreter's scripts last: first, its `python` (with every pytest plugin installed beside it)
    # would run the gate's tests instead of the suite's (tests/hermetic.py), at a second each
    bindir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{os.environ['PATH']}{os.pathsep}{bindir}", "NO_COLOR": "1",
            "GIT_AUTHOR_NAME": "P", "GIT_AUTHOR_EMAIL": "p@example.invalid", "GIT_COMMITTER_NAME": "P",
            "GIT_COMMITTER_EMAIL": "p@example.invalid", **more}  # fmt: skip


def bash(script: str, repo: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The script as a person's shell runs it; its `agentic` is the CLI started by the session's fork
    server (tests/forkshim.py)."""
    full = person_env(**env)
    full["PATH"] = forkshim.path_with(repo.parent / "forkshim", full["PATH"])
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=repo,
                          env=full, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)  # fmt: skip


@pytest.mark.skipif(not (Path(sys.executable).parent / "agentic").exists(), reason="agentic is not installed here")
@pytest.mark.slow
@pytest.mark.proof
def test_the_readme_and_the_docs_shell_blocks_run_as_written_on_a_real_repository(tmp_path: Path) -> None:
    repo = person_repo(tmp_path / "parser")
    turns: list[dict[str, Any]] = [{"text": "parse('') splits into ['']; an empty text has no parts.", "tool_calls": [FIX]},
             {"tool_calls": [{"name": "run_tests", "arguments": {}}]}, {"tool_calls": [FINISH]},
             {"tool_calls": [FINISH]}, {"tool_calls": [FINISH]}]  # fmt: skip
    with FakeProvider(turns) as fake:
        model_env = {"OPENAI_BASE_URL": fake.openai_base_url}
        readme = block("README.md", "agentic init")
        script = (readme.replace("cd your-repo", f"cd {repo}")
                  .replace("export OPENAI_API_KEY=...", "export OPENAI_API_KEY=sk-test-not-a-real-key"))  # fmt: skip
        assert script != readme and "agentic apply last" in script
        done = bash(script, repo, **model_env)
        assert done.returncode == 0, done.stdout + done.stderr
        out = done.stdout
        assert "test command" in out.lower() and "pytest" in out  # init's detection, then doctor's checks
        assert "accepted: the gate passed" in out and "journal intact" in out, out  # run, show, audit
        assert "if text else []" in (repo / "parser.py").read_text()  # apply brought the fix onto main
        assert subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout == ""

        # docs/gate.md, on a person's change: a new test, staged
        (repo / "tests" / "test_more.py").write_text("from parser import parse\n\n\ndef test_one():\n"
                                                    "    assert parse('x') == ['x']\n")  # fmt: skip
        subprocess.run(["git", "add", "tests/test_more.py"], cwd=repo, check=True)
        gated = bash(block("docs/gate.md", "agentic gate --staged"), repo)
        assert gated.returncode == 0, gated.stdout + gated.stderr
        assert (repo / "gate.xml").is_file() and '"passed": true' in (repo / "gate.json").read_text()

        # docs/events.md: the event stream through jq
        if shutil.which("jq") is None and not os.environ.get("AGENTIC_REQUIRE_JQ"):
            pytest.skip("jq is not installed (.ci/run installs it)")
        events = bash(block("docs/events.md", "jq -r .status"), repo, **model_env)
        assert events.returncode == 0, events.stdout + events.stderr
        assert events.stdout.splitlines()[0] == "accepted"  # the first pipeline's status; the second prints
        assert len(events.stdout.splitlines()) == 1  # no refusal in the second run
