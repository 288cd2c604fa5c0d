"""A test's life as the judge scores it -- decided here, in one place.

The plugin (grading), ``grade list`` (counting points without running anything) and ``grade
verify`` (which tests a torch-backed reference must pass) all ask this module:

- **points** -- ``@pytest.mark.points(n)``, default 1;
- **visibility** -- the folder: ``suites/public`` or ``suites/hidden``;
- **what it measures** -- ``@pytest.mark.speed`` marks a timing check (a reference built on
  torch's own functions need not pass it); everything else checks correctness;
- **devices** -- a test with a ``device`` argument runs once per graded device;
  ``@pytest.mark.devices("cuda")`` restricts it. A CUDA run on a machine without a GPU is
  skipped and worth nothing, so the points a CPU grading can award are exactly what
  :func:`runs_on` counts;
- **status and score** -- passed (all its points), failed (a :class:`Failure`: the student's
  code), error (anything else: the grader could not check), skipped (not counted);
- **voiding** -- :func:`void`: the judge's source audit first (``voided_by="audit"``), then the
  worker guard's reports (``"runtime guard"``); a suite's own :class:`ForbiddenUse` check
  counts as the latter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import pytest

from grader.judge.failures import Failure, ForbiddenUse
from grader.judge.scorecard import Integrity, IntegrityFinding, Status, TestResult, Visibility

DEVICES = ("cpu", "cuda")
Measures = Literal["correctness", "speed"]
MARKERS = {
    "points(n)": "points this test is worth (default 1)",
    "timeout(s)": "seconds each student call may take",
    "speed": "a timing check: torch-backed references need not pass it",
    "devices(*names)": "the devices a test with a `device` argument runs on (default all)",
}


def register_markers(config: pytest.Config) -> None:
    for marker, meaning in MARKERS.items():
        config.addinivalue_line("markers", f"{marker}: {meaning}")


def points_of(item: pytest.Item) -> float:
    marker = item.get_closest_marker("points")
    return float(marker.args[0]) if marker else 1.0


def visibility_of(item: pytest.Item) -> Visibility:
    return "hidden" if item.path.parent.name == "hidden" else "public"


def measures_of(item: pytest.Item) -> Measures:
    return "speed" if item.get_closest_marker("speed") is not None else "correctness"


def device_params(definition: Any, graded: Iterable[str], cuda_available: bool) -> list[Any]:
    """The ``device`` parameters of a test function: the graded devices it allows, a CUDA one
    marked skipped when this machine has no GPU."""
    marker = definition.get_closest_marker("devices")
    allowed = set(marker.args) if marker else set(DEVICES)
    params = []
    for dev in graded:
        if dev not in allowed:
            continue
        marks = []
        if dev == "cuda" and not cuda_available:
            marks.append(pytest.mark.skip(reason="no CUDA device on this machine"))
        params.append(pytest.param(dev, id=dev, marks=marks))
    return params


def device_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    device = callspec.params.get("device") if callspec is not None else None
    return str(device) if device else None


def runs_on(item: pytest.Item, cuda_available: bool) -> bool:
    """Whether ``item`` runs (and so counts) on this machine."""
    return device_of(item) != "cuda" or cuda_available


def title_of(item: pytest.Item) -> str:
    fn = getattr(item, "function", None)
    doc = (getattr(fn, "__doc__", None) or "").strip().splitlines()
    name = getattr(item, "originalname", item.name)
    title = doc[0].rstrip(".") if doc else re.sub(r"^test_", "", name).replace("_", " ")
    callspec = getattr(item, "callspec", None)
    return f"{title} [{callspec.id}]" if callspec is not None else title


def result_of(
    item: pytest.Item,
    call: pytest.CallInfo[None],
    report: pytest.TestReport,
    functions: list[str],
) -> TestResult:
    """The scorecard entry for one test that ran (or was skipped)."""
    points = points_of(item)
    message = hint = ""
    voided_by: Literal["audit", "runtime guard"] | None = None
    status: Status
    if report.skipped:
        status, score, points = "skipped", 0.0, 0.0
        longrepr = report.longrepr
        message = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
        message = message.removeprefix("Skipped: ")
    elif report.passed:
        status, score = "passed", points
    else:
        exc = call.excinfo.value if call.excinfo else None
        score = 0.0
        if isinstance(exc, Failure):
            status, message, hint = "failed", exc.message, exc.hint
            if isinstance(exc, ForbiddenUse):
                voided_by = "runtime guard"
        else:
            status = "error"
            message = f"the grader could not check this result ({type(exc).__name__}: {exc})"
    return TestResult(
        id=f"{visibility_of(item)}/{item.name}",
        name=title_of(item),
        status=status,
        score=score,
        max_score=points,
        message=message,
        hint=hint,
        device=device_of(item),
        visibility=visibility_of(item),
        measures=measures_of(item),
        duration_s=round(report.duration, 4),
        functions=functions,
        voided_by=voided_by,
    )


def void(
    results: list[TestResult],
    integrity: Integrity | None,
    violations: Mapping[str, list[str]],
) -> None:
    """Void the tests of every function the judge's audit found a disallowed construct in
    (every test, for one at module level that is not just a binding), then the tests of every
    function the worker's guard saw make a forbidden call. Skipped tests stay skipped."""
    findings = integrity.findings if integrity is not None else []
    anywhere = [f for f in findings if f.function is None and not f.binds]
    for result in results:
        if result.status == "skipped":
            continue
        names = set(result.functions)
        hit = anywhere or [
            f for f in findings if f.function in names or names.intersection(f.binds)
        ]
        if hit:
            _void_by_finding(result, hit[0])
            continue
        reasons = [(fn, why) for fn in result.functions for why in violations.get(fn, [])]
        if reasons:
            fn, why = reasons[0]
            result.status, result.score, result.voided_by = "failed", 0.0, "runtime guard"
            result.message = (
                f"{fn} {why}: that is not allowed in this exercise, so no test of {fn} counts"
            )
            result.hint = "write it yourself; the exercise text lists what is not allowed"


def _void_by_finding(result: TestResult, finding: IntegrityFinding) -> None:
    owner = finding.function or next((n for n in finding.binds if n in result.functions), None)
    where = finding.function or "your file's top level"
    scope = f"no test of {owner} counts" if owner else "no test counts"
    result.status, result.score, result.voided_by = "failed", 0.0, "audit"
    result.message = (
        f"{where} uses `{finding.code}` (line {finding.line}), which is not allowed here: "
        f"{finding.why}; so {scope}"
    )
    result.hint = finding.instead or "write it yourself; the exercise text lists what you may use"


def totals(results: Iterable[TestResult]) -> tuple[float, float]:
    """(score, max score) of a list of results; skipped tests count for nothing."""
    results = list(results)
    return (
        round(sum(t.score for t in results), 6),
        round(sum(t.max_score for t in results), 6),
    )
