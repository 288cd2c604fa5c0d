"""The class's results: one typed model, read by the gradebook, the report and ``summary.json``.

Like the scorecard, one pydantic model and several renderers. A student is ``graded``,
``not-found`` (no exercise file where ``grade all`` would look), ``error`` (the repository or
grading failed) or ``pending`` (the run was interrupted first) -- never a silent zero.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Final, Literal

from pydantic import BaseModel, Field

from grader.judge.scorecard import Scorecard

SUMMARY_FORMAT: Final = 1
Status = Literal["graded", "not-found", "error", "pending"]


class StudentRecord(BaseModel):
    student: str
    slug: str = Field(description="The student's name as used in file names.")
    source: str = Field(description="Their folder, or the git URL from the roster.")
    commit: str | None = None
    committed_at: str | None = None
    status: Status = "pending"
    folder: str | None = Field(None, description="Where the exercises were found, '' = root.")
    scores: dict[str, float] = Field(default_factory=dict)
    max_scores: dict[str, float] = Field(default_factory=dict)
    total: float | None = None
    max: float | None = None
    flags: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    isolation: list[str] = Field(default_factory=list, description="Isolation modes used.")
    scorecard: str | None = Field(None, description="Their bundle, relative to the output.")
    cards_cached: int = 0
    cards_graded: int = 0


class Region(BaseModel):
    a_lines: tuple[int, int]
    b_lines: tuple[int, int]


class SimilarPair(BaseModel):
    a: str
    b: str
    exercise: str
    similarity: float
    matched: int
    regions: list[Region]


class PassRate(BaseModel):
    exercise: str
    id: str
    name: str
    passed: int
    counted: int

    @property
    def rate(self) -> float:
        return self.passed / self.counted if self.counted else 1.0


class HintStat(BaseModel):
    exercise: str
    hint: str
    students: int


class Counts(BaseModel):
    students: int = 0
    graded: int = 0
    not_found: int = 0
    errors: int = 0
    pending: int = 0
    flagged: int = 0
    cards_cached: int = 0
    cards_graded: int = 0


class ClassSummary(BaseModel):
    format: Literal[1] = SUMMARY_FORMAT
    complete: bool
    grader_version: str
    grader_fingerprint: str
    seed: int
    started_at: str
    duration_s: float
    source: str
    engine: str
    workers: int | None = None
    deadline: str | None = None
    ref: str | None = None
    exercises: list[str]
    options: dict[str, object]
    manifest: str | None = None
    signed_with: str | None = Field(None, description="Id of the signing key, if signed.")
    counts: Counts
    students: list[StudentRecord]
    tests: list[PassRate] = Field(default_factory=list)
    hints: list[HintStat] = Field(default_factory=list)
    similar: list[SimilarPair] = Field(default_factory=list)


def counts(records: list[StudentRecord]) -> Counts:
    by = Counter(r.status for r in records)
    return Counts(
        students=len(records),
        graded=by["graded"],
        not_found=by["not-found"],
        errors=by["error"],
        pending=by["pending"],
        flagged=sum(1 for r in records if r.flags),
        cards_cached=sum(r.cards_cached for r in records),
        cards_graded=sum(r.cards_graded for r in records),
    )


def pass_rates(cards: list[Scorecard]) -> list[PassRate]:
    """Per-test pass counts over every graded card, hardest first."""
    passed: Counter[tuple[str, str]] = Counter()
    counted: Counter[tuple[str, str]] = Counter()
    names: dict[tuple[str, str], str] = {}
    for card in cards:
        for t in card.tests:
            if t.status == "skipped" or t.max_score <= 0:
                continue
            key = (card.exercise, t.id)
            names.setdefault(key, t.name)
            counted[key] += 1
            passed[key] += t.status == "passed"
    stats = [PassRate(exercise=e, id=i, name=names[(e, i)], passed=passed[(e, i)],
                      counted=n) for (e, i), n in counted.items()]  # fmt: skip
    return sorted(stats, key=lambda s: (s.rate, s.exercise, s.id))


def frequent_hints(cards_by_student: dict[str, list[Scorecard]]) -> list[HintStat]:
    """How many students got each hint, most frequent first."""
    seen: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for student, cards in cards_by_student.items():
        for card in cards:
            for t in card.tests:
                if t.hint and t.status in ("failed", "error"):
                    seen[(card.exercise, t.hint)].add(student)
    stats = [HintStat(exercise=e, hint=h, students=len(s)) for (e, h), s in seen.items()]
    return sorted(stats, key=lambda s: (-s.students, s.exercise, s.hint))
