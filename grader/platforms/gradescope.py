"""Gradescope: ``results.json`` from a scorecard, the per-submission run, and the autograder zip.

Gradescope builds an image with ``setup.sh`` (once), then for every submission runs
``run_autograder`` in a fresh container: student files in ``/autograder/submission``, ours in
``/autograder/source``, and ``/autograder/results/results.json`` must be written. Here

- ``setup.sh`` installs CPU torch and the grader's dependencies (the grader itself is copied
  into the zip and put on ``PYTHONPATH``: no build step, hidden suites included);
- ``run_autograder`` runs ``python -m grader.platforms.gradescope`` under ``timeout``; the
  Python side turns any failure into a zero result, and if Python itself dies or runs out of
  time the shell writes a fixed zero result, so ``results.json`` always exists;
- ``AUTOGRADER_ROOT`` (default ``/autograder``) moves the whole layout, so tests run it in a
  temporary folder; ``AUTOGRADER_PYTHON`` picks the interpreter.

Public tests are always ``visible``; hidden tests get the visibility the instructor picks
(``hidden``, ``after_due_date``, ``after_published`` or ``visible``).
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import sys
import time
import traceback
import zipfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import click

from grader.judge.sandbox.modes import MODES
from grader.judge.scorecard import Bundle, Scorecard, write_text_atomic
from grader.platforms.common import cards, counted, expected_points, js_number, points

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
DEFAULT_VISIBILITY = "after_due_date"
DEFAULT_TIME_LIMIT_S = 540  # Gradescope's default limit is 600 s: leave time to write results
SOURCE_DIR = "trainloop-grader"
WHEN_HIDDEN = {
    "hidden": "hidden tests' results are not shown",
    "after_due_date": "hidden tests' results appear after the due date",
    "after_published": "hidden tests' results appear when grades are published",
}


# -- results.json ------------------------------------------------------------------------------
def _number(exercise_id: str) -> str:
    m = re.search(r"(\d+)$", exercise_id)
    return m.group(1) if m else exercise_id


def _overview(card: Scorecard | Bundle, hidden_visibility: str) -> str:
    """The top-level ``output``: public results per exercise, and why grading could not run."""
    lines = []
    for c in cards(card):
        tests = counted(c)
        public = [t for t in tests if t.visibility == "public"]
        line = f"- **{c.exercise}** {c.title}: "
        if hidden_visibility == "visible" or len(public) == len(tests):
            line += (
                f"{points(sum(t.score for t in tests))}/{points(sum(t.max_score for t in tests))}"
            )
        else:
            got, of = sum(t.score for t in public), sum(t.max_score for t in public)
            line += f"public tests {points(got)}/{points(of)}; {WHEN_HIDDEN[hidden_visibility]}"
        lines.append(line)
        if c.submission.error:
            lines.append(f"  - could not be graded: {c.submission.error.splitlines()[0]}")
    return "\n".join(lines)


def results_json(
    card: Scorecard | Bundle, *, hidden_visibility: str = DEFAULT_VISIBILITY
) -> dict[str, Any]:
    """Gradescope's ``results.json`` for ``card``."""
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}")
    tests: list[dict[str, Any]] = []
    for c in cards(card):
        for i, t in enumerate(counted(c), 1):
            output = t.message + (f"\nhint: {t.hint}" if t.hint else "")
            tests.append(
                {
                    "name": f"{c.exercise}: {t.name}",
                    "number": f"{_number(c.exercise)}.{i}",
                    "score": js_number(t.score),
                    "max_score": js_number(t.max_score),
                    "status": "passed" if t.status == "passed" else "failed",
                    "output": output,
                    "visibility": "visible" if t.visibility == "public" else hidden_visibility,
                }
            )
    return {
        "score": js_number(sum(t["score"] for t in tests)),
        "execution_time": round(card.duration_s),
        "output": _overview(card, hidden_visibility),
        "output_format": "md",
        "test_output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def crash_results(why: str, max_score: float) -> dict[str, Any]:
    """The result when grading itself failed: zero, and a message for the student."""
    return {
        "score": 0,
        "execution_time": 0,
        "output": "The autograder could not grade this submission; your instructor can see "
        "the details. Please tell them.",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": "grading could run",
                "number": "0.1",
                "score": 0,
                "max_score": js_number(max_score),
                "status": "failed",
                "output": why,
                "visibility": "visible",
            }
        ],
    }


