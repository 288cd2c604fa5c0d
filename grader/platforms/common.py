"""What every platform renderer needs: the counted tests of a card, and text made safe to print.

Student exceptions reach scorecard messages (``clip_grad_norm raised ValueError: <their text>``,
the last lines a dying worker printed), so any renderer that writes a message where a machine
reads it -- a CI log, XML, Markdown -- must treat it as hostile text.
"""

from __future__ import annotations

import functools
import re

from grader.judge.report import neutralise as neutralise  # re-exported for the renderers
from grader.judge.scorecard import Bundle, Scorecard, TestResult


def cards(card: Scorecard | Bundle) -> list[Scorecard]:
    """The exercises of ``card``: itself, or a bundle's exercises."""
    return list(card.exercises) if isinstance(card, Bundle) else [card]


@functools.cache
def expected_points(
    exercise_id: str, visibilities: tuple[str, ...] = ("public", "hidden")
) -> float:
    """The points ``exercise_id`` is worth, counted from its suites without running anything.

    Used when grading never ran (the card holds no test worth anything), so that platforms show
    ``0/N`` rather than ``0/0`` -- the Classroom reporter ignores a runner whose max is 0.
    """
    try:
        from grader.judge import exercises
        from grader.judge.collect import points_by_visibility

        ex = exercises.find(exercise_id)
        if not ex.suites():  # pytest given no file would collect something else
            return 1.0
        found = points_by_visibility(ex)
        total = sum(p for v, p in found.items() if v in visibilities)
    except Exception:  # a broken suite must not stop the report of the failure
        return 1.0
    return float(total) if total > 0 else 1.0


def counted(card: Scorecard) -> list[TestResult]:
    """The tests of ``card`` that carry points (skipped ones dropped).

    A card in which nothing carries points -- grading could not run, or every test was skipped
    -- becomes one failing test worth the exercise's points, holding the reason.
    """
    tests = [t for t in card.tests if t.status != "skipped" and t.max_score > 0]
    if tests:
        return tests
    reasons = [t.message for t in card.tests if t.message and t.status != "skipped"]
    reason = card.submission.error or (reasons[0] if reasons else "no test could be graded")
    return [
        TestResult(
            id="grading",
            name="grading could run",
            status="error",
            score=0.0,
            max_score=expected_points(card.exercise),
            message=reason,
            visibility="public",
            duration_s=0.0,
        )
    ]


def points(x: float) -> str:
    return f"{x:g}"


def js_number(x: float) -> int | float:
    """``x`` as JavaScript would print it in JSON: ``41``, not ``41.0``."""
    x = round(float(x), 6)
    return int(x) if x.is_integer() else x


def clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"... ({len(text) - limit} more characters)"


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (a student can print any byte)."""
    return _XML_INVALID.sub("\ufffd", text)
