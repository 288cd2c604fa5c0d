"""Grading one exercise (or several): submission -> worker -> pytest suites -> scorecard.

This is the single code path behind every use: a student's ``grade exercise-3``, the classroom
workflow and an instructor's regrade all end up in :func:`grade`.
"""

from __future__ import annotations

import os
import platform
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import grader
from grader.judge.client import WorkerClient, WorkerSpec
from grader.judge.exercises import REFERENCE_DIR, SUITES_DIR, Exercise
from grader.judge.failures import GraderError
from grader.judge.scorecard import Bundle, Environment, Scorecard, Submission, TestResult
from grader.judge.submission import Resolved, resolve

REPO_SOLUTIONS = Path(grader.__file__).resolve().parent.parent / "solutions"


@dataclass
class Options:
    device: str = "auto"  # cpu | cuda | auto (cpu, plus cuda when present)
    seed: int | None = None
    isolation: str = "auto"  # auto | bwrap | unshare | process
    visibilities: tuple[str, ...] = ("public", "hidden")
    select: str | None = None  # a pytest -k expression: grade only matching tests
    # False only to check references, which are built on the very functions students may not
    # call: then no call is treated as forbidden.
    check_forbidden: bool = True

    def resolved_seed(self) -> int:
        if self.seed is None:
            self.seed = secrets.randbits(31)
        return self.seed


@dataclass
class Prepared:
    exercise: Exercise
    submission: Resolved
    client: WorkerClient


def prepare(ex: Exercise, root: Path, opts: Options) -> Prepared:
    """Resolve the submission and start its worker (so torch imports while the judge warms up)."""
    sub = resolve(ex, root)
    spec = WorkerSpec(
        module=ex.module,
        submission=sub.file,
        forbidden=list(ex.forbidden) if opts.check_forbidden else [],
        mode=opts.isolation,
        hide=[REFERENCE_DIR, SUITES_DIR / "hidden", REPO_SOLUTIONS],
        cuda=opts.device in ("cuda", "auto"),
        unusable=sub.error,
    )
    try:
        client = WorkerClient(spec)
    except RuntimeError as exc:
        raise GraderError(str(exc)) from None
    client.start()
    return Prepared(ex, sub, client)


def _devices(opts: Options) -> tuple[list[str], bool]:
    import torch

    cuda = torch.cuda.is_available()
    if opts.device == "cpu":
        return ["cpu"], cuda
    if opts.device == "cuda":
        if not cuda:
            raise GraderError("--device cuda was asked for, but this machine has no CUDA device")
        return ["cuda"], cuda
    return ["cpu", "cuda"], cuda


def _pytest_args(ex: Exercise, opts: Options) -> list[str]:
    suites = ex.suites()
    files = [str(suites[v]) for v in opts.visibilities if v in suites]
    if not files:
        raise GraderError(f"{ex.id} has no test suite in {SUITES_DIR}")
    return [
        *files,
        "-c", str(SUITES_DIR / "pytest.ini"),
        "--rootdir", str(SUITES_DIR),
        "--noconftest",
        "--import-mode=importlib",
        "-p", "no:cacheprovider",
        "-p", "no:terminal",
        "-p", "no:warnings",
        "-p", "no:legacypath",
        *(["-k", opts.select] if opts.select else []),
    ]  # fmt: skip


def _clean_pytest_env() -> None:
    for var in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS"):
        os.environ.pop(var, None)
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"


