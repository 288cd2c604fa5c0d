"""Benchmark: what one grade-time seed costs ``grade verify --seeds``, per exercise and file.

For each exercise, its solution and stub are swept over N seeds exactly as ``grade verify
--seeds N`` does (hidden tests only, one worker per file), and the cost of one more seed is
printed with the projection for 200 seeds. With ``--fresh``, the same files are also graded
the plain way at one seed -- a full ``prepare`` + ``grade`` with its own worker -- which is
what a sweep built on ``grade exercise-K --seed S`` would pay per seed.

Usage: ``python benchmarks/seed_sweep.py [--seeds 10] [--first 0] [-e 3 -e 5] [--fresh]``.
Prints figures; asserts nothing (timings never gate the test suite). The machine's load
inflates every figure: compare runs made side by side.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.judge.exercises import Exercise

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def fresh_cost(root: Path, ex: Exercise, column: str, seed: int) -> float:
    """Seconds to grade one seed from nothing: start a worker, prepare, grade, close."""
    from grader.judge import runner

    folder = "solutions" if column == "solution" else "exercises"
    opts = runner.Options(device="cpu", seed=seed, visibilities=("hidden",))
    t0 = time.perf_counter()
    runner.grade(runner.prepare(ex, root / folder / f"{ex.module}.py", opts), opts)
    return time.perf_counter() - t0


def main() -> None:
    from grader.instructor import sweep
    from grader.judge import exercises, runner

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first", type=int, default=0, help="the first seed")
    parser.add_argument("-e", "--exercise", action="append", default=[])
    parser.add_argument("--fresh", action="store_true", help="also time a fresh worker per seed")
    args = parser.parse_args()
    chosen = [exercises.find(n) for n in args.exercise] or list(exercises.all_exercises())
    opts = runner.Options(device="cpu")
    seeds = sweep.seed_range(args.first, args.seeds)
    cpu0 = time.process_time()
    result = sweep.sweep(ROOT, chosen, opts, seeds, lambda m: print(m, file=sys.stderr))
    cpu = time.process_time() - cpu0
    print(sweep.report(result, ROOT))
    print(f"\njudge CPU time {cpu:.0f} s of {result.seconds:.0f} s wall (the workers' not counted)")
    print(f"{'file':24s} {'start+1st s':>11s} {'s/seed':>7s} {'200 seeds':>10s}", end="")
    print(f" {'fresh s/seed':>12s}" if args.fresh else "")
    total = 0.0
    for f in result.files:
        projected = f.start_s + 199 * f.per_seed_s
        total += projected
        line = f"{f.exercise.id + ' ' + f.column:24s} {f.start_s:11.2f} {f.per_seed_s:7.2f}"
        line += f" {projected / 60:8.1f} m"
        if args.fresh and f.error is None:
            line += f" {fresh_cost(ROOT, f.exercise, f.column, seeds[0]):12.2f}"
        print(line)
    print(f"projected: {total / 60:.0f} min for 200 seeds of every file above, on one core")


if __name__ == "__main__":
    main()
