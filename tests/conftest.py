"""Shared helpers for the grader's own tests: grade real files, assert on the scorecard."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from grader.judge import exercises, runner
from grader.judge.scorecard import Scorecard, TestResult

ROOT = Path(__file__).resolve().parent.parent


def _shared_template(modules: list[str], opts: runner.Options) -> object:
    """One worker template per (isolation, device) for this test process, preloading every
    exercise's scenarios: gradings fork from it instead of importing torch each time. The
    sandbox modes' own tests start templates of their own (test_sandbox, test_redteam)."""
    from grader.judge.client import kept_template

    # The template outlives the test that first needs it: its folder goes in the system's
    # temporary directory, not in a folder that test made private to look for leftovers.
    private, tempfile.tempdir = tempfile.tempdir, None
    try:
        return kept_template(opts.isolation, runner.workers_need_cuda(opts))
    finally:
        tempfile.tempdir = private


runner.shared_templates = _shared_template  # type: ignore[assignment]
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"


def grade(
    exercise: str,
    submission: Path | str,
    *,
    select: str | None = None,
    public_only: bool = False,
    seed: int = 1234,
    isolation: str = "auto",
    device: str = "cpu",
    check_forbidden: bool = True,
    audit: bool = True,
) -> Scorecard:
    """Grade ``submission`` (a file or folder) for ``exercise`` (on CPU unless asked), as the
    CLI would. ``audit=False`` switches off only the judge's source audit, to test the
    runtime guard behind it; ``check_forbidden=False`` switches off both (for references)."""
    ex = exercises.find(exercise)
    opts = runner.Options(
        device=device,
        seed=seed,
        isolation=isolation,
        visibilities=("public",) if public_only else ("public", "hidden"),
        select=select,
        check_forbidden=check_forbidden,
        audit=audit,
    )
    return runner.grade(runner.prepare(ex, Path(submission), opts), opts)


def by_id(card: Scorecard) -> dict[str, TestResult]:
    return {t.id: t for t in card.tests}


def failing(card: Scorecard) -> list[TestResult]:
    return [t for t in card.tests if t.status not in ("passed", "skipped")]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Close the shared templates (and anything else still open) when this process is done."""
    from grader.judge.client import close_all

    close_all()


# Fixtures that grade a whole exercise or build a whole release: a test that uses one is slow
# (marked here, so a new test that uses them joins the slow set without anyone remembering).
GRADING_FIXTURES = frozenset({"solution_card", "solution", "student_repo", "full_release"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if GRADING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
