"""The one JUnit writer (agentic.reports.junit): its output validates against the common JUnit schema
whatever the text, and characters XML 1.0 cannot carry become U+FFFD while the rest is kept."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema

from agentic.reports.junit import Case, Problem, Suite, render, xml_text

JUNIT_XSD = Path(__file__).parents[1] / "data" / "junit-10.xsd"


def test_xml_text_replaces_exactly_what_xml_forbids() -> None:
    controls = [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]
    forbidden = [*map(chr, controls), "\ud800", "\udfff", "\ufffe", "\uffff"]
    allowed = ["\t", "\n", "\r", " ", "\x7f", "\x85", "\u202e", "\ud7ff", "\ue000", "\ufffd"]
    allowed += ["\U00010000", "\U0010ffff"]
    assert xml_text("".join(forbidden)) == "\ufffd" * len(forbidden)
    assert xml_text("".join(allowed)) == "".join(allowed)


def test_every_outcome_validates_and_is_counted(tmp_path: Path) -> None:
    hostile = "x\x00\x1b[0m <tag a='1'>&amp;</tag> ]]> \ud800"
    cases = [
        Case("passes", "k", 0.5, output=hostile),
        Case(f"fails {hostile}", "k", 1.25, Problem("failure", hostile * 100, "tests", hostile)),
        Case("errs", "k", 0.0, Problem("error", "could not run", "error", hostile)),
        Case("skips", "k", 0.0, Problem("skipped", "not today", "skip")),
    ]
    path = tmp_path / "junit.xml"
    path.write_bytes(render(Suite("suite", cases, [("why", hostile)], title="all")))
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(path))
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    counts = ("tests", "failures", "errors")
    assert [root.get(k) for k in ("name", *counts, "time")] == ["all", "4", "1", "1", "1.750"]
    assert [suite.get(k) for k in ("name", *counts, "skipped")] == ["suite", "4", "1", "1", "1"]
    failure = suite.find("testcase/failure")
    assert failure is not None and len(failure.get("message") or "") == 300
    assert failure.text == xml_text(hostile)
    out = suite.find("testcase/system-out")
    assert out is not None and out.text == "x\ufffd\ufffd[0m <tag a='1'>&amp;</tag> ]]> \ufffd"
