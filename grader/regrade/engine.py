"""Where the students' tasks run: a process pool here, or an existing Dask cluster.

Both engines run :func:`grader.regrade.task.grade_student` once per student and hand each
result to the caller as it finishes, so caching and outputs are the same code whatever the
engine. A task that fails as a whole (a lost process, an unreachable worker) becomes that
student's error, never the end of the class.

The local pool is spawned (not forked from a judge that may have imported torch), its
processes ignore SIGINT so one Ctrl-C reaches only the parent, which stops handing out work
and ends the pool: finished students are already cached.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol

from grader.judge.failures import GraderError
from grader.regrade.task import Job, JobResult, grade_student

Done = Callable[[JobResult], None]
RECYCLE_AFTER = 50  # students per pool process: bounds memory growth across many pytest runs


class Engine(Protocol):
    name: str

    def run(self, jobs: list[Job], done: Done) -> None:
        """Grade every job, calling ``done`` in this thread as each one finishes."""
        ...


def _pool_process_setup() -> None:
    """In a pool process: Ctrl-C is the parent's business; SIGTERM (the parent ending the pool)
    stops a grading cleanly -- its workers killed, folders removed -- or exits when idle; and
    one worker template serves every student the process grades."""
    from grader.regrade import task

    def on_term(_signum: int, _frame: object) -> None:
        if task.BUSY.is_set():
            raise KeyboardInterrupt
        task.close_templates()
        os._exit(128 + signal.SIGTERM)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, on_term)
    task.share_templates()  # this process's end is ours to see: one template for its students


class LocalEngine:
    """A pool of ``workers`` spawned processes on this machine."""

    name = "local"

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)

    def run(self, jobs: list[Job], done: Done) -> None:
        if not jobs:
            return
        extra: dict[str, Any] = {}
        if sys.version_info >= (3, 11):
            extra["max_tasks_per_child"] = RECYCLE_AFTER
        pool = ProcessPoolExecutor(
            max_workers=min(self.workers, len(jobs)),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_pool_process_setup,
            **extra,
        )
        pending: dict[Future[JobResult], Job] = {}
        try:
            pending = {pool.submit(grade_student, job): job for job in jobs}
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    job = pending.pop(future)
                    done(_outcome(future, job))
        except BaseException:
            _stop(pool, pending)
            raise
        pool.shutdown(wait=True)


def _outcome(future: Future[JobResult], job: Job) -> JobResult:
    try:
        return future.result()
    except Exception as exc:  # the pool process died (killed, out of memory)
        return JobResult(
            student=job.student,
            error=f"the grading process was lost ({type(exc).__name__}); run again to retry",
        )


def _stop(pool: ProcessPoolExecutor, pending: dict[Future[JobResult], Job]) -> None:
    """Cancel what has not started and stop the pool's processes: SIGTERM makes a busy one
    stop grading the way ``grade all`` stops on Ctrl-C (workers killed, folders removed)."""
    for future in pending:
        future.cancel()
    processes = list(getattr(pool, "_processes", {}).values())  # no public handle before 3.14
    for process in processes:
        with contextlib.suppress(OSError, AttributeError):
            os.kill(process.pid, signal.SIGTERM)
    pool.shutdown(wait=True, cancel_futures=True)


class DaskEngine:
    """One task per student on the Dask cluster whose scheduler is at ``address``.

    Its workers must have this grader installed (the task refuses to grade with another one)
    and should run one thread each (``dask worker --nthreads 1``): grading runs pytest
    in-process, so a worker process grades one student at a time anyway.
    """

    name = "dask"

    def __init__(self, address: str) -> None:
        self.address = address

    def run(self, jobs: list[Job], done: Done) -> None:
        if not jobs:
            return
        try:
            from distributed import Client, as_completed
        except ImportError:
            raise GraderError(
                "--engine dask needs dask.distributed: pip install 'trainloop-grader[class]'"
            ) from None
        try:
            client = Client(self.address, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise GraderError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from None
        futures = []
        run = uuid.uuid4().hex[:12]  # keys stay unique when two classes share a scheduler
        try:
            futures = [
                client.submit(grade_student, job, pure=False, retries=1, key=f"grade-{run}-{i}")
                for i, job in enumerate(jobs)
            ]
            by_key = {f.key: job for f, job in zip(futures, jobs)}
            for future in as_completed(futures):
                job = by_key[future.key]
                if future.status == "finished":
                    done(future.result())
                else:
                    done(
                        JobResult(
                            student=job.student,
                            error=f"the Dask task failed: {future.exception()!r}",
                        )
                    )
                future.release()
        except BaseException:
            with contextlib.suppress(Exception):
                client.cancel(futures)
            raise
        finally:
            client.close()
