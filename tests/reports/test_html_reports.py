"""The HTML reports as a person sees them: rendered in headless Chromium (Debian's `chromium`).

Each report must load without console messages (a script blocked by the page's Content-Security-Policy
or a failed load would log one), show its key sections, and paint a screenshot that is not blank.
Journal content is untrusted: a `<script>` in a model message or a file must show as text.

Without Chromium these tests skip, unless AGENTIC_REQUIRE_CHROMIUM is set (CI sets it), where they fail.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from agentic.eval import Attempt, compare, eval_page, summarize, write_html
from agentic.reports.html import run_page
from agentic.reports.htmlkit import environment
from tests.conftest import FINISH, cli, write_script

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
REQUIRED = bool(os.environ.get("AGENTIC_REQUIRE_CHROMIUM"))
EVIL = "</div></pre><script>document.title='PWNED'</script><img src=x onerror=\"document.title='PWNED'\">"


@dataclass
class Rendered:
    dom: str
    console: list[str]
    png: bytes


@pytest.fixture
def chromium() -> str:
    if CHROMIUM is None:
        if REQUIRED:
            pytest.fail(
                "AGENTIC_REQUIRE_CHROMIUM is set but chromium is not installed (apt-get install chromium)"
            )
        pytest.skip("chromium is not installed (apt-get install chromium); CI sets AGENTIC_REQUIRE_CHROMIUM")
    return CHROMIUM


def _chromium(binary: str, page: Path, profile: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    argv = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
        "--window-size=1280,1600", *mode, page.as_uri(),
    ]  # fmt: skip
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False
    )


def render(binary: str, page: Path, tmp: Path) -> Rendered:
    """The DOM after load, the console messages, and a screenshot of the page in headless Chromium."""
    dumped = _chromium(binary, page, tmp / "profile-dom", "--dump-dom")
    assert dumped.returncode == 0 and "<html" in dumped.stdout, dumped.stderr[-2000:]
    shot = tmp / f"{page.stem}.png"
    painted = _chromium(binary, page, tmp / "profile-png", f"--screenshot={shot}")
    assert painted.returncode == 0 and shot.exists(), painted.stderr[-2000:]
    console = [
        line for out in (dumped.stderr, painted.stderr) for line in out.splitlines() if ":CONSOLE" in line
    ]
    return Rendered(dumped.stdout, console, shot.read_bytes())


def assert_not_blank(png: bytes) -> None:
    """Many colours, and a good share of pixels unlike the background: text, tables, charts were painted."""
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.size == (1280, 1600), (image.format, image.size)
        rgb = image.convert("RGB")
    pixels = [rgb.getpixel((x, y)) for y in range(0, 1600, 8) for x in range(0, 1280, 8)]
    colours = set(pixels)
    background = max(colours, key=pixels.count)
    inked = sum(1 for p in pixels if p != background) / len(pixels)
    assert len(colours) > 50, f"only {len(colours)} colours: the page looks blank"
    assert inked > 0.03, f"only {inked:.1%} of the page differs from the background"


class Elements(HTMLParser):
    """The elements and attributes of a serialized DOM (text is not markup, whatever it says)."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str]] = []
        self.title = ""
        self._in_title = False
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [(name, value or "") for name, value in attrs]
        self._in_title = tag == "title" and not self.title

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def assert_clean(rendered: Rendered) -> None:
    """Nothing blocked or failed to load, no element or handler came from the content, no remote asset."""
    assert rendered.console == [], rendered.console
    elements = Elements(rendered.dom)
    active = elements.tags & {"script", "img", "iframe", "object", "embed", "link", "base", "form"}
    assert not active, active
    handlers = [name for name, _ in elements.attributes if name.startswith("on")]
    assert handlers == [], handlers
    remote = [v for name, v in elements.attributes if name in ("src", "href") and not v.startswith("#")]
    assert remote == [], remote
    assert elements.title.startswith("agentic") and "PWNED" not in elements.title


# -- the run report -------------------------------------------------------------------------------


