"""How long `grade class` takes on a synthetic class, and the CPU it costs per student.

    python benchmarks/class_speed.py                    # 200 students, -j 2 (the target: <= 15 min)
    python benchmarks/class_speed.py --students 8       # a quick look; the 200-student time is
                                                        # extrapolated from the rate

Each student is a folder with all ten exercises: a mix of shipped solutions, stubs and buggy
files from tests/submissions/. Every file gets a comment with the student's name, so no two
students share a file and the content-hash cache cannot make the class look faster than a real
one. The output folder is fresh, so nothing comes from the cache either.

CPU time counts the sandboxed workers too: ordinary child accounting (``RUSAGE_CHILDREN``) only
sees processes that were waited for by their parents, and a PID-namespace sandbox's processes
are not. The benchmark runs `grade class` in its own cpuacct cgroup (cgroup v1) where the machine
allows one, and says which accounting it used.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPUACCT = Path("/sys/fs/cgroup/cpuacct")
TARGET_S = 15 * 60


def build_class(folder: Path, students: int, seed: int = 0) -> dict[str, int]:
    """``students`` folders, each a full submission; returns how many files of each kind."""
    rng = random.Random(seed)
    kinds = {"solution": 0, "stub": 0, "buggy": 0}
    solutions = sorted((ROOT / "solutions").glob("ex[0-9][0-9]_*.py"))
    for i in range(students):
        target = folder / f"student{i:03d}" / "exercises"
        target.mkdir(parents=True)
        for solution in solutions:
            number = solution.name[2:4]
            buggy = sorted((ROOT / "tests" / "submissions" / f"ex{number}").glob("*.py"))
            kind = rng.choices(["solution", "stub", "buggy"], weights=[4, 3, 3])[0]
            if kind == "buggy" and not buggy:
                kind = "solution"
            source = {
                "solution": solution,
                "stub": ROOT / "exercises" / solution.name,
                "buggy": rng.choice(buggy) if buggy else solution,
            }[kind]
            kinds[kind] += 1
            text = source.read_text(encoding="utf-8")
            (target / solution.name).write_text(
                text + f"\n# submitted by student{i:03d}\n", encoding="utf-8"
            )
    return kinds


def _cgroup() -> Path | None:
    """A fresh cpuacct cgroup (v1) to run the class in, when this machine allows one."""
    if not (CPUACCT / "cgroup.procs").exists():
        return None
    path = CPUACCT / f"tlg-class-bench-{os.getpid()}"
    try:
        path.mkdir()
    except OSError:
        return None
    return path


def _remove_cgroup(path: Path) -> None:
    """Remove the benchmark's cgroup once its last process is gone (a killed sandbox's
    processes can take a moment to be reaped after `grade class` itself has exited)."""
    for _ in range(100):
        try:
            path.rmdir()
            return
        except OSError:
            time.sleep(0.1)
    print(f"note: {path} still has processes: {(path / 'cgroup.procs').read_text().split()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--exercises", default=None, help="e.g. 3,8 (default: all ten)")
    parser.add_argument("--keep", action="store_true", help="keep the class and its outputs")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="tlg-class-bench-"))
    kinds = build_class(work / "class", args.students)
    cmd = [sys.executable, "-m", "grader", "class", str(work / "class"), "--out",
           str(work / "out"), "-j", str(args.jobs), "-q", "--seed", "1"]  # fmt: skip
    if args.exercises:
        cmd += ["--exercises", args.exercises]
    cgroup = _cgroup()

    def join_cgroup() -> None:
        if cgroup is not None:
            (cgroup / "cgroup.procs").write_text(str(os.getpid()))

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, preexec_fn=join_cgroup, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    judge_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if cgroup is not None:
        cpu = int((cgroup / "cpuacct.usage").read_text()) / 1e9
        how = "cpuacct cgroup (every process of the run, sandboxed workers included)"
        _remove_cgroup(cgroup)
    else:
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        how = "RUSAGE_CHILDREN (misses sandboxed workers that were not waited for)"
    if done.returncode not in (0, 1):
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
        return done.returncode
    n = args.students
    which = args.exercises or "all"
    print(f"class: {n} students, files {kinds}, exercises {which}, -j {args.jobs}")
    print(f"wall: {wall:.1f} s  ({n / wall * 60:.1f} students/min, {wall / n:.2f} s per student)")
    print(f"cpu:  {cpu:.1f} s  ({cpu / n:.2f} CPU s per student)  [{how}]")
    if cgroup is not None:  # the judges are waited for; the sandboxed workers are not
        print(
            f"      judge processes {judge_cpu / n:.2f} CPU s per student, workers and their "
            f"templates {(cpu - judge_cpu) / n:.2f}"
        )
    if n != 200:
        print(f"200 students at this rate: {wall / n * 200 / 60:.1f} min")
    verdict = "within" if wall / n * 200 <= TARGET_S else "OVER"
    print(f"target: 200 students in <= {TARGET_S // 60} min: {verdict}")
    print("\n".join(done.stdout.strip().splitlines()[:6]))
    if args.keep:
        print(f"kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
