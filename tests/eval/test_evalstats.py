"""Eval statistics against hand-computed values, the baseline comparison, and the report files."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
import xmlschema
from rich.console import Console

from agentic.errors import ConfigError, UsageError
from agentic.eval import (
    Attempt,
    EvalSummary,
    compare,
    dump_summary,
    dumps_summary,
    load_summary,
    markdown,
    pass_at_k,
    pass_hat_k,
    render_table,
    summarize,
    wilson_interval,
    write_junit,
    write_markdown,
)

JUNIT_XSD = Path(__file__).parents[1] / "data" / "junit-10.xsd"
STATUS = {"pass": "accepted", "fail": "rejected", "error": ""}


def attempt(
    scenario: str,
    number: int,
    verdict: str,
    *,
    steps: int = 4,
    tokens: int = 1000,
    cost: float | None = 0.01,
    duration: float = 2.0,
    reason: str = "",
) -> Attempt:
    ran = verdict != "error"
    return Attempt(
        scenario=scenario,
        attempt=number,
        verdict=verdict,
        status=STATUS[verdict],
        reason=reason
        or {"pass": "the gate passed", "fail": "tests-pass failed", "error": "provider 503"}[verdict],
        run_id=f"run-{scenario}-{number}" if ran else None,
        steps=steps if ran else 0,
        tool_calls=steps + 1 if ran else 0,
        tokens=tokens if ran else 0,
        cost_usd=cost if ran else None,
        duration_s=duration,
        checks={"tests-pass": verdict == "pass", "max-steps": True} if ran else {},
        tags=("demo",),
    )


def outcomes(spec: dict[str, str]) -> list[Attempt]:
    """{"scenario": "ppf"} -> attempts pass, pass, fail (p pass, f fail, e error)."""
    codes = {"p": "pass", "f": "fail", "e": "error"}
    return [attempt(name, i + 1, codes[c]) for name, letters in spec.items() for i, c in enumerate(letters)]


def summary_of(spec: dict[str, str], **fingerprint: str) -> EvalSummary:
    return summarize(outcomes(spec), fingerprint={"model": "m1", **fingerprint}, meta={"repeats": 3})


# -- the estimators ------------------------------------------------------------------------------


def test_pass_at_k_and_pass_hat_k_match_hand_computed_values() -> None:
    # n=5, c=2: pass@1 = 2/5; pass@2 = 1 - C(3,2)/C(5,2) = 1 - 3/10; pass^2 = C(2,2)/C(5,2) = 1/10
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)
    assert pass_hat_k(5, 2, 1) == pytest.approx(0.4)
    assert pass_hat_k(5, 2, 2) == pytest.approx(0.1)
    assert pass_at_k(5, 2, 4) == pytest.approx(1.0)  # C(3,4) = 0: any 4 of 5 contain a pass
    assert pass_hat_k(5, 2, 3) == 0.0
    # n=3, c=1: pass@2 = 1 - C(2,2)/C(3,2) = 2/3
    assert pass_at_k(3, 1, 2) == pytest.approx(2 / 3)
    assert pass_at_k(4, 0, 2) == 0.0 and pass_hat_k(4, 4, 4) == 1.0
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)
    with pytest.raises(ValueError):
        pass_hat_k(3, 4, 1)


def test_wilson_interval_matches_hand_computed_values() -> None:
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=5e-4) and high == pytest.approx(0.9433, abs=5e-4)
    low, high = wilson_interval(0, 3)  # z²/(n+z²) = 3.8415/6.8415
    assert low == 0.0 and high == pytest.approx(0.5615, abs=5e-4)
    low, high = wilson_interval(10, 10)
    assert high == pytest.approx(1.0) and low == pytest.approx(10 / 13.8415, abs=5e-4)
    with pytest.raises(ValueError):
        wilson_interval(0, 0)


# -- summarize ------------------------------------------------------------------------------------


def test_scenario_statistics_exclude_errors_from_rates() -> None:
    summary = summary_of({"a": "pfpep"})
    a = summary.scenarios[0]
    assert (a.attempts, a.passes, a.fails, a.errors, a.n) == (5, 3, 1, 1, 4)
    assert a.pass_rate == pytest.approx(0.75)
    assert (a.ci_low, a.ci_high) == pytest.approx(wilson_interval(3, 4))
    assert a.k == 4
    assert a.pass_at_k == pytest.approx((0.75, 1.0, 1.0, 1.0))  # C(1,2) = 0 from k=2
    assert a.pass_hat_k == pytest.approx((0.75, 0.5, 0.25, 0.0))  # C(3,k)/C(4,k)
    assert a.status == "flaky" and a.flaky
    # means over the four attempts that produced a run; the errored one neither ran nor counts
    assert a.mean_steps == 4 and a.mean_tokens == 1000 and a.mean_cost_usd == pytest.approx(0.01)
    assert a.total_cost_usd == pytest.approx(0.04) and a.cost_complete
    assert a.tags == ("demo",)
    assert [r.attempt for r in a.results] == [1, 2, 3, 4, 5]


def test_statuses_and_an_all_error_scenario() -> None:
    summary = summary_of({"ok": "ppp", "bad": "fff", "half": "pfp", "down": "eee"})
    status = {s.scenario: s.status for s in summary.scenarios}
    assert status == {"ok": "pass", "bad": "fail", "half": "flaky", "down": "error"}
    down = summary.scenario("down")
    assert down is not None and down.pass_rate is None and down.ci_low is None and down.pass_at_k == ()
    assert down.mean_steps is None and down.total_cost_usd is None
    assert [s.scenario for s in summary.scenarios] == sorted(status)
    o = summary.overall
    assert (o.scenarios, o.passing, o.failing, o.flaky, o.errored) == (4, 1, 1, 1, 1)
    assert (o.attempts, o.passes, o.fails, o.errors) == (12, 5, 4, 3)
    assert o.pass_rate == pytest.approx(5 / 9) and o.error_rate == pytest.approx(0.25)
    # overall pass@k / pass^k: the mean over the measured scenarios, k up to their smallest n
    assert o.k == 3
    assert o.pass_at_k[0] == pytest.approx((1 + 0 + 2 / 3) / 3)
    assert o.pass_at_k[1] == pytest.approx((1 + 0 + 1) / 3)
    assert o.pass_hat_k[1] == pytest.approx((1 + 0 + 1 / 3) / 3)  # half: C(2,2)/C(3,2)
    assert o.pass_hat_k[2] == pytest.approx(1 / 3)


def test_unknown_costs_and_bad_verdicts() -> None:
    attempts = [attempt("a", 1, "pass", cost=None), attempt("a", 2, "pass", cost=0.5)]
    a = summarize(attempts, fingerprint={}, meta={}).scenarios[0]
    assert a.mean_cost_usd == pytest.approx(0.5) and a.total_cost_usd == pytest.approx(0.5)
    assert not a.cost_complete
    with pytest.raises(ValueError, match="verdict"):
        summarize([replace(attempt("a", 1, "pass"), verdict="ok")], fingerprint={}, meta={})
    with pytest.raises(ValueError, match="steps must be int"):  # it would not load back as a baseline
        wrong = replace(attempt("a", 1, "pass"), steps=4.0)  # type: ignore[arg-type]
        summarize([wrong], fingerprint={}, meta={})


# -- compare --------------------------------------------------------------------------------------


def test_a_passing_scenario_that_fails_now_is_a_regression() -> None:
    base = summary_of({"a": "ppp", "b": "ppp", "c": "fff"})
    now = summary_of({"a": "ppf", "b": "ppp", "c": "ppp"})
    result = compare(now, base, max_drop=1.0)
    assert not result.ok
    assert [(r.kind, r.scenario) for r in result.regressions] == [("scenario", "a")]
    assert result.regressions[0].baseline == 1.0 and result.regressions[0].current == pytest.approx(2 / 3)
    assert result.fixed == ["c"]
    assert result.deltas["a"] == (1.0, pytest.approx(2 / 3))
    assert result.regressed("a") and not result.regressed("b")


def test_a_drop_within_failing_scenarios_counts_only_for_the_aggregate() -> None:
    base = summary_of({"a": "ppf", "b": "ppp", "c": "ppp", "d": "ppp"})
    now = summary_of({"a": "fff", "b": "ppp", "c": "ppp", "d": "ppp"})
    # mean pass rate 11/12 -> 3/4: a drop of 1/6
    assert compare(now, base, max_drop=0.2).ok
    result = compare(now, base, max_drop=0.1)
    assert [r.kind for r in result.regressions] == ["aggregate"]
    assert result.baseline_rate == pytest.approx(11 / 12) and result.current_rate == pytest.approx(0.75)
    assert result.drop == pytest.approx(1 / 6)
    # exactly the allowed drop is not beyond it
    assert compare(now, base, max_drop=1 / 6).ok
    with pytest.raises(ValueError):
        compare(now, base, max_drop=5)


def test_new_missing_unmeasured_and_fingerprint_are_reported_not_regressions() -> None:
    base = summary_of({"a": "ppp", "gone": "ppp", "down": "ppp"}, prompt="p1")
    now = summary_of({"a": "ppp", "fresh": "fff", "down": "eee"}, prompt="p2")
    result = compare(now, base, max_drop=0.0)
    assert result.ok, result.regressions
    assert result.new == ["fresh"] and result.missing == ["gone"] and result.unmeasured == ["down"]
    assert result.common == 1 and result.baseline_rate == 1.0
    assert result.fingerprint_changed and result.fingerprint_diff == ["prompt"]
    digest = compare(
        summary_of({"a": "p"}, sha256="x1", prompt="p2"), summary_of({"a": "p"}, sha256="x2"), max_drop=0
    )
    assert digest.fingerprint_diff == ["prompt"]  # the digest changes with any part: the part is named
    only = compare(summary_of({"a": "p"}, sha256="x1"), summary_of({"a": "p"}, sha256="x2"), max_drop=0)
    assert only.fingerprint_diff == ["sha256"]
    same = compare(base, base, max_drop=0.0)
    assert same.ok and not same.fingerprint_changed and not same.new and not same.missing
    assert json.loads(json.dumps(result.to_dict()))["ok"] is True


# -- the JSON file --------------------------------------------------------------------------------


def test_summary_json_round_trips_exactly(tmp_path: Path) -> None:
    summary = summarize(
        [
            *outcomes({"a": "pfp", "b": "eee", "c": "pp"}),
            attempt("d", 1, "pass", cost=None, reason="ünïcode ✓"),
        ],
        fingerprint={"model": "m", "tools": {"read_file": "sha256:1"}},
        meta={"repeats": 3, "started": "2026-01-01T00:00:00Z"},
    )
    path = tmp_path / "eval.json"
    dump_summary(summary, path)
    data = json.loads(path.read_text())
    assert data["format"] == "agentic-eval" and data["version"] == 1
    assert data["overall"]["pass_rate"] == summary.overall.pass_rate
    loaded = load_summary(path)
    assert loaded == summary
    assert dumps_summary(loaded) == path.read_text()
    assert loaded.scenario("d").results[0].cost_usd is None  # type: ignore[union-attr]


def _broken(tmp_path: Path, text: str) -> ConfigError:
    path = tmp_path / "baseline.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_summary(path)
    assert info.value.file == str(path) and "baseline.json" in str(info.value)
    return info.value


def test_load_summary_rejects_bad_old_and_edited_files(tmp_path: Path) -> None:
    good = json.loads(dumps_summary(summary_of({"a": "ppf"})))
    assert _broken(tmp_path, "{\n  not json").line == 2
    assert "not an eval summary" in str(_broken(tmp_path, json.dumps({"scenarios": []})))
    old = _broken(tmp_path, json.dumps({**good, "version": 0}))
    assert "version 0" in str(old) and old.hint
    edited = json.loads(json.dumps(good))
    edited["scenarios"][0]["pass_rate"] = 1.0
    assert "do not match" in str(_broken(tmp_path, json.dumps(edited)))
    wrong = json.loads(json.dumps(good))
    wrong["scenarios"][0]["results"][0]["steps"] = "four"
    assert "scenarios[0].results[0].steps" in str(_broken(tmp_path, json.dumps(wrong)))
    with pytest.raises(ConfigError, match=r"missing\.json"):
        load_summary(tmp_path / "missing.json")


# -- JUnit, Markdown, the rich table --------------------------------------------------------------


def test_junit_has_one_testcase_per_scenario_with_figures_as_suite_properties(tmp_path: Path) -> None:
    summary = summarize(
        [
            *outcomes({"ok": "pp", "half": "pf", "down": "ee"}),
            attempt("bad", 1, "fail", reason="exit 1 \x1b[31m\x00<&>"),
        ],
        fingerprint={"model": "m"},
        meta={},
    )
    path = tmp_path / "eval.xml"
    write_junit(summary, path)
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(path))
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites" and root.get("skipped") is None  # the schema has no testsuites@skipped
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "2", "1")
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "2", "1")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert set(cases) == {"ok", "half", "down", "bad"}
    assert all(case.get("classname") == "agentic.eval" for case in cases.values())
    assert all(float(case.get("time") or "x") >= 0 for case in cases.values())
    assert all(case.find("properties") is None for case in cases.values())  # the schema allows none there
    assert cases["ok"].find("failure") is None and cases["ok"].find("error") is None
    failure = cases["half"].find("failure")
    assert failure is not None and "1/2" in (failure.get("message") or "")
    assert cases["down"].find("error") is not None and cases["down"].find("failure") is None
    props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert (props["half.attempt.1"] or "").startswith("pass")
    assert (props["half.attempt.2"] or "").startswith("fail")
    assert props["half.pass@2"] == "1.0000" and props["half.pass^2"] == "0.0000"
    assert props["fingerprint.model"] == "m" and "scenarios passing" in (props["summary"] or "")
    # XML cannot carry NUL or ESC: they become U+FFFD; markup survives as text
    assert props["bad.attempt.1"] is not None and "\ufffd[31m\ufffd<&>" in props["bad.attempt.1"]
    out = cases["bad"].find("system-out")
    assert out is not None and "pass_rate: 0.0%" in (out.text or "") and "<&>" in (out.text or "")
    assert [child.tag for child in cases["half"]] == ["failure", "system-out"]


def test_junit_of_hostile_names_and_text_validates(tmp_path: Path) -> None:
    hostile = "a\x00b\x08c\x0bd\x1fe\ud800f\ufffeg\uffffh <]]>&\"' \u202e\t\n\r"
    summary = summarize(
        [attempt(f"s{hostile}", 1, "fail", reason=hostile), attempt("t", 1, "error", reason=hostile)],
        fingerprint={hostile: hostile, "nested": {"k": hostile}},
        meta={},
    )
    base = summarize([attempt(f"s{hostile}", 1, "pass")], fingerprint={}, meta={})
    path = tmp_path / "eval.xml"
    write_junit(summary, path, compare(summary, base, max_drop=0.0))
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(path))
    text = path.read_text(encoding="utf-8")
    assert "regression" in text and "\u202e" in text  # a bidi override is valid XML: kept
    names = [case.get("name") for case in ET.parse(path).getroot().iter("testcase")]
    # the forbidden characters replaced; markup, a bidi override and line breaks kept
    assert names[0] == "sa\ufffdb\ufffdc\ufffdd\ufffde\ufffdf\ufffdg\ufffdh <]]>&\"' \u202e\t\n\r"


def test_markdown_lists_regressions_first_and_escapes_cells(tmp_path: Path) -> None:
    base = summary_of({"z-regressed": "ppp", "a-fine": "ppp", "m|pipe": "ppp"})
    now = summary_of({"z-regressed": "fff", "a-fine": "ppp", "m|pipe": "ppp", "<b>new</b>": "pp"})
    comparison = compare(now, base, max_drop=0.5)
    path = tmp_path / "eval.md"
    write_markdown(now, path, comparison)
    text = path.read_text()
    assert text == markdown(now, comparison)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "scenario" not in line]
    assert "z-regressed" in rows[0] and "regression" in rows[0]
    assert "**overall**" in rows[-1]
    assert "m\\|pipe" in text and "<b>" not in text and "&lt;b&gt;new&lt;/b&gt;" in text
    assert "**Regressions**" in text and text.index("**Regressions**") < text.index("| |")
    # each table row has as many cells as the header
    header = next(line for line in text.splitlines() if "| scenario |" in line)
    cells = header.count(" | ")
    assert all(row.replace("\\|", "").count(" | ") == cells for row in rows)


def test_render_table_colours_rows_and_has_an_overall_row() -> None:
    summary = summary_of({"good": "pp", "bad": "ff", "wobbly": "pf", "down": "ee"})
    table = render_table(summary, compare(summary, summary, max_drop=0.1))
    console = Console(record=True, width=200, color_system="truecolor", force_terminal=True)
    console.print(table)
    text = console.export_text()
    for name in ("good", "bad", "wobbly", "down", "overall", "baseline"):
        assert name in text
    assert text.index("bad") < text.index("wobbly") < text.index("good")  # failing first, passing last
    styles = {row: table.rows[row].style for row in range(len(table.rows))}
    assert set(styles.values()) >= {"red", "yellow", "magenta", "bold"}
    assert math.isclose(summary.overall.pass_rate or 0, 0.5)


def test_a_report_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    summary = summary_of({"a": "p"})
    for writer in (dump_summary, write_junit, write_markdown):
        with pytest.raises(UsageError, match="cannot write"):
            writer(summary, tmp_path / "no" / "such" / "dir" / "out")
