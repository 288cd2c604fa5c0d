"""Counting an exercise's points without running anything (``grade list``)."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from dataclasses import dataclass, field

import pytest

from grader.judge.exercises import SUITES_DIR, Exercise


@dataclass(eq=False)  # pytest keeps plugins in sets: identity hashing
class _PointCounter:
    points: dict[str, float] = field(default_factory=dict)

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "device" in metafunc.fixturenames:
            metafunc.parametrize("device", ["cpu"])

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            marker = item.get_closest_marker("points")
            vis = "hidden" if item.path.parent.name == "hidden" else "public"
            self.points[vis] = self.points.get(vis, 0.0) + (float(marker.args[0]) if marker else 1)


def points_by_visibility(ex: Exercise) -> dict[str, float]:
    """Points per visibility for a CPU-only run of ``ex``'s suites."""
    counter = _PointCounter()
    args = [str(p) for p in ex.suites().values()]
    with redirect_stdout(io.StringIO()):
        code = pytest.main(
            [
                *args,
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
            ],  # fmt: skip
            plugins=[counter],
        )
    if code == pytest.ExitCode.INTERRUPTED:  # pytest turns Ctrl-C into an exit code: pass it on
        raise KeyboardInterrupt
    return counter.points