def write_results(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` atomically: a reader never sees half a results.json."""
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")


# -- one submission ----------------------------------------------------------------------------
def find_submission_root(path: Path) -> Path:
    """The folder holding the student's ``exNN_<slug>.py`` files.

    Students upload the files themselves, a folder, or (from GitHub) the whole repository, where
    they sit in ``exercises/``. The shallowest folder holding any such file wins.
    """
    from grader.judge.exercises import file_glob, parse_file_name

    for depth in range(4):
        pattern = "/".join(["*"] * depth + [file_glob()])
        found = sorted(
            p
            for p in path.glob(pattern)
            if parse_file_name(p.name) is not None and "__MACOSX" not in p.parts
        )
        if found:
            exercise_dirs = [p.parent for p in found if p.parent.name == "exercises"]
            return (exercise_dirs or [found[0].parent])[0]
    return path


def grade_submission(
    root: Path,
    hidden_visibility: str,
    exercise_names: Sequence[str],
    *,
    select: str | None = None,
    public_only: bool = False,
    isolation: str = "auto",
    device: str = "auto",
) -> dict[str, Any]:
    """Grade ``root/submission`` and return results.json's content; never raises."""
    from grader.judge import exercises, runner
    from grader.judge.report import render_bundle
    from grader.platforms.formats import grade_every

    t0 = time.monotonic()
    exs: list[Any] = []
    try:
        exs = [exercises.find(n) for n in exercise_names] or list(exercises.all_exercises())
        opts = runner.Options(
            device=device,
            isolation=isolation,
            visibilities=("public",) if public_only else ("public", "hidden"),
            select=select,
        )
        submission = find_submission_root(root / "submission")
        print(f"grading {', '.join(e.id for e in exs)} in {submission}", flush=True)
        bundle, errors = grade_every(exs, submission, opts)
        print(click.unstyle(render_bundle(bundle, verbose=True)), flush=True)
        for err in errors:
            print(f"error: {err}", flush=True)
        return results_json(bundle, hidden_visibility=hidden_visibility)
    except BaseException as exc:  # SystemExit too: results.json must be written
        if isinstance(exc, KeyboardInterrupt):
            raise
        traceback.print_exc(file=sys.stdout)
        maximum = sum(expected_points(e.id) for e in exs) if exs else 1.0
        data = crash_results(f"grading failed: {type(exc).__name__}", maximum)
        data["execution_time"] = round(time.monotonic() - t0)
        return data


@click.command(name="gradescope-run")
@click.option(
    "--root",
    type=click.Path(path_type=Path, file_okay=False),
    default=lambda: Path(os.environ.get("AUTOGRADER_ROOT", "/autograder")),
    show_default="$AUTOGRADER_ROOT or /autograder",
    help="Gradescope's folder: reads submission/, writes results/results.json.",
)
@click.option(
    "--visibility",
    type=click.Choice(VISIBILITIES),
    default=DEFAULT_VISIBILITY,
    show_default=True,
    help="When students see hidden tests' results.",
)
@click.option("--exercise", "exercise_names", multiple=True, help="Grade only these (repeat).")
@click.option("-k", "select", default=None, help="Only tests whose name matches (pytest -k).")
@click.option("--public-only", is_flag=True, help="Run only the public tests.")
@click.option("--isolation", type=click.Choice(("auto", *MODES)), default="auto")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto")
def run_command(
    root: Path,
    visibility: str,
    exercise_names: tuple[str, ...],
    select: str | None,
    public_only: bool,
    isolation: str,
    device: str,
) -> None:
    """Grade a Gradescope submission and write results.json (what run_autograder calls)."""
    data = grade_submission(
        root,
        visibility,
        exercise_names,
        select=select,
        public_only=public_only,
        isolation=isolation,
        device=device,
    )
    write_results(root / "results" / "results.json", data)
    print(f"results: {root / 'results' / 'results.json'} (score {data['score']})", flush=True)


# -- the autograder zip ------------------------------------------------------------------------
SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu 22.04).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
export PIP_BREAK_SYSTEM_PACKAGES=1  # the image is ours alone (needed on Ubuntu 24.04 images)
apt-get update
apt-get install -y --no-install-recommends python3 python3-pip bubblewrap
python3 -m pip install --upgrade pip
# CPU-only torch: the CUDA wheels are several GB and Gradescope has no GPU.
python3 -m pip install torch --index-url https://download.pytorch.org/whl/cpu
python3 -m pip install {requirements}
# The grader runs from /autograder/source/{source} (see run_autograder); check it imports.
PYTHONPATH=/autograder/source/{source} python3 -c "import grader.platforms.gradescope"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission, in a fresh container.
# It always leaves $ROOT/results/results.json behind: the Python side turns any grading failure
# into a zero result; if Python itself dies or runs out of time, this script writes one.
set -u
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{AUTOGRADER_PYTHON:-python3}}"
LIMIT="${{AUTOGRADER_TIME_LIMIT:-{limit}}}"
case "$LIMIT" in ''|*[!0-9]*) LIMIT={limit} ;; esac
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
rm -f "$RESULTS"
export PYTHONPATH="$ROOT/source/{source}${{PYTHONPATH:+:$PYTHONPATH}}"
cd "$ROOT"
status=0
timeout --kill-after=10 "$LIMIT" "$PYTHON" -m grader.platforms.gradescope \\
    --root "$ROOT" {args} || status=$?
if [ "$status" -ne 0 ] || [ ! -s "$RESULTS" ]; then
    if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
        why="grading ran past its time limit of $LIMIT s"
    else
        why="the autograder stopped (exit code $status) before writing its results"
    fi
    echo "run_autograder: $why; writing a zero result" >&2
    printf '{{"score": 0, "execution_time": 0, "output": "%s. Your instructor can see the \
details.", "visibility": "visible", "stdout_visibility": "hidden", "tests": [{{"name": "grading \
could run", "number": "0.1", "score": 0, "max_score": {max_score}, "status": "failed", "output": \
"%s", "visibility": "visible"}}]}}\\n' "$why" "$why" > "$RESULTS"
fi
exit 0
"""


def _requirements() -> list[str]:
    """The grader's runtime dependencies except torch (installed from the CPU index first)."""
    try:
        reqs = metadata.requires("trainloop-grader") or []
    except metadata.PackageNotFoundError:
        reqs = []
    keep = [r.split(";")[0].strip() for r in reqs if "extra ==" not in r]
    keep = [r for r in keep if not re.match(r"^torch\b", r)]
    return keep or ["numpy>=1.24", "pytest>=8", "nbformat>=5.9", "pydantic>=2.5,<3", "click>=8.1"]


def _package_files() -> list[tuple[Path, str]]:
    """(file, name in the zip) for the grader and reference packages, caches left out."""
    import grader
    import reference

    files = []
    for init_file in (grader.__file__, reference.__file__):
        base = Path(init_file).resolve().parent
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(base.parent)
            if path.is_file() and "__pycache__" not in rel.parts and path.suffix != ".pyc":
                files.append((path, f"{SOURCE_DIR}/{rel.as_posix()}"))
    return files


def _add(zf: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def build_zip(
    out: Path,
    *,
    visibility: str = DEFAULT_VISIBILITY,
    exercise_names: Sequence[str] = (),
    select: str | None = None,
    public_only: bool = False,
    isolation: str = "auto",
    time_limit_s: int = DEFAULT_TIME_LIMIT_S,
) -> list[str]:
    """Write the autograder zip to ``out``; return the names inside it."""
    from grader.judge import exercises

    exs = [exercises.find(n) for n in exercise_names] or list(exercises.all_exercises())
    args = ["--visibility", visibility, "--isolation", isolation]
    if exercise_names:
        for ex in exs:
            args += ["--exercise", ex.id]
    if select:
        args += ["-k", select]
    if public_only:
        args.append("--public-only")
    graded = ("public",) if public_only else ("public", "hidden")
    max_score = js_number(sum(expected_points(e.id, graded) for e in exs))
    run = RUN_AUTOGRADER.format(
        limit=int(time_limit_s),
        source=SOURCE_DIR,
        args=" ".join(shlex.quote(a) for a in args),
        max_score=max_score,
    )
    setup = SETUP_SH.format(
        source=SOURCE_DIR, requirements=" ".join(shlex.quote(r) for r in _requirements())
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        _add(zf, "setup.sh", setup.encode(), 0o755)
        _add(zf, "run_autograder", run.encode(), 0o755)
        for path, name in _package_files():
            _add(zf, name, path.read_bytes())
        names = zf.namelist()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buf.getvalue())
    return names


if __name__ == "__main__":
    run_command(prog_name="python -m grader.platforms.gradescope")
