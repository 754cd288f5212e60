"""One step of a run in full, from its journal (`agentic show RUN --step N`): the model's text, each
tool call with its decision and all the tool returned, what a command changed, and every check of
the gate with its whole output. Everything from the journal reaches the terminal through `inert`."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group, RenderableType
from rich.text import Text

from agentic.journal.events import (
    Checkpoint,
    GateVerdict,
    ModelResponse,
    PolicyDecision,
    RunEnd,
    ToolCall,
    ToolResult,
)
from agentic.reports.summary import call_label, events, inert, money


def steps_of(journal: Path) -> list[int]:
    """The steps the journal has records of, in order."""
    return sorted({head.step for head, _ in events(journal) if head.step > 0})


def step_view(journal: Path, step: int) -> Group | None:
    """Step `step` as a person reads it in full; None when the journal has no record of it."""
    parts: list[RenderableType] = []
    for head, event in events(journal):
        if head.step != step:
            continue
        match event:
            case ModelResponse():
                usage = event.usage or {}
                tokens = int(usage.get("input_tokens") or 0) + int(usage.get("output_tokens") or 0)
                parts.append(Text.assemble(("model", "bold"), f"  {tokens} tokens  {money(event.cost_usd)}"))
                if event.text:
                    parts.append(inert(event.text.strip()))
            case ToolCall():
                parts.append(Text.assemble("\n", ("→ ", "bold"), inert(call_label(event.tool or "", event.arguments or ""),
                                                                       style="bold")))  # fmt: skip
            case PolicyDecision():
                style = "green" if event.verdict == "allow" else "red"
                reason = f": {event.reason}" if event.reason else ""
                parts.append(inert(f"  {event.verdict} ({event.by or 'contract'}) {event.rule}{reason}", style=style))
            case ToolResult():
                parts.append(inert(event.content or "(no output)", style="red" if event.is_error else None))
                changed = (event.data or {}).get("changed") or []
                if changed:
                    parts.append(inert("changed: " + ", ".join(f"{c.get('status')} {c.get('path')}" for c in changed)))
            case Checkpoint():
                changes = ", ".join(f"{status} {path}" for status, path in event.changes or [])
                parts.append(inert(f"\ngate on tree {str(event.tree)[:12]}: {changes or 'no change'}", style="bold"))
            case GateVerdict():
                for check in event.checks or []:
                    mark, style = ("✓", "green") if check.get("passed") else ("✗", "red")
                    parts.append(inert(f"{mark} {check.get('id')}", style=f"bold {style}"))
                    parts.append(inert(str(check.get("detail") or "").rstrip()))
                parts.append(inert(f"gate {'passed' if event.passed else 'failed'}", style="bold"))
            case RunEnd():
                parts.append(inert(f"\nrun {event.status}: {event.reason}", style="bold"))
    return Group(*parts) if parts else None
