"""Speed checks on the judge's clock.

A worker can report any timing it likes, and student code can behave differently when it
thinks it is being measured. So the worker only *runs*: a speed scenario answers "call the
student's function ``loops`` times" or "call the reference ``loops`` times" on inputs it built
once from a seed, and returns nothing that counts. The judge times each request itself,
interleaving student and reference rounds (ABBA), and compares the minimum time per call.

The measured runs are ordinary calls: nothing in the worker (garbage collection, threads,
tracing) differs between them and the correctness tests' calls. Each request's fixed cost
(the pipe round trip, well under a millisecond) is small next to the ``target_s`` of work a
round is sized to, and the same on both sides.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timing:
    student_s: float  # best seconds per call
    reference_s: float
    rounds: int

    @property
    def ratio(self) -> float:
        return self.student_s / self.reference_s if self.reference_s > 0 else math.inf


def _round(student: Any, scenario: str, who: str, loops: int, data: dict[str, Any]) -> float:
    """Seconds per call for one request of ``loops`` calls, on the judge's clock."""
    start = time.perf_counter()
    student.scenario(scenario, who=who, loops=loops, **data)
    return (time.perf_counter() - start) / loops


def measure(
    student: Any,
    scenario: str,
    data: dict[str, Any],
    *,
    rounds: int = 8,
    target_s: float = 0.02,
    budget_s: float = 6.0,
    hopeless: float = 100.0,
) -> Timing:
    """Time ``scenario`` (which must accept ``who`` and ``loops``) for the student and the
    reference, interleaved, and return the best time per call of each.

    The first requests warm both up and size ``loops`` so a reference round takes about
    ``target_s``. A student whose single call is already ``hopeless`` times slower than the
    reference's (a per-element Python loop) is not timed further.
    """
    _round(student, scenario, "reference", 1, data)  # warm-up: lazy init, allocator
    reference = [_round(student, scenario, "reference", 1, data)]
    students = [_round(student, scenario, "student", 1, data)]
    if students[0] > 0.05 and students[0] > hopeless * reference[0]:
        return Timing(min(students), min(reference), 1)
    loops = max(1, min(10_000, math.ceil(target_s / max(reference[0], 1e-7))))
    deadline = time.perf_counter() + budget_s
    pair = [("reference", reference), ("student", students)]
    for i in range(rounds):
        for who, times in pair if i % 2 == 0 else pair[::-1]:
            times.append(_round(student, scenario, who, loops, data))
        if time.perf_counter() > deadline:
            break
    return Timing(min(students), min(reference), len(students))