@pytest.fixture
def run_with_evil_content(repo: Path, tmp_path: Path) -> Path:
    """An accepted run whose model messages, tool arguments and diff carry markup and a control character."""
    fix = {
        "name": "edit_file",
        "arguments": {
            "path": "calc.py",
            "old_text": "return sum(values) / (len(values) - 1)",
            "new_text": f"return sum(values) / len(values)  # {EVIL}",
        },
    }
    turns = [
        {
            "text": f"Looking around. {EVIL}\u202eevil",
            "tool_calls": [{"name": "list_files", "arguments": {}}],
        },
        {
            "text": "Reading the secrets.",
            "tool_calls": [{"name": "read_file", "arguments": {"path": ".env"}}],
        },
        {"text": "Fixing.", "tool_calls": [fix]},
        {"text": "Testing.", "tool_calls": [{"name": "run_tests", "arguments": {}}]},
        {"text": "Done.", "tool_calls": [FINISH]},
    ]
    script = write_script(tmp_path / "evil.yaml", turns)
    done = cli("run", "fix the average <b>now</b>", "--model", f"script:{script}", "--json", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["status"] == "accepted"
    return repo


@pytest.mark.proof
def test_show_html_writes_a_run_report_a_person_can_read(
    run_with_evil_content: Path, tmp_path: Path, chromium: str
) -> None:
    report = tmp_path / "run.html"
    done = cli("show", "last", "--html", str(report), cwd=run_with_evil_content)
    assert done.returncode == 0, done.stderr
    assert "report:" in done.stdout and report.exists()
    rendered = render(chromium, report, tmp_path)
    assert_clean(rendered)
    dom = rendered.dom
    for anchor in ("summary", "usage", "timeline", "diff", "gates", "events"):
        assert f'id="{anchor}"' in dom, anchor
    assert "fix the average &lt;b&gt;now&lt;/b&gt;" in dom  # the task, as text
    assert "accepted" in dom and "the gate passed" in dom
    # each step with its message, tool calls, arguments and decisions
    assert 'id="step-1"' in dom and 'id="step-5"' in dom
    assert "Looking around. &lt;/div&gt;&lt;/pre&gt;&lt;script&gt;document.title='PWNED'" in dom
    assert "⟦U+202E⟧evil" in dom  # a bidi override is shown, not obeyed
    assert "tools.read_file.deny[0]" in dom and "deny" in dom
    assert "&quot;path&quot;: &quot;calc.py&quot;" in dom or '"path": "calc.py"' in dom
    # the final change: the commit's diff against the base, the evil comment as text
    assert "diff --git a/calc.py b/calc.py" in dom
    assert "+    return sum(values) / len(values)  # &lt;/div&gt;" in dom
    # gate results per check and the usage chart
    for check in ("tests-pass", "protected-unchanged", "small"):
        assert check in dom
    assert "<svg" in dom and "<polyline" in dom and "cumulative tokens" in dom
    assert_not_blank(rendered.png)


def test_run_report_of_a_rejected_run_without_a_repository(repo: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "t.yaml", [{"text": "I give up <now>", "tool_calls": [FINISH]}] * 3)
    done = cli("run", "x", "--model", f"script:{script}", "--json", cwd=repo)
    assert done.returncode != 0
    journal = next((repo / ".agentic" / "runs").glob("*/journal.jsonl"))
    page = run_page(journal)
    assert "I give up &lt;now&gt;" in page and "<now>" not in page
    assert "gate failed" in page and "no repository given" in page
    assert "rejected" in page or "failed" in page


def test_templates_escape_markup_and_show_hidden_characters() -> None:
    template = environment(()).from_string('<p title="{{ v }}">{{ v }}</p>')
    assert template.render(v='<a href="x">&</a>') == (
        '<p title="&lt;a href=&#34;x&#34;&gt;&amp;&lt;/a&gt;">&lt;a href=&#34;x&#34;&gt;&amp;&lt;/a&gt;</p>'
    )
    assert template.render(v="a\u202eb\x1b[31mc\u200bd") == (
        '<p title="a⟦U+202E⟧b⟦U+001B⟧[31mc⟦U+200B⟧d">a⟦U+202E⟧b⟦U+001B⟧[31mc⟦U+200B⟧d</p>'
    )
    assert template.render(v="line\nnext\ttab") == '<p title="line\nnext\ttab">line\nnext\ttab</p>'


# -- the eval report ------------------------------------------------------------------------------


def _attempt(scenario: str, number: int, verdict: str, reason: str = "") -> Attempt:
    ran = verdict != "error"
    return Attempt(
        scenario, number, verdict, {"pass": "accepted", "fail": "rejected"}.get(verdict, ""),
        reason or verdict, f"run-{number}" if ran else None, 5 if ran else 0, 7 if ran else 0,
        2500 if ran else 0, 0.004 if ran else None, 9.5, {"tests-pass": verdict == "pass"}, ("bugfix",),
    )  # fmt: skip


@pytest.mark.proof
def test_eval_html_report_shows_overview_scenarios_regressions_and_fingerprint(
    tmp_path: Path, chromium: str
) -> None:
    spec = {"fix-average": "ppp", "refuse-env": "fff", "wobbly": "ppf", "net": "eee", f"evil-{EVIL}": "ppp"}
    attempts = [
        _attempt(name, i + 1, {"p": "pass", "f": "fail", "e": "error"}[c], reason=f"reason {EVIL}")
        for name, letters in spec.items()
        for i, c in enumerate(letters)
    ]
    summary = summarize(attempts, fingerprint={"model": "m2", "prompt": EVIL}, meta={"repeats": 3})
    base_attempts = [a if a.scenario != "wobbly" else _attempt("wobbly", a.attempt, "pass") for a in attempts]
    baseline = summarize(base_attempts, fingerprint={"model": "m1", "prompt": EVIL}, meta={})
    comparison = compare(summary, baseline, max_drop=0.05)
    assert not comparison.ok
    report = tmp_path / "eval.html"
    write_html(summary, report, comparison)
    rendered = render(chromium, report, tmp_path)
    assert_clean(rendered)
    dom = rendered.dom
    for anchor in ("overview", "comparison", "scenarios", "fingerprint"):
        assert f'id="{anchor}"' in dom, anchor
    assert "pass rate over 12 attempts" in dom and "95% interval" in dom and "pass@3" in dom
    assert "regression" in dom and "wobbly: passed 3/3 in the baseline, now 2/3" in dom
    assert "fingerprint changed" in dom and "model" in dom
    assert dom.index("wobbly") < dom.index("fix-average")  # the regression is listed first
    assert "evil-&lt;/div&gt;" in dom and "reason &lt;/div&gt;" in dom
    assert "<svg" in dom and "$0.0480" in dom
    assert_not_blank(rendered.png)


def test_eval_html_report_without_comparison_or_runs(tmp_path: Path) -> None:
    report = tmp_path / "eval.html"
    write_html(summarize([], fingerprint={}, meta={}), report)
    text = report.read_text()
    assert 'id="overview"' in text and 'id="comparison"' not in text and "none recorded" in text


# -- the templates --------------------------------------------------------------------------------

HIDDEN = "\u202e\u200b\x1b[31m\x00"


def test_every_value_a_template_prints_is_escaped_and_made_visible() -> None:
    """The templates' environment escapes markup and shows hidden characters in text and attributes,
    also where no filter is written (a scenario's name, an attempt's reason in a title attribute)."""
    attempts = [_attempt(f"s{HIDDEN}<b>", 1, "fail", reason=f'r{HIDDEN}"><script>x</script>')]
    page = eval_page(summarize(attempts, fingerprint={f"k{HIDDEN}": f"v{HIDDEN}"}, meta={}))
    assert not any(c in page for c in HIDDEN[:2] + "\x1b\x00")
    assert "s⟦U+202E⟧⟦U+200B⟧⟦U+001B⟧[31m⟦U+0000⟧&lt;b&gt;" in page
    assert 'title="fail · rejected · r⟦U+202E⟧⟦U+200B⟧⟦U+001B⟧[31m⟦U+0000⟧&#34;&gt;&lt;script&gt;' in page
    assert "<script" not in page and "k⟦U+202E⟧" in page and "v⟦U+202E⟧" in page
    assert page.count('http-equiv="Content-Security-Policy"') == 1 and "script-src 'none'" in page


def test_templates_ship_as_package_data_and_jinja2_stays_lazy() -> None:
    root = Path(__file__).resolve().parents[2]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["agentic"]
    templates = [p.relative_to(root / "agentic") for p in (root / "agentic").rglob("templates/*")]
    assert {"reports/templates/run.html.j2", "eval/templates/eval.html.j2"} <= {str(t) for t in templates}
    assert all(any(t.match(g) for g in globs) for t in templates), (templates, globs)
    code = "import sys, agentic.eval, agentic.reports.html; print('jinja2' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
