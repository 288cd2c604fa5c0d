"""The class's answers as text for the similarity check, with the shipped template to subtract.

A notebook answer is compared through the same conversion the judge grades (definitions kept,
nothing executed). The template is the stub each student started from: by default the course
repository's ``exercises/`` next to this grader, or ``--template DIR``.
"""

from __future__ import annotations

from pathlib import Path

import grader
from grader.judge.exercises import Exercise
from grader.judge.notebook_source import NotebookError, notebook_to_python
from grader.regrade import similarity
from grader.regrade.plan import Plan
from grader.regrade.records import Region, SimilarPair

DEFAULT_TEMPLATE = Path(grader.__file__).resolve().parent.parent / "exercises"


def _text(files: dict[str, bytes], ex: Exercise) -> str | None:
    py = files.get(f"{ex.module}.py")
    if py is not None:
        return py.decode("utf-8", "replace")
    for name, data in sorted(files.items()):
        if name.endswith(".ipynb"):
            try:
                return notebook_to_python(data, name).source
            except (NotebookError, ValueError):
                return None
    return None


def _templates(exercises: list[Exercise], folder: Path | None) -> dict[str, set[int]]:
    folder = folder or DEFAULT_TEMPLATE
    found = {}
    for ex in exercises:
        stub = folder / f"{ex.module}.py"
        found[ex.id] = (
            similarity.template_hashes(stub.read_text(encoding="utf-8"))
            if stub.is_file()
            else set()
        )
    return found


def similar(
    plans: list[Plan], exercises: list[Exercise], template: Path | None
) -> list[similarity.Match]:
    """Suspicious pairs among ``plans``; each student in a pair gets a flag."""
    templates = _templates(exercises, template)
    answers = []
    for plan in plans:
        for ex in exercises:
            text = _text(plan.files.get(ex.id, {}), ex)
            if text is not None:
                answers.append(
                    similarity.fingerprint(plan.entry.student, ex.id, text, templates[ex.id])
                )
    matches = similarity.similar_pairs(answers)
    by_name = {p.entry.student: p for p in plans}
    for m in matches:
        pct = f"{m.similarity:.0%}"
        by_name[m.a].record.flags.append(f"similar to {m.b} ({m.exercise}, {pct})")
        by_name[m.b].record.flags.append(f"similar to {m.a} ({m.exercise}, {pct})")
    return matches


def as_record(match: similarity.Match) -> SimilarPair:
    return SimilarPair(
        a=match.a,
        b=match.b,
        exercise=match.exercise,
        similarity=match.similarity,
        matched=match.matched,
        regions=[Region(a_lines=r.a_lines, b_lines=r.b_lines) for r in match.regions],
    )