def grade(prepared: Prepared, opts: Options) -> Scorecard:
    """Run the exercise's suites against the prepared submission and build its scorecard."""
    import pytest
    import torch

    from grader.judge.plugin import GraderPlugin

    ex, sub, client = prepared.exercise, prepared.submission, prepared.client
    started, t0 = datetime.now(timezone.utc), time.perf_counter()
    seed = opts.resolved_seed()
    devices, cuda = _devices(opts)
    plugin = GraderPlugin(client=client, devices=devices, grade_seed=seed, cuda_available=cuda)
    _clean_pytest_env()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # references run on tiny inputs; the worker needs the other core
    try:
        code = pytest.main(_pytest_args(ex, opts), plugins=[plugin])
    finally:
        torch.set_num_threads(threads)
        client.close()
    if plugin.collection_errors:
        raise GraderError("a test suite failed to load:\n" + "\n".join(plugin.collection_errors))
    if code == pytest.ExitCode.NO_TESTS_COLLECTED and opts.select:
        raise GraderError(f"no test of {ex.id} matches -k {opts.select!r}")
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or not plugin.results:
        raise GraderError(f"pytest stopped with exit code {int(code)} while grading {ex.id}")
    plugin.void_forbidden()
    tests = plugin.results
    tested = sorted({t.device for t in tests if t.device and t.status != "skipped"})
    return Scorecard(
        exercise=ex.id,
        title=ex.title,
        score=round(sum(t.score for t in tests), 6),
        max_score=round(sum(t.max_score for t in tests), 6),
        submission=Submission(
            path=str(sub.path), sha256=sub.sha256, error=sub.error, notes=sub.notes
        ),
        seed=seed,
        environment=Environment(
            python=platform.python_version(),
            torch=torch.__version__,
            grader=grader.__version__,
            platform=f"{sys.platform}-{platform.machine()}",
            devices_tested=tested or ["cpu"],
            isolation=client.layers or [f"{client.mode} (worker not started: {sub.error})"],
            isolation_mode=client.mode,
        ),
        started_at=started,
        duration_s=round(time.perf_counter() - t0, 3),
        tests=tests,
    )


def failed_card(ex: Exercise, root: Path, opts: Options, error: str) -> Scorecard:
    """The scorecard written when grading itself could not run: zero, with the reason."""
    return Scorecard(
        exercise=ex.id,
        title=ex.title,
        score=0.0,
        max_score=0.0,
        submission=Submission(path=str(root), error=error),
        seed=opts.resolved_seed(),
        environment=Environment(
            python=platform.python_version(),
            torch="unknown",
            grader=grader.__version__,
            platform=f"{sys.platform}-{platform.machine()}",
            devices_tested=[],
            isolation=[],
            isolation_mode=opts.isolation,
        ),
        started_at=datetime.now(timezone.utc),
        duration_s=0.0,
        tests=[
            TestResult(
                id="grading",
                name="grading could run",
                status="error",
                score=0.0,
                max_score=0.0,
                message=error,
                visibility="public",
                duration_s=0.0,
            )
        ],
    )


def grade_many(exercises: list[Exercise], root: Path, opts: Options) -> tuple[Bundle, list[str]]:
    """Grade several exercises, starting each worker while the previous exercise runs."""
    started, t0 = datetime.now(timezone.utc), time.perf_counter()
    seed = opts.resolved_seed()
    cards: list[Scorecard] = []
    errors: list[str] = []
    upcoming: Prepared | GraderError | None = None
    for i, ex in enumerate(exercises):
        try:
            current = upcoming or prepare(ex, root, opts)
            if isinstance(current, GraderError):
                raise current
            upcoming = None
            if i + 1 < len(exercises):  # its worker imports torch while this one is graded
                try:
                    upcoming = prepare(exercises[i + 1], root, opts)
                except GraderError as exc:
                    upcoming = exc
            cards.append(grade(current, opts))
        except GraderError as exc:
            errors.append(f"{ex.id}: {exc}")
            cards.append(failed_card(ex, root, opts, str(exc)))
        except Exception as exc:  # a grader bug in one exercise must not lose the others
            errors.append(f"{ex.id}: internal error {type(exc).__name__}: {exc}")
            cards.append(failed_card(ex, root, opts, f"internal error: {type(exc).__name__}"))
    bundle = Bundle(
        score=round(sum(c.score for c in cards), 6),
        max_score=round(sum(c.max_score for c in cards), 6),
        seed=seed,
        started_at=started,
        duration_s=round(time.perf_counter() - t0, 3),
        exercises=cards,
    )
    return bundle, errors
