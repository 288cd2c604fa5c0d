"""JUnit XML (``grade ... --format junit``) for CI systems that ingest test reports.

One ``<testsuite>`` per exercise, one ``<testcase>`` per scorecard test (``classname`` is
``exercise-N.public`` or ``exercise-N.hidden``). JUnit has no points, so they travel as
``<property name="score">``/``max_score`` on each test case and suite, the way pytest's
``record_property`` does it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TypedDict

from grader.judge.scorecard import Bundle, Scorecard, TestResult
from grader.platforms.common import cards, points, xml_text


def _props(parent: ET.Element, **values: str) -> None:
    props = ET.SubElement(parent, "properties")
    for name, value in values.items():
        ET.SubElement(props, "property", name=name, value=xml_text(value))


class _Counts(TypedDict):
    """A test suite's counts, as XML attributes (passed as keywords to ElementTree)."""

    tests: str
    failures: str
    errors: str
    skipped: str
    time: str


def _counts(tests: list[TestResult]) -> _Counts:
    return {
        "tests": str(len(tests)),
        "failures": str(sum(t.status == "failed" for t in tests)),
        "errors": str(sum(t.status == "error" for t in tests)),
        "skipped": str(sum(t.status == "skipped" for t in tests)),
        "time": f"{sum(t.duration_s for t in tests):.3f}",
    }


def _testcase(suite: ET.Element, card: Scorecard, t: TestResult) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"{card.exercise}.{t.visibility}",
        name=xml_text(t.name),
        time=f"{t.duration_s:.3f}",
    )
    _props(case, score=points(t.score), max_score=points(t.max_score), id=t.id)
    text = xml_text(t.message + (f"\nhint: {t.hint}" if t.hint else ""))
    first = text.splitlines()[0] if text else t.status
    if t.status == "failed":
        ET.SubElement(case, "failure", message=first, type="failed").text = text
    elif t.status == "error":
        ET.SubElement(case, "error", message=first, type="error").text = text
    elif t.status == "skipped":
        ET.SubElement(case, "skipped", message=first)


def junit_xml(card: Scorecard | Bundle) -> str:
    """The XML document for ``card`` (a string, with declaration)."""
    exs = cards(card)
    every = [t for c in exs for t in c.tests]
    root = ET.Element("testsuites", name="trainloop-grader", **_counts(every))
    for c in exs:
        suite = ET.SubElement(
            root,
            "testsuite",
            name=c.exercise,
            timestamp=c.started_at.replace(microsecond=0).isoformat(),
            **_counts(c.tests),
        )
        _props(
            suite,
            title=c.title,
            score=points(c.score),
            max_score=points(c.max_score),
            seed=str(c.seed),
            submission=c.submission.path,
        )
        for t in c.tests:
            _testcase(suite, c, t)
        if c.submission.error:
            ET.SubElement(suite, "system-err").text = xml_text(c.submission.error)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
