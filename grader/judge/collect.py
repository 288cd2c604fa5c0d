"""Counting what each exercise is worth, without running anything (``grade list``, and the
max points of an exercise that could not be graded).

The truth is pytest's own collection of the suites, counted by the rules grading uses
(:mod:`grader.judge.lifecycle`): a test's points, its visibility, and whether it runs on this
machine (a CUDA-only test counts where there is a GPU). All suites are collected in one
session -- they import torch, so ten sessions cost ten times the setup -- and the result is
cached under the user's cache folder, keyed by a hash of every file the count depends on, so
a later ``grade list`` reads a file instead of importing torch.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import io
import json
import os
from collections.abc import Iterable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import grader
from grader.judge import interrupts, lifecycle
from grader.judge.exercises import SUITES_DIR, Exercise, all_exercises

if TYPE_CHECKING:
    import pytest

Points = dict[str, float]  # visibility -> points


@dataclass(eq=False)  # pytest keeps plugins in sets: identity hashing
class _PointCounter:
    cuda: bool
    points: dict[str, Points] = field(default_factory=dict)

    def pytest_configure(self, config: pytest.Config) -> None:
        lifecycle.register_markers(config)

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "device" in metafunc.fixturenames:
            params = lifecycle.device_params(
                metafunc.definition,
                lifecycle.DEVICES,
                self.cuda,
            )
            metafunc.parametrize("device", params)

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            if not lifecycle.runs_on(item, self.cuda):
                continue
            module = item.path.name.removeprefix("test_").removesuffix(".py")
            counts = self.points.setdefault(module, {})
            vis = lifecycle.visibility_of(item)
            counts[vis] = counts.get(vis, 0.0) + lifecycle.points_of(item)


def _inputs(exercises: Iterable[Exercise]) -> list[Path]:
    """Every file the count depends on: the suites, their helpers, the pytest config."""
    files = [p for ex in exercises for p in ex.suites().values()]
    files += sorted((SUITES_DIR / "support").rglob("*.py"))
    files.append(SUITES_DIR / "pytest.ini")
    return [p for p in files if p.is_file()]


def _cache_file(exercises: list[Exercise], cuda: bool) -> Path:
    pytest_version = importlib.metadata.version("pytest")  # without importing pytest
    digest = hashlib.sha256(f"{grader.__version__}|{pytest_version}|{cuda}".encode())
    for path in _inputs(exercises):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "trainloop-grader" / f"points-{digest.hexdigest()[:24]}.json"


def _count(exercises: list[Exercise], cuda: bool) -> dict[str, Points]:
    import pytest

    counter = _PointCounter(cuda)
    files = [str(p) for ex in exercises for p in ex.suites().values()]
    with redirect_stdout(io.StringIO()):
        code = pytest.main(
            [
                *files,
                "--collect-only",
                "-q",
                "-c",
                str(SUITES_DIR / "pytest.ini"),
                "--rootdir",
                str(SUITES_DIR),
                "--noconftest",
                "--import-mode=importlib",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:unraisableexception",
            ],  # fmt: skip
            plugins=[counter],
        )
    if interrupts.received():  # pytest turns Ctrl-C into an exit code: pass it on
        raise KeyboardInterrupt
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        if len(exercises) == 1:
            raise BrokenSuite(exercises[0].id)
        return _count_each(exercises, cuda)
    return counter.points


class BrokenSuite(Exception):
    """An exercise's suites cannot even be collected (a grader bug or a half-made exercise)."""


def _count_each(exercises: list[Exercise], cuda: bool) -> dict[str, Points]:
    """One session per exercise, so one broken suite leaves the others countable."""
    counted: dict[str, Points] = {}
    broken = []
    for ex in exercises:
        try:
            counted.update(_count([ex], cuda))
        except BrokenSuite:
            broken.append(ex.id)
    if broken:
        raise BrokenSuite(", ".join(broken), counted)
    return counted


@functools.cache
def all_points(cuda: bool = False) -> dict[str, Points]:
    """Points per exercise module and visibility, for a run with (or without) a GPU."""
    exercises = list(all_exercises())
    cache = _cache_file(exercises, cuda)
    try:
        cached: dict[str, Points] = json.loads(cache.read_text(encoding="utf-8"))
        return cached
    except (OSError, ValueError):
        pass
    try:
        counted = _count(exercises, cuda)
    except BrokenSuite as exc:  # count what can be counted; nothing cached
        return exc.args[1] if len(exc.args) > 1 else {}
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(counted), encoding="utf-8")
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only home: count again next time
    return counted


def points_by_visibility(ex: Exercise, *, cuda: bool = False) -> Points:
    """What ``ex`` is worth per visibility on this kind of machine."""
    return dict(all_points(cuda).get(ex.module, {}))
