"""JUnit XML: the one writer behind every report that has test cases (`agentic gate --junit`, whose
cases are the contract's checks, and `agentic eval --junit`, whose cases are the scenarios).

The document validates against the common JUnit schema (Maven Surefire's, the one pytest tests its
own output against): counts on `<testsuites>` and `<testsuite>`, properties only on the suite, a
testcase holding at most a failure, error or skipped element and its `<system-out>`. Text comes from
commands and models, so every string passes through `xml_text`: characters XML 1.0 cannot carry
(control characters, lone surrogates, U+FFFE/U+FFFF) become U+FFFD; ElementTree escapes the markup.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MESSAGE_LIMIT = 300  # characters of a failure's message attribute (the full text is the element's)


def xml_text(value: object) -> str:
    """Text XML 1.0 can carry: anything else becomes U+FFFD."""
    return XML_INVALID.sub("\ufffd", str(value))


@dataclass(frozen=True)
class Problem:
    """Why a test case did not pass: a failure (a check did not hold), an error (it could not be
    measured) or a skip."""

    kind: Literal["failure", "error", "skipped"]
    message: str
    type: str
    text: str = ""


@dataclass(frozen=True)
class Case:
    name: str
    classname: str
    time_s: float
    problem: Problem | None = None  # None: the case passed
    output: str | None = None  # <system-out>, when there is something to show


@dataclass(frozen=True)
class Suite:
    name: str
    cases: Sequence[Case]
    properties: Sequence[tuple[str, str]] = ()
    title: str | None = None  # the name of <testsuites>; the suite's own name when None

    def count(self, kind: str) -> int:
        return sum(1 for case in self.cases if case.problem is not None and case.problem.kind == kind)


def _time(seconds: float) -> str:
    return f"{max(0.0, seconds):.3f}"


def element(suite: Suite) -> ET.Element:
    """The document's root: <testsuites> around the one <testsuite>."""
    total = _time(sum(case.time_s for case in suite.cases))
    tests, failures, errors = str(len(suite.cases)), str(suite.count("failure")), str(suite.count("error"))
    root = ET.Element("testsuites", name=xml_text(suite.title or suite.name), tests=tests, failures=failures,
                      errors=errors, time=total)  # fmt: skip
    node = ET.SubElement(root, "testsuite", name=xml_text(suite.name), tests=tests, failures=failures,
                         errors=errors, skipped=str(suite.count("skipped")), time=total)  # fmt: skip
    if suite.properties:
        props = ET.SubElement(node, "properties")
        for name, value in suite.properties:
            ET.SubElement(props, "property", name=xml_text(name), value=xml_text(value))
    for case in suite.cases:
        item = ET.SubElement(node, "testcase", classname=xml_text(case.classname), name=xml_text(case.name),
                             time=_time(case.time_s))  # fmt: skip
        if case.problem is not None:
            problem = case.problem
            ET.SubElement(item, problem.kind, message=xml_text(problem.message[:MESSAGE_LIMIT]),
                          type=xml_text(problem.type)).text = xml_text(problem.text)  # fmt: skip
        if case.output is not None:
            ET.SubElement(item, "system-out").text = xml_text(case.output)
    return root


def render(suite: Suite) -> bytes:
    """The JUnit XML document, UTF-8, indented."""
    root = element(suite)
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"
