"""``grade publish-solutions OUT_DIR``: the solutions, each with the scorecard that proves it.

For every exercise: ``exNN_<slug>.py`` (the solution without its region markers) and
``exNN_<slug>.ipynb`` (the same as a notebook), each graded like a student's submission, public
and hidden tests, with ``<file>.scorecard.json`` written next to it, and a README indexing them.
Hidden tests are numbered rather than named unless asked otherwise, so hidden suites can be
reused in later terms.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from grader.instructor import notebooks, stubs
from grader.instructor.release import MARKER
from grader.instructor.verify import grade_each
from grader.judge import exercises as exercise_index
from grader.judge import runner
from grader.judge.exercises import Exercise
from grader.judge.failures import GraderError
from grader.judge.scorecard import Scorecard, write_atomic


@dataclass
class Published:
    exercise: str
    file: Path
    card: Scorecard | None
    error: str | None = None

    @property
    def full_marks(self) -> bool:
        card = self.card
        return card is not None and card.passed and card.score == card.max_score > 0


def redact_hidden(card: Scorecard) -> Scorecard:
    """The card with hidden tests as ``hidden/1``, ``hidden/2``... and no names or messages."""
    tests, n = [], 0
    for t in card.tests:
        if t.visibility == "hidden":
            n += 1
            t = t.model_copy(
                update={"id": f"hidden/{n}", "name": f"hidden test {n}", "message": "", "hint": ""}
            )
        tests.append(t)
    return card.model_copy(update={"tests": tests})


def _write_sources(root: Path, out: Path, chosen: list[Exercise]) -> list[tuple[Exercise, Path]]:
    files = []
    for ex in chosen:
        solution = root / "solutions" / f"{ex.module}.py"
        if not solution.is_file():
            raise GraderError(f"solutions/{solution.name} is missing")
        source = solution.read_text(encoding="utf-8")
        py = out / solution.name
        py.write_text(stubs.strip_markers(source, str(solution)), encoding="utf-8")
        nb = py.with_suffix(".ipynb")
        nb.write_text(notebooks.solution_notebook(source, solution), encoding="utf-8")
        files += [(ex, py), (ex, nb)]
    return files


def publish(
    root: Path,
    out: Path,
    opts: runner.Options,
    *,
    force: bool = False,
    reveal_hidden: bool = False,
    only: list[Exercise] | None = None,
) -> list[Published]:
    """Write and grade every solution (or ``only`` these) into ``out``; returns the scores."""
    chosen = list(only) if only is not None else list(exercise_index.all_exercises())
    out = out.resolve()
    if out.is_dir() and any(out.iterdir()):
        if not force or not (out / MARKER).is_file():
            raise GraderError(
                f"{out} is not empty; pass --force to replace solutions published there before"
                if not force
                else f"{out} was not written by grade publish-solutions; refusing to delete it"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by `grade publish-solutions`\n", encoding="utf-8")
    results = []
    files = _write_sources(root, out, chosen)
    for (ex, path), outcome in zip(files, grade_each(files, opts)):
        if isinstance(outcome, str):
            results.append(Published(ex.id, path, None, outcome))
            continue
        shown = outcome if reveal_hidden else redact_hidden(outcome)
        shown = shown.model_copy(
            update={"submission": shown.submission.model_copy(update={"path": path.name})}
        )
        write_atomic(path.with_name(path.name + ".scorecard.json"), shown)
        results.append(Published(ex.id, path, shown))
    (out / "README.md").write_text(_index(results), encoding="utf-8")
    return results


def summary(results: list[Published]) -> list[str]:
    lines = []
    for r in results:
        if r.card is None:
            lines.append(f"{r.exercise:<12} {r.file.name:<40} ERROR {r.error}")
        else:
            verdict = "ok" if r.full_marks else "NOT FULL MARKS"
            score = f"{r.card.score:g}/{r.card.max_score:g}"
            lines.append(f"{r.exercise:<12} {r.file.name:<40} {score:>9}  {verdict}")
    return lines


def _index(results: list[Published]) -> str:
    rows = [
        "# Solutions",
        "",
        "Each solution is graded by the course's grader, public and hidden tests; its scorecard",
        "is next to it (`<file>.scorecard.json`).",
        "",
        "| exercise | file | score | scorecard |",
        "|---|---|---|---|",
    ]
    for r in results:
        score = f"{r.card.score:g}/{r.card.max_score:g}" if r.card else "error"
        rows.append(
            f"| {r.exercise} | [{r.file.name}]({r.file.name}) | {score} | "
            f"[{r.file.name}.scorecard.json]({r.file.name}.scorecard.json) |"
        )
    return "\n".join(rows) + "\n"
