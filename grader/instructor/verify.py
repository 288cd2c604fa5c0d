"""``grade verify``: before a release, check every exercise end to end.

Per exercise:

- **sync** -- ``exercises/exNN_<slug>.py`` and ``.ipynb`` are exactly what ``grade stubs``
  generates from the solution, and the notebook, read as a student submission, defines the same
  code as the ``.py`` stub;
- **reference** -- ``reference/exNN_<slug>.py``, graded as a submission, passes every
  *correctness* test. The reference is built on the very torch functions students may not call,
  and timing tests compare against torch itself, so for the reference (only): forbidden-call
  detection is off, and a test does not count when it is a timing check (marked
  ``@pytest.mark.speed``: ``measures == "speed"`` in the scorecard) or when it was
  voided (``voided_by`` set: the source audit, the worker's guard, or a suite's own
  forbidden-use check such as exercise 8's "your engine called torch"). See
  :func:`counts_for_reference`; the table shows how many tests were not counted;
- **solution** -- ``solutions/exNN_<slug>.py`` gets full marks, public and hidden;
- **stub** -- ``exercises/exNN_<slug>.py`` gets zero, and every test says "not implemented".

Each grading starts the next one's worker while it runs (as ``grade all`` does).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from grader.instructor import stubs, sync
from grader.judge import runner
from grader.judge.exercises import REFERENCE_DIR, Exercise
from grader.judge.failures import GraderError
from grader.judge.notebook_source import NotebookError
from grader.judge.scorecard import Scorecard, TestResult

COLUMNS = ("sync", "reference", "solution", "stub")


def is_correctness_test(test: TestResult) -> bool:
    """False for timing tests (``@pytest.mark.speed``), which a reference built on torch's
    own functions need not pass."""
    return test.measures == "correctness"


def counts_for_reference(test: TestResult) -> bool:
    """Whether the reference must pass ``test``: a correctness test not voided for using the
    torch functions the reference is built on."""
    return is_correctness_test(test) and test.voided_by is None and test.status != "skipped"


def _failing(tests: Iterable[TestResult]) -> list[TestResult]:
    return [t for t in tests if t.status not in ("passed", "skipped")]


def _describe(t: TestResult) -> str:
    first = (t.message or t.status).strip().splitlines()[0] if (t.message or t.status) else ""
    return f"{t.id}: {first[:160]}"


def judge_reference(card: Scorecard) -> list[str]:
    """Problems with the reference's card (graded with forbidden-call detection off)."""
    if card.submission.error:
        return [card.submission.error]
    return [_describe(t) for t in _failing(card.tests) if counts_for_reference(t)]


def judge_solution(card: Scorecard) -> list[str]:
    if card.submission.error:
        return [card.submission.error]
    problems = [_describe(t) for t in _failing(card.tests)]
    if not problems and (card.max_score <= 0 or card.score != card.max_score):
        problems.append(f"scored {card.score:g}/{card.max_score:g}")
    return problems


def judge_stub(card: Scorecard) -> list[str]:
    if card.submission.error:
        return [card.submission.error]
    problems = [
        f"{t.id} passed: a stub should pass no test"
        for t in card.tests
        if t.status == "passed" and t.max_score > 0
    ]
    problems += [
        f"{t.id} fails without saying 'not implemented': {_describe(t)}"
        for t in _failing(card.tests)
        if "not implemented" not in t.message.lower()
    ]
    if card.score != 0:
        problems.append(f"scored {card.score:g}, expected 0")
    return problems


@dataclass
class Row:
    exercise: Exercise
    problems: dict[str, list[str]] = field(default_factory=dict)
    summary: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())


def check_sync(root: Path, ex: Exercise) -> list[str]:
    solution = root / "solutions" / f"{ex.module}.py"
    if not solution.is_file():
        return [f"solutions/{ex.module}.py is missing"]
    problems = []
    try:
        expected = sync.expected_for(root, solution)
    except GraderError as exc:
        return [str(exc)]
    for path, text in expected.items():
        rel = path.relative_to(root)
        if not path.is_file():
            problems.append(f"{rel} is missing: run `{sync.REGENERATE}`")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{rel} differs from the generated one: run `{sync.REGENERATE}`")
    stub, notebook = stubs.stub_path(root, solution), root / "exercises" / f"{ex.module}.ipynb"
    if not problems and stub.is_file() and notebook.is_file():
        try:
            mismatch = sync.notebook_matches_stub(notebook, stub)
        except NotebookError as exc:
            mismatch = str(exc)
        if mismatch:
            problems.append(mismatch)
    return problems


