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


def seconds(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


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
    print(f"{'solution':<34} {'lines':>5} {'first':>9} {'cached (median, max)':>24}")
    cached_all = []
    for path in sorted((ROOT / "solutions").glob("ex*.py")):
        ex = exercises.find(path.name[2:4])
        source = path.read_text(encoding="utf-8")

        def audit(source: str = source, ex: exercises.Exercise = ex, name: str = path.name) -> None:
            audit_source(source, ex, filename=name)

        first = seconds(audit)
        runs = [seconds(audit) for _ in range(args.runs)]
        cached_all.extend(runs)
        print(
            f"{path.name:<34} {source.count(chr(10)):>5} {first * 1000:7.1f}ms "
            f"{statistics.median(runs) * 1000:12.1f}ms {max(runs) * 1000:8.1f}ms"
        )
    median = statistics.median(cached_all) * 1000
    print(f"cached audit, all solutions: median {median:.1f} ms, max {max(cached_all) * 1000:.1f}")
    print(f"target < 50 ms per submission once cached   runs {args.runs}")


if __name__ == "__main__":
    main()
