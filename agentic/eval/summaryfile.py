"""The eval summary as a versioned JSON file: `dump_summary` writes it, `load_summary` reads it back
(a baseline) and round-trips it exactly; the statistics are recomputed from the attempts on reading
and must match the file's, so an edited or damaged file is refused."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from agentic.errors import ConfigError
from agentic.eval.stats import ATTEMPT_TYPES, VERDICTS, Attempt, EvalSummary, Stats, summarize
from agentic.reports.output import write_file

FORMAT = "agentic-eval"
VERSION = 1


def attempt_dict(attempt: Attempt) -> dict[str, Any]:
    data = asdict(attempt)
    data["tags"] = list(attempt.tags)
    return data


def _stats_dict(stats: Stats, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for f in fields(stats):
        if f.name in skip or (f.name == "cancelled" and not stats.cancelled):
            continue
        value = getattr(stats, f.name)
        data[f.name] = list(value) if isinstance(value, tuple) else value
    return data


def summary_dict(summary: EvalSummary) -> dict[str, Any]:
    """The summary as the JSON object `dump_summary` writes."""
    scenarios = []
    for stats in summary.scenarios:
        data = _stats_dict(stats, skip=("results",))
        data["flaky"] = stats.flaky
        data["results"] = [attempt_dict(a) for a in stats.results]
        scenarios.append(data)
    overall = _stats_dict(summary.overall)
    overall["error_rate"] = summary.overall.error_rate
    return {
        "format": FORMAT,
        "version": VERSION,
        "fingerprint": summary.fingerprint,
        "meta": summary.meta,
        "overall": overall,
        "scenarios": scenarios,
    }


def dumps_summary(summary: EvalSummary) -> str:
    return json.dumps(summary_dict(summary), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def dump_summary(summary: EvalSummary, path: str | Path) -> None:
    write_file(path, dumps_summary(summary))


def _bad(path: Path, message: str, where: str | None = None, hint: str | None = None) -> ConfigError:
    return ConfigError(message, file=str(path), field=where, hint=hint)


def attempt_from(data: Any, path: Path, where: str) -> Attempt:
    """An attempt read back from its JSON object; ConfigError naming `path` and `where` when it is not one."""
    if not isinstance(data, dict) or set(data) != set(ATTEMPT_TYPES):
        raise _bad(path, f"an attempt must be an object with the fields {', '.join(ATTEMPT_TYPES)}", where)
    for name, types in ATTEMPT_TYPES.items():
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, types):
            raise _bad(path, f"has the wrong type ({type(value).__name__})", f"{where}.{name}")
    if data["verdict"] not in VERDICTS:
        raise _bad(path, f"must be one of {', '.join(VERDICTS)}", f"{where}.verdict")
    if not all(isinstance(v, bool) for v in data["checks"].values()) or not all(
        isinstance(t, str) for t in data["tags"]
    ):
        raise _bad(path, "checks must map ids to booleans and tags must be strings", where)
    return Attempt(**{**data, "tags": tuple(data["tags"])})


def _parse(text: str, path: Path) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not JSON: {exc.msg}", file=str(path), line=exc.lineno) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _bad(path, f'not an eval summary (no "format": "{FORMAT}")')
    if data.get("version") != VERSION:
        raise _bad(
            path,
            f"eval summary version {data.get('version')!r}; this agentic reads version {VERSION}",
            hint="re-run the eval (or `agentic eval bless`) to write the baseline in this version",
        )
    for key in ("fingerprint", "meta"):
        if not isinstance(data.get(key), dict):
            raise _bad(path, "must be an object", key)
    if not isinstance(data.get("scenarios"), list):
        raise _bad(path, "must be a list", "scenarios")
    return data


def loads_summary(text: str, path: str | Path = "<summary>") -> EvalSummary:
    path = Path(path)
    data = _parse(text, path)
    attempts: list[Attempt] = []
    for i, scenario in enumerate(data["scenarios"]):
        detail = scenario.get("results") if isinstance(scenario, dict) else None
        if not isinstance(detail, list):
            raise _bad(path, "must be a list", f"scenarios[{i}].results")
        attempts += [attempt_from(a, path, f"scenarios[{i}].results[{j}]") for j, a in enumerate(detail)]
    try:
        summary = summarize(attempts, fingerprint=data["fingerprint"], meta=data["meta"])
    except ValueError as exc:
        raise _bad(path, str(exc)) from exc
    if summary_dict(summary) != data:
        raise _bad(
            path,
            "its statistics do not match its attempts (the file was edited or is damaged)",
            hint="re-run the eval to write it again",
        )
    return summary


def load_summary(path: str | Path) -> EvalSummary:
    """Read a summary written by dump_summary. A missing, damaged, foreign or old file raises ConfigError
    naming it. The statistics are recomputed from the attempts and must match the file's."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(path, f"cannot be read: {exc}") from exc
    return loads_summary(text, path)
