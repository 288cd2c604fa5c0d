"""The API that trusted scenario code uses inside the worker.

A *scenario* is a plain function in ``grader/worker/scenarios/exNN_<slug>.py`` decorated with
:func:`scenario`. The judge asks for it by name with keyword arguments (data); it receives a
:class:`Student` handle, builds whatever objects it needs (optimizers, models, loaders), calls
the student's code and returns plain data for the judge to check. Scenario code runs in the
untrusted process, so it must never *decide* anything: it measures and reports.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from grader.worker.guards import Guard

SCENARIOS: dict[str, Callable[..., Any]] = {}


def scenario(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Register ``fn`` as a scenario the judge can run by its function name."""
    SCENARIOS[f"{fn.__module__.rsplit('.', 1)[-1]}:{fn.__name__}"] = fn
    return fn


class MissingName(Exception):
    """The submission does not define a name a test needs."""

    def __init__(self, name: str, kind: str = "function") -> None:
        super().__init__(name)
        self.name = name
        self.kind = kind


class Student:
    """The student's module as a scenario sees it; records which names were used."""

    def __init__(self, module: Any, guard: Guard) -> None:
        self._module = module
        self._guard = guard
        self.used: list[str] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self.used:
            self.used.append(name)
        if self._module is None or not hasattr(self._module, name):
            raise MissingName(name)
        return getattr(self._module, name)

    def has(self, name: str) -> bool:
        return self._module is not None and hasattr(self._module, name)

    @contextmanager
    def unguarded(self) -> Iterator[None]:
        """For the harness's own calls (e.g. a torch baseline) inside a scenario."""
        with self._guard.paused():
            yield


def best_time(fn: Callable[[], Any], *, block_s: float = 0.01, max_loops: int = 10_000) -> float:
    """Seconds per call of ``fn``: loops sized to ``block_s``; one block, minimum per call."""
    loops, start = 0, time.perf_counter()
    while loops < max_loops:
        fn()
        loops += 1
        if time.perf_counter() - start >= block_s:
            break
    return (time.perf_counter() - start) / loops


def compare_timing(
    student_fn: Callable[[], Any],
    reference_fn: Callable[[], Any],
    *,
    rounds: int = 15,
    warmup: int = 3,
    block_s: float = 0.01,
    budget_s: float = 4.0,
) -> dict[str, float]:
    """Interleaved A/B timing in one process: ratio of the minimum per-call times.

    Stops early once the budget is spent (a per-element loop takes seconds per call).
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(warmup):
            reference_fn()
        ref_times: list[float] = [best_time(reference_fn, block_s=block_s)]
        t0 = time.perf_counter()
        student_fn()
        first = time.perf_counter() - t0
        stu_times: list[float] = [first]
        # Hopelessly slow (a Python loop over elements): one call says enough.
        hopeless = first > 0.05 and first > 100 * ref_times[0]
        deadline = time.perf_counter() + budget_s
        for i in range(0 if hopeless else rounds):
            pair = [(ref_times, reference_fn), (stu_times, student_fn)]
            for times, fn in pair if i % 2 == 0 else pair[::-1]:
                times.append(best_time(fn, block_s=block_s))
            if time.perf_counter() > deadline:
                break
    finally:
        if gc_was:
            gc.enable()
        torch.set_num_threads(threads)
    ref, stu = min(ref_times), min(stu_times)
    return {"reference_s": ref, "student_s": stu, "ratio": stu / ref, "rounds": len(stu_times)}


@contextmanager
def torch_calls() -> Iterator[list[str]]:
    """Record the name of every torch API call (functions, methods, indexing, ``.item()``)
    made inside the block, in order."""
    from torch.overrides import TorchFunctionMode

    calls: list[str] = []

    class Recorder(TorchFunctionMode):
        def __torch_function__(
            self,
            func: Any,
            types: Any,
            args: tuple[Any, ...] = (),
            kwargs: dict[str, Any] | None = None,
        ) -> Any:
            calls.append(getattr(func, "__name__", None) or str(func))
            return func(*args, **(kwargs or {}))

    with Recorder():
        yield calls


def count_torch_calls(fn: Callable[[], Any]) -> int:
    """How many torch API calls ``fn`` makes."""
    with torch_calls() as calls:
        fn()
    return len(calls)


def recover_tracing(student: Student) -> None:
    """Put the guard's profile hook back after CPython unset it, in a scenario.

    CPython unsets a profile function that raises, and at Python's recursion limit the hook
    itself raises ``RecursionError``: a student's too-deep recursion would otherwise read as
    switching tracing off. Call it right after catching a ``RecursionError`` from student code.
    A hook replaced by anything else is left alone (the guard reports that as tampering).
    """
    import sys

    guard = student._guard
    if guard.active and sys.getprofile() is None:
        sys.setprofile(guard.trace)
