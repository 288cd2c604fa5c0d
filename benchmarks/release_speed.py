"""Benchmark: the student release's size, its recorded answers' size, and how long
``grade exercise-N`` takes inside the release (replaying answers) against the instructor's
checkout (running the references), on the same solution, public tests only.

Target (issue 13): time ratio release / checkout <= 1.0 (there is no reference to run).
Usage: ``python benchmarks/release_speed.py [--runs 5] [--exercise 3 --exercise 5]
[--release PATH]``. Runs alternate between the two sides. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, dict]:
    """Wall time of ``cmd`` and the scorecard it wrote (``--json`` is its last argument)."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return elapsed, json.loads(Path(cmd[-1]).read_text())


def size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--exercise", action="append", default=None)
    parser.add_argument("--release", type=Path, default=None, help="an existing release")
    args = parser.parse_args()
    numbers = args.exercise or ["1", "3", "5", "6"]
    release = args.release
    if release is None:
        release = Path(tempfile.mkdtemp()) / "student"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "grader", "release", str(release)], cwd=ROOT,
                       check=True, capture_output=True)  # fmt: skip
        print(f"grade release: {time.perf_counter() - t0:.1f} s")
    expected = release / "grader" / "suites" / "expected"
    print(f"release: {size(release) / 1024:.0f} KiB in {sum(1 for _ in release.rglob('*'))} "
          f"entries; recorded answers {size(expected) / 1024:.0f} KiB")  # fmt: skip
    for path in sorted(expected.glob("*.expect")):
        print(f"  {path.name:<36} {path.stat().st_size / 1024:>7.1f} KiB")

    env = {**os.environ, "PYTHONPATH": str(release)}  # the release's grader, not this one
    scratch = Path(tempfile.mkdtemp())
    for number in numbers:
        solution = next((ROOT / "solutions").glob(f"ex{int(number):02d}_*.py"))
        common = ["-m", "grader", number, "--submission", str(solution), "--public-only",
                  "--device", "cpu", "--json"]  # fmt: skip
        sides = {
            "checkout": ([sys.executable, *common, str(scratch / "a.json")], ROOT, None),
            "release": ([sys.executable, *common, str(scratch / "b.json")], release, env),
        }
        walls: dict[str, list[float]] = {k: [] for k in sides}
        suites: dict[str, list[float]] = {k: [] for k in sides}
        for cmd, cwd, e in sides.values():
            run(cmd, cwd, e)  # warm-up (file cache, .pyc)
        for i in range(args.runs):
            order = list(sides) if i % 2 == 0 else list(sides)[::-1]
            for name in order:
                cmd, cwd, e = sides[name]
                elapsed, card = run(cmd, cwd, e)
                walls[name].append(elapsed)
                suites[name].append(card["duration_s"])
                assert card["score"] == card["max_score"], (name, number, card["score"])
        w = {k: statistics.median(v) for k, v in walls.items()}
        s = {k: statistics.median(v) for k, v in suites.items()}
        print(
            f"exercise-{number}: wall checkout {w['checkout']:.2f} s, release {w['release']:.2f} s"
            f" -> ratio {w['release'] / w['checkout']:.2f}; suites {s['checkout']:.2f} s vs "
            f"{s['release']:.2f} s -> ratio {s['release'] / s['checkout']:.2f} "
            f"(median of {args.runs}, target <= 1.0)"
        )


if __name__ == "__main__":
    main()
