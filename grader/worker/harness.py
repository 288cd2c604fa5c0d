"""The API that trusted scenario code uses inside the worker.

A *scenario* is a plain function in ``grader/worker/scenarios/exNN_<slug>.py`` decorated with
:func:`scenario`. The judge asks for it by name with keyword arguments (data); it receives a
:class:`Student` handle, builds whatever objects it needs (optimizers, models, loaders), calls
the student's code and returns plain data for the judge to check. Scenario code runs in the
untrusted process, so it must never *decide* anything: it measures and reports.
"""

from __future__ import annotations

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
