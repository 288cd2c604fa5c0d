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


# This process's worker template per (isolation, CUDA), shared by every student it grades.
# A template only ever imports torch and the grader's scenarios; student code runs in children
# forked from it, each with a fresh view and scratch folder and every sandbox layer of its own,
# killed (and its folders removed) when its exercise is done -- exactly as between two
# exercises of one student. Sharing it saves a torch import per student (~4 CPU s).
_TEMPLATES: dict[tuple[str, bool], Zygote] = {}


def _process_template(options: Options) -> Zygote | None:
    from grader.judge import exercises
    from grader.judge.client import start_zygote
    from grader.judge.runner import workers_need_cuda

    key = (options.isolation, workers_need_cuda(options))
    template = _TEMPLATES.get(key)
    if template is None or not template.alive:
        every = [ex.module for ex in exercises.all_exercises()]
        template = start_zygote(every, mode=options.isolation, cuda=key[1])
        if template is None:
            return None  # each grading then starts its own, as `grade all` does
        if not _TEMPLATES:
            _close_templates_at_exit()
        _TEMPLATES[key] = template
    return template


def close_templates() -> None:
    """Kill this process's templates and everything they started; remove their folders."""
    from grader.judge.client import close_zygote

    for template in list(_TEMPLATES.values()):
        close_zygote(template)
    _TEMPLATES.clear()


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