@dataclass
class Job:
    row: Row
    column: str
    exercise: Exercise
    path: Path
    judge: Callable[[Scorecard], list[str]]


def _jobs(root: Path, rows: list[Row]) -> list[Job]:
    jobs = []
    for row in rows:
        ex = row.exercise
        unguarded = dataclasses.replace(ex, forbidden=())
        jobs += [
            Job(row, "reference", unguarded, REFERENCE_DIR / f"{ex.module}.py", judge_reference),
            Job(row, "solution", ex, root / "solutions" / f"{ex.module}.py", judge_solution),
            Job(row, "stub", ex, root / "exercises" / f"{ex.module}.py", judge_stub),
        ]
    return jobs


def _summary(job: Job, card: Scorecard) -> str:
    if job.column != "reference":
        return f"{card.score:g}/{card.max_score:g}"
    counted = [t for t in card.tests if counts_for_reference(t)]
    passed = sum(t.status == "passed" for t in counted)
    left_out = sum(t.status != "skipped" for t in card.tests) - len(counted)
    return f"{passed}/{len(counted)} tests" + (f" (+{left_out} not counted)" if left_out else "")


def verify(
    root: Path,
    exercises: list[Exercise],
    opts: runner.Options,
    progress: Callable[[str], None] = lambda _: None,
) -> list[Row]:
    """Check ``exercises``; one row each, with the problems found per column."""
    rows = [Row(ex) for ex in exercises]
    for row in rows:
        problems = check_sync(root, row.exercise)
        row.problems["sync"] = problems
        row.summary["sync"] = "" if not problems else "drift"
    jobs = []
    for job in _jobs(root, rows):
        if job.path.is_file():
            jobs.append(job)
        else:
            job.row.problems[job.column] = [f"{job.path} is missing"]
            job.row.summary[job.column] = "missing"
    items = [(job.exercise, job.path) for job in jobs]
    for job, outcome in zip(jobs, grade_each(items, opts, lambda i: progress(_what(jobs[i])))):
        if isinstance(outcome, str):
            job.row.problems[job.column] = [f"grading failed: {outcome}"]
            job.row.summary[job.column] = "error"
        else:
            job.row.problems[job.column] = job.judge(outcome)
            job.row.summary[job.column] = _summary(job, outcome)
    return rows


def _what(job: Job) -> str:
    return f"{job.exercise.id}: grading the {job.column}"


def grade_each(
    items: list[tuple[Exercise, Path]],
    opts: runner.Options,
    starting: Callable[[int], None] = lambda _: None,
) -> Iterator[Scorecard | str]:
    """Grade each (exercise, file) in order, starting the next worker while one grades (as
    ``grade all`` does); yields each scorecard, or the error that stopped its grading."""
    prepared: dict[int, runner.Prepared | str] = {}
    for i in range(len(items)):
        starting(i)
        for k in (i, i + 1):
            if k < len(items) and k not in prepared:
                prepared[k] = _prepare(*items[k], opts)
        current = prepared.pop(i)
        if isinstance(current, str):
            yield current
            continue
        try:
            yield runner.grade(current, opts)
        except GraderError as exc:
            yield str(exc)


def _prepare(ex: Exercise, path: Path, opts: runner.Options) -> runner.Prepared | str:
    try:
        return runner.prepare(ex, path, opts)
    except GraderError as exc:
        return str(exc)


def table(rows: list[Row]) -> str:
    """The verdicts as a text table, then one line per problem."""
    header = ["exercise", *COLUMNS]
    body = []
    for row in rows:
        cells = [row.exercise.id]
        for column in COLUMNS:
            verdict = "ok" if not row.problems.get(column) else "FAIL"
            cells.append(f"{verdict} {row.summary.get(column, '')}".strip())
        body.append(cells)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    details = [
        f"{row.exercise.id} {column}: {problem}"
        for row in rows
        for column in COLUMNS
        for problem in row.problems.get(column, [])
    ]
    return "\n".join(lines + ([""] + details if details else []))


def orphan_solutions(root: Path, exercises: list[Exercise]) -> list[str]:
    """Solutions with no exercise (no reference), which verify cannot check."""
    known = {ex.module for ex in exercises}
    return [
        f"solutions/{p.name} has no reference/{p.name}, so it is not an exercise yet"
        for p in stubs.solution_files(root)
        if p.stem not in known
    ]


def timed(fn: Callable[[], list[Row]]) -> tuple[list[Row], float]:
    t0 = time.perf_counter()
    rows = fn()
    return rows, time.perf_counter() - t0
