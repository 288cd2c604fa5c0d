"""Benchmark: wall time of grading exercise-3 on the shipped solutions, as a ratio to
``python -c "import torch"``, measured interleaved in one run (median of N pairs).

Target (issue 2): ratio <= 2.0. Usage: ``python benchmarks/grade_speed.py [--runs 7]``.
Prints figures; asserts nothing (timings never gate the test suite).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--exercise", default="exercise-3")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp()) / "scorecard.json"
    grade = [sys.executable, "-m", "grader", args.exercise, "--submission", "solutions",
             "--json", str(out), "--device", args.device]  # fmt: skip
    baseline = [sys.executable, "-c", "import torch"]
    wall(baseline)  # warm the file cache for both
    wall(grade)
    grades, imports = [], []
    for i in range(args.runs):
        pair = [(imports, baseline), (grades, grade)]
        for times, cmd in pair if i % 2 == 0 else pair[::-1]:
            times.append(wall(cmd))
    g, b = statistics.median(grades), statistics.median(imports)
    print(
        f"import torch:          median {b:.3f} s  (min {min(imports):.3f}, max {max(imports):.3f})"
    )
    print(
        f"grade {args.exercise}:    median {g:.3f} s  "
        f"(min {min(grades):.3f}, max {max(grades):.3f})"
    )
    print(f"ratio (median/median): {g / b:.2f}x   target <= 2.0x   runs {args.runs}")


if __name__ == "__main__":
    main()
