"""Benchmark: judge-side cost of the source audit on every shipped solution.

Three figures, in one fresh process: the one-off setup the judge pays once (``import torch``,
then the audit's preload and scan of the installed torch), each exercise's first audit (which
also resolves its FORBIDDEN list and finds its leaves), and the audit of the same file once
all that is cached (median of N runs) -- the per-submission cost.

Target (issue 12): under 50 ms per submission once the scan is cached.
Usage: ``python benchmarks/audit_speed.py [--runs 20]``. Prints figures; asserts nothing
(timings never gate the test suite).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def seconds(fn: object, clock: object = time.perf_counter) -> float:
    start = clock()  # type: ignore[operator]
    fn()  # type: ignore[operator]
    return clock() - start  # type: ignore[operator]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    torch_s = seconds(lambda: __import__("torch"))
    from grader.judge import exercises
    from grader.judge.audit import audit_source, knowledge

    setup_s = seconds(lambda: (knowledge.modules(), knowledge._bindings(), knowledge.refused()))
    print(f"import torch (the judge pays it anyway): {torch_s * 1000:8.0f} ms")
    print(f"audit setup, once per process:           {setup_s * 1000:8.0f} ms")
    print(
        f"{'solution':<30} {'lines':>5} {'first':>8} {'cached: median':>15} {'max':>7} {'CPU':>7}"
    )
    cached_all, cpu_all = [], []
    for path in sorted((ROOT / "solutions").glob("ex*.py")):
        ex = exercises.find(path.name[2:4])
        source = path.read_text(encoding="utf-8")

        def audit(source: str = source, ex: exercises.Exercise = ex, name: str = path.name) -> None:
            audit_source(source, ex, filename=name)

        first = seconds(audit)
        runs = [seconds(audit) for _ in range(args.runs)]
        cpu = [seconds(audit, time.process_time) for _ in range(args.runs)]
        cached_all.extend(runs)
        cpu_all.extend(cpu)
        print(
            f"{path.name:<30} {source.count(chr(10)):>5} {first * 1000:6.1f}ms "
            f"{statistics.median(runs) * 1000:13.1f}ms {max(runs) * 1000:5.1f}ms "
            f"{statistics.median(cpu) * 1000:5.1f}ms"
        )
    median, cpu_median = statistics.median(cached_all) * 1000, statistics.median(cpu_all) * 1000
    print(
        f"cached audit, all solutions: median {median:.1f} ms wall ({cpu_median:.1f} ms CPU), "
        f"max {max(cached_all) * 1000:.1f} ms wall"
    )
    print(f"target < 50 ms per submission once cached   runs {args.runs}")
    print("(wall time includes waiting for a busy CPU; the CPU column is the audit's own work)")


if __name__ == "__main__":
    main()
