"""What one grading process does for one student: the ``grade all`` code path.

A :class:`Job` carries the student's exercise files as bytes, not as paths, so the same task
runs in a local process pool and on a Dask worker on another machine. The task writes them into
a private temporary folder (under ``/tmp``, which the bwrap sandbox replaces with its own, so one
student's worker cannot read another student's files) and calls
:func:`grader.judge.runner.grade_many` -- exactly what ``grade all`` does.

Jobs and results are plain data (bytes, strings, lists, dicts) travelling between trusted
judge processes; student code never sees them.
"""

from __future__ import annotations

import dataclasses
import platform
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.judge.runner import Options
    from grader.judge.sandbox.zygote import Zygote

LOCK = threading.Lock()  # pytest runs in-process: one grading at a time per process
BUSY = threading.Event()  # set while a student is being graded in this process


@dataclass
class Job:
    student: str
    files: dict[str, bytes]  # file name inside the submission folder -> contents
    exercises: list[str]  # exercise ids to grade
    options: dict[str, object]  # Options fields: device, seed, isolation, visibilities, select
    fingerprint: str  # the instructor's grader: a worker running another one refuses
    display: str = ""  # how cards show the submission folder, e.g. "alice@1a2b3c4:exercises"
    hide: list[str] = field(default_factory=list)  # folders the sandbox should not show


@dataclass
class JobResult:
    student: str
    cards: list[str] = field(default_factory=list)  # Scorecard JSON, one per exercise
    errors: list[str] = field(default_factory=list)  # grading errors, as `grade all` prints
    error: str | None = None  # the task as a whole failed
    host: str = ""
    wall_s: float = 0.0


def _options(job: Job) -> Options:
    from grader.judge.runner import Options

    # Options fields, as classrun wrote them from its own typed settings (trusted data).
    values: dict[str, Any] = dict(job.options)
    values["visibilities"] = tuple(values.get("visibilities", ("public", "hidden")))
    known = {f.name for f in dataclasses.fields(Options)}
    if "hide" in known and job.hide:  # the runner accepts extra folders to mask
        values["hide"] = tuple(Path(p) for p in job.hide)
    return Options(**{k: v for k, v in values.items() if k in known})


def _safe_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")


def grade_student(job: Job) -> JobResult:
    """Grade ``job``'s exercises as ``grade all`` would; never raises."""
    result = JobResult(student=job.student, host=platform.node())
    t0 = time.perf_counter()
    with LOCK:
        BUSY.set()
        try:
            _grade(job, result)
        except Exception as exc:  # a grader bug must reach the instructor as one student's error
            result.error = f"internal error while grading: {type(exc).__name__}: {exc}"
        finally:
            BUSY.clear()
    result.wall_s = round(time.perf_counter() - t0, 3)
    return result


def share_templates() -> None:
    """Let this process keep one worker template for every student it grades (see
    :func:`grader.judge.client.kept_template`), closed when the process ends. The local
    engine's pool processes do; a Dask worker, whose end this grader does not see (its nanny
    may kill it), starts a template per student instead, as `grade all` does."""
    global _SHARING
    if not _SHARING:
        _close_templates_at_exit()
        _SHARING = True


_SHARING = False


def _process_template(options: Options) -> Zygote | None:
    from grader.judge.client import kept_template
    from grader.judge.runner import workers_need_cuda

    if not _SHARING:
        return None
    return kept_template(options.isolation, workers_need_cuda(options))


def close_templates() -> None:
    """Kill this process's kept templates and everything they started; remove their folders."""
    from grader.judge.client import close_kept_templates

    close_kept_templates()


def _close_templates_at_exit() -> None:
    """Close the templates when this process ends: a pool process ends through
    multiprocessing's finalizers (not atexit), a Dask worker through atexit."""
    import atexit
    from multiprocessing import util

    atexit.register(close_templates)
    util.Finalize(None, close_templates, exitpriority=10)


def _grade(job: Job, result: JobResult) -> None:
    from grader.judge import exercises, runner
    from grader.regrade.cache import grader_fingerprint

    if job.fingerprint != grader_fingerprint():
        result.error = (
            f"the grading process on {result.host} runs a different grader (suites, references "
            "or torch differ from the instructor's): install the same trainloop-grader there"
        )
        return
    folder = Path(tempfile.mkdtemp(prefix="tlg-class-"))
    try:
        for name, data in job.files.items():
            if not _safe_name(name):
                raise ValueError(f"unsafe file name {name!r}")
            (folder / name).write_bytes(data)
        chosen = [exercises.find(e) for e in job.exercises]
        options = _options(job)
        bundle, errors = runner.grade_many(chosen, folder, options, _process_template(options))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result.errors = errors
    for card in bundle.exercises:
        path = card.submission.path
        if path.startswith(str(folder)):
            card.submission.path = job.display + path[len(str(folder)) :]
        result.cards.append(card.model_dump_json())
