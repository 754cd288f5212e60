"""What every standalone HTML report shares: the Jinja2 environment, the escaping and the page frame.

The pages load nothing from the network: CSS and charts (SVG) are inline, there is no script, and a
Content-Security-Policy forbids scripts and remote loads, so a page stays inert even if something
slipped through. Journal content is untrusted (model output, file contents, command output). The
templates are autoescaped, and every value a template prints passes first through `visible` (the
environment's finalize), which makes invisible or control characters (bidi overrides, zero-width,
ANSI escapes) visible as ⟦U+XXXX⟧ instead of letting them reorder text. Only `markupsafe.Markup`
values skip it: what the templates build themselves (macros) and the CSP, a constant of ours.

jinja2 is imported only when a page is rendered, so `agentic --help` does not pay for it.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentic.reports.summary import UNSAFE

if TYPE_CHECKING:
    import jinja2

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'none'; "
    "base-uri 'none'; form-action 'none'"
)
TEMPLATES = Path(__file__).resolve().parent / "templates"


def _visible_char(match: re.Match[str]) -> str:
    text = match.group(0)  # one character, or an ANSI escape sequence: its ESC is named, the rest is plain
    return f"⟦U+{ord(text[0]):04X}⟧{text[1:]}"


def visible(value: object) -> str:
    """The text with every invisible or control character (but newline and tab) shown as ⟦U+XXXX⟧."""
    return UNSAFE.sub(_visible_char, str(value))


def trim(text: str, limit: int) -> tuple[str, int]:
    """The text cut to `limit` characters, and how many were cut."""
    return (text, 0) if len(text) <= limit else (text[:limit], len(text) - limit)


def when(ts: float | None) -> str:
    if not ts:
        return "—"
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _finalize(value: Any) -> Any:
    import markupsafe

    return value if isinstance(value, markupsafe.Markup) else visible(value)


@functools.cache
def environment(folders: tuple[Path, ...]) -> jinja2.Environment:
    """An autoescaping environment over these template folders and the shared ones (`base.html.j2`,
    `macros.html.j2`, `style.css`); undefined names are errors, not empty text."""
    import jinja2
    import markupsafe

    loader = jinja2.FileSystemLoader([*(str(f) for f in folders), str(TEMPLATES)])
    env = jinja2.Environment(loader=loader, autoescape=True, finalize=_finalize, trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined)  # fmt: skip
    env.filters["trim_to"] = trim
    env.globals["CSP"] = markupsafe.Markup(CSP)  # a constant of ours, written as it is
    return env


def render(template: str, folders: Sequence[Path] = (), **context: Any) -> str:
    """The page `template` (found in `folders`, then the shared folder) rendered with `context`."""
    made = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return environment(tuple(folders)).get_template(template).render(made=made, **context)
