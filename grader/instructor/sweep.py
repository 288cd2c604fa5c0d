"""``grade verify --seeds N``: every grade-time seed must be a fair seed.

Hidden tests draw their inputs from the grade-time seed (random unless ``--seed`` is given), so
one ``grade verify`` run checks one seed in two billion. A generator that now and then draws an
input the reference crashes on, or a tolerance that a rare draw exceeds, costs a correct student
a point on a few per cent of seeds: no single run shows it. The sweep grades each exercise's
solution and stub on N seeds (S, S+1, ..., S+N-1) and reports every seed on which the solution
is short of full marks or the stub scores, with the failing tests and the command that
reproduces it (``grade exercise-K --submission ... --seed S -k ...``).

It is built to be cheap per seed:

- only the hidden tests run per seed: public tests use fixed seeds, and ``grade verify``
  itself grades them (and the reference, which the solution's hidden tests call anyway) once;
- each file keeps one worker for all its seeds: a worker start (sandbox, torch import, the
  submission's import, the judge's source audit) costs seconds, grading one seed a fraction of
  that. The worker still restarts after a crash, as in any grading; the table shows the
  restarts (exercise 7 asks for fresh workers on purpose; elsewhere one means a crash or hang).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from grader.instructor.verify import judge_solution, judge_stub
from grader.judge import runner
from grader.judge.exercises import Exercise
from grader.judge.failures import GraderError
from grader.judge.scorecard import Scorecard, TestResult

COLUMNS = ("solution", "stub")
SHOWN_PER_FILE = 5  # failing seeds described in full per file; the rest are listed by number
PROGRESS_EVERY = 50  # seeds between progress lines


def _solution_culprits(card: Scorecard) -> list[TestResult]:
    """The tests that cost the solution a point (what :func:`judge_solution` reports)."""
    return [t for t in card.tests if t.status not in ("passed", "skipped")]


def _stub_culprits(card: Scorecard) -> list[TestResult]:
    """The tests a stub passed, or failed for another reason than "not implemented" (what
    :func:`judge_stub` reports)."""
    return [
        t
        for t in card.tests
        if (t.status == "passed" and t.max_score > 0)
        or (t.status not in ("passed", "skipped") and "not implemented" not in t.message.lower())
    ]


@dataclass
class SeedFailure:
    """One seed on which a file did not get what it must: full marks for the solution, zero
    (every test "not implemented") for the stub."""

    seed: int
    tests: list[str]  # the failing test ids ("hidden/test_x[cpu-0]"); empty: the whole card
    problems: list[str]  # what went wrong, one line each


@dataclass
class FileSweep:
    """One file (an exercise's solution or stub) graded on every seed of the sweep."""

    exercise: Exercise
    column: str  # "solution" | "stub"
    path: Path
    seeds: int = 0  # seeds graded
    start_s: float = 0.0  # the worker's start (sandbox, torch, import, audit) + the first seed
    grading_s: float = 0.0  # grading every seed after the first
    starts: int = 0  # worker starts (more than one: a crash, a hang, or a test's fresh worker)
    failures: list[SeedFailure] = field(default_factory=list)
    error: str | None = None  # the file could not be graded at all

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failures

    @property
    def per_seed_s(self) -> float:
        """What one more seed costs (the first pays for the worker's start)."""
        return self.grading_s / (self.seeds - 1) if self.seeds > 1 else self.start_s


@dataclass
class Sweep:
    seeds: list[int]
    files: list[FileSweep]
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(f.ok for f in self.files)


def judge_seed(column: str, card: Scorecard) -> SeedFailure | None:
    """What is wrong with ``card`` for a ``column`` file at its seed (None: nothing)."""
    solution = column == "solution"
    problems = judge_solution(card) if solution else judge_stub(card)
    if not problems:
        return None
    culprits = _solution_culprits(card) if solution else _stub_culprits(card)
    return SeedFailure(card.seed, [t.id for t in culprits], problems)


def seed_range(first: int, count: int) -> list[int]:
    """``count`` consecutive grade-time seeds from ``first``: each hidden test hashes the seed
    with its own name (``crc32("S:name")``), so neighbouring seeds draw unrelated inputs."""
    return list(range(first, first + count))


def sweep(
    root: Path,
    exercises: Sequence[Exercise],
    opts: runner.Options,
    seeds: Sequence[int],
    progress: Callable[[str], None] = lambda _: None,
) -> Sweep:
    """Grade each exercise's solution and stub on the hidden tests at every seed of ``seeds``.

    ``opts`` gives the device and isolation; its seed and visibilities are replaced per run.
    Ctrl-C stops the sweep between seeds and returns what finished, marked ``interrupted``.
    """
    t0 = time.perf_counter()
    result = Sweep(list(seeds), [])
    try:
        for ex in exercises:
            for column in COLUMNS:
                folder = "solutions" if column == "solution" else "exercises"
                path = root / folder / f"{ex.module}.py"
                file = FileSweep(ex, column, path)
                result.files.append(file)
                if not path.is_file():
                    file.error = f"{path} is missing"
                    continue
                progress(f"{ex.id}: sweeping the {column} over {len(seeds)} seed(s)")
                if not _sweep_file(file, opts, seeds, progress):
                    result.interrupted = True
                    return result
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        result.seconds = time.perf_counter() - t0
    return result


def _sweep_file(
    file: FileSweep,
    opts: runner.Options,
    seeds: Sequence[int],
    progress: Callable[[str], None] = lambda _: None,
) -> bool:
    """Grade ``file`` at each seed on one worker; False if grading was interrupted."""
    hidden = dataclasses.replace(opts, visibilities=("hidden",))
    t0 = time.perf_counter()
    try:
        prepared = runner.prepare(file.exercise, file.path, hidden)
    except GraderError as exc:
        file.error = str(exc)
        return True
    with _kept_open(prepared):
        for i, seed in enumerate(seeds):
            t = time.perf_counter()
            card = _grade_at(prepared, hidden, seed)
            if i == 0:
                file.start_s = time.perf_counter() - t0
            else:
                file.grading_s += time.perf_counter() - t
            file.starts = prepared.client.starts
            if isinstance(card, str):
                failure: SeedFailure | None = SeedFailure(seed, [], [card])
            elif card.interrupted:  # Ctrl-C: an unfinished card says nothing about its seed
                return False
            else:
                failure = judge_seed(file.column, card)
            file.seeds += 1
            if failure is not None:
                file.failures.append(failure)
            if (i + 1) % PROGRESS_EVERY == 0 and i + 1 < len(seeds):
                progress(
                    f"{file.exercise.id}: {file.column} graded on {i + 1}/{len(seeds)} seeds, "
                    f"{len(file.failures)} failing, {file.per_seed_s:.2f} s per seed"
                )
    return True


def _grade_at(prepared: runner.Prepared, opts: runner.Options, seed: int) -> Scorecard | str:
    """The scorecard at ``seed``, or why there is none."""
    try:
        return runner.grade(prepared, dataclasses.replace(opts, seed=seed))
    except GraderError as exc:
        return f"grading failed: {exc}"


@contextlib.contextmanager
def _kept_open(prepared: runner.Prepared) -> Iterator[None]:
    """Let ``prepared`` serve every seed. :func:`runner.grade` ends a grading by tearing down
    what :func:`runner.prepare` started: the worker (``client.close``) and, where prepare
    started one for it, the worker template the worker is forked from (``prepared.zygote``:
    closing it kills the worker). Both wait here until the last seed is graded, then go the
    same way. The client's restart after a crash or hang is untouched."""
    client = prepared.client
    close = client.close
    client.close = lambda: None  # type: ignore[method-assign]  # held open on purpose (above)
    template = getattr(prepared, "zygote", None)
    if template is not None:
        prepared.zygote = None
    try:
        yield
    finally:
        del client.close
        close()
        if template is not None:
            from grader.judge.client import close_zygote

            close_zygote(template)


def reproduce(file: FileSweep, failure: SeedFailure, root: Path) -> str:
    """The command that grades ``file`` as the sweep did at the failing seed."""
    try:
        where = file.path.relative_to(root)
    except ValueError:
        where = file.path
    command = f"grade {file.exercise.id} --submission {where} --device cpu --seed {failure.seed}"
    names = sorted({t.split("/", 1)[-1].split("[", 1)[0] for t in failure.tests})
    return command + (f" -k '{' or '.join(names)}'" if names else "")


def report(result: Sweep, root: Path) -> str:
    """The sweep as a table (one row per exercise: seeds passed and seconds per seed, for the
    solution and the stub), then every failing seed: its tests, the first problem, and the
    command that reproduces it."""
    rows: dict[str, dict[str, FileSweep]] = {}
    for file in result.files:
        rows.setdefault(file.exercise.id, {})[file.column] = file
    header = ["exercise", *(f"{c} (seeds ok, s/seed)" for c in COLUMNS)]
    body = [[name, *(_cell(cols.get(c)) for c in COLUMNS)] for name, cols in rows.items()]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    graded = sum(f.seeds for f in result.files)
    per_seed = sum(f.per_seed_s for f in result.files)
    lines.insert(
        0,
        f"seed sweep: hidden tests at {len(result.seeds)} seed(s), {_seeds(result.seeds)}; "
        f"{graded} gradings in {result.seconds:.0f} s ({per_seed:.2f} s per seed for all files)",
    )
    details = [line for file in result.files for line in _details(file, root)]
    lines += [""] + details if details else []
    if result.interrupted:
        lines.append("interrupted: the seeds and files above are all that was graded")
    return "\n".join(lines)


def _seeds(seeds: Sequence[int]) -> str:
    if len(seeds) > 2 and list(seeds) == seed_range(seeds[0], len(seeds)):
        return f"{seeds[0]}..{seeds[-1]}"
    return ", ".join(str(s) for s in seeds[:10]) + (", ..." if len(seeds) > 10 else "")


def _cell(file: FileSweep | None) -> str:
    if file is None:
        return ""
    if file.error is not None:
        return "FAIL (not graded)"
    verdict = "ok" if file.ok else "FAIL"
    bad = len({f.seed for f in file.failures})
    restarts = f", {file.starts - 1} restart(s)" if file.starts > 1 else ""
    return f"{verdict} {file.seeds - bad}/{file.seeds}  {file.per_seed_s:.2f}{restarts}"


def _details(file: FileSweep, root: Path) -> list[str]:
    name = f"{file.exercise.id} {file.column}"
    if file.error is not None:
        return [f"{name}: {file.error}"]
    lines = []
    for failure in file.failures[:SHOWN_PER_FILE]:
        lines.append(f"{name}, seed {failure.seed}: {', '.join(failure.tests) or 'the card'}")
        lines.append(f"  {failure.problems[0]}")
        lines.append(f"  reproduce: {reproduce(file, failure, root)}")
    rest = file.failures[SHOWN_PER_FILE:]
    if rest:
        seeds = ", ".join(str(f.seed) for f in rest)
        lines.append(f"{name}: {len(rest)} more failing seed(s): {seeds}")
    return lines
