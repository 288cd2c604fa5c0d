"""Benchmark: wall time of grading exercise-3 on the shipped solutions, as a ratio to
``python -c "import torch"``, in each isolation mode, measured interleaved in one run (median
of N rounds; each round runs the baseline and every mode, in rotating order).

Target: ratio <= 2.0 in every mode. Usage:
``python benchmarks/grade_speed.py [--runs 7] [--modes bwrap,unshare,process]``.
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
sys.path.insert(0, str(ROOT))


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    from grader.judge import sandbox

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--exercise", default="exercise-3")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--modes", default=",".join(sandbox.MODES))
    args = parser.parse_args()
    modes = []
    for mode in args.modes.split(","):
        try:
            sandbox.available_mode(mode)
            modes.append(mode)
        except RuntimeError:
            print(f"{mode}: not available on this machine, skipped")
    out = Path(tempfile.mkdtemp()) / "scorecard.json"
    commands = {"import torch": [sys.executable, "-c", "import torch"]}
    for mode in modes:
        commands[f"grade ({mode})"] = [
            sys.executable, "-m", "grader", args.exercise, "--submission", "solutions",
            "--json", str(out), "--device", args.device, "--isolation", mode,
        ]  # fmt: skip
    for cmd in commands.values():  # warm the file cache
        wall(cmd)
    times: dict[str, list[float]] = {name: [] for name in commands}
    names = list(commands)
    for i in range(args.runs):
        order = names[i % len(names) :] + names[: i % len(names)]
        for name in order:
            times[name].append(wall(commands[name]))
    base = statistics.median(times["import torch"])
    for name, values in times.items():
        med = statistics.median(values)
        ratio = "" if name == "import torch" else f"  ratio {med / base:.2f}x (target <= 2.0x)"
        print(
            f"{name:<22} median {med:.3f} s  (min {min(values):.3f}, max {max(values):.3f}){ratio}"
        )
    print(f"runs {args.runs}, exercise {args.exercise}")


if __name__ == "__main__":
    main()
