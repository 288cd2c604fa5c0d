"""`grade class` end to end: a synthetic class of folders and git repositories, graded for real.

The class is built from the shipped solution and stub and from `tests/submissions/`: a correct
folder, a git repository whose deadline commit is buggy (and whose workflow was tampered with),
a stub at the repository root, a repository with no exercise in it, a hostile submission and a
renamed copy. Grading is kept cheap: exercise 3 only, two of its tests (-k), one shared run.
"""

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.judge import exercises, runner
from grader.regrade.records import ClassSummary
from tests.regrade_fixtures import (
    AFTER,
    BEFORE,
    BUGGY,
    DEADLINE,
    EX03,
    HOSTILE,
    INDEPENDENT,
    SOLUTION,
    STUB,
    WORKFLOW,
    commit,
    manifest,
    release,
    renamed_copy,
    write,
)

FEW = "worked_example or value_clamps"
SEED = 1234
ANSWERS = {  # what each student's graded commit holds for exercise 3
    "alice": SOLUTION.read_text(),
    "bob": BUGGY.read_text(),
    "carol": STUB.read_text(),
    "eve": HOSTILE.read_text(),
    "frank": renamed_copy(SOLUTION.read_text()),
}
pytestmark = pytest.mark.slow


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def grade_class(source: Path, out: Path, *extra: object):
    return run("class", source, "--out", out, "--exercises", "3", "-k", FEW, "-q", *extra)


def build_class(folder: Path) -> dict[str, str]:
    """The class; returns each git student's graded commit."""
    write(folder / "alice" / "exercises" / EX03, ANSWERS["alice"])  # a plain folder
    graded = {"bob": commit(folder / "bob", {**release(BUGGY.read_text()), WORKFLOW: "x"}, BEFORE)}
    commit(folder / "bob", release(SOLUTION.read_text()), AFTER)  # after the deadline
    graded["carol"] = commit(folder / "carol", release(ANSWERS["carol"], layout=""), BEFORE)
    graded["dave"] = commit(folder / "dave", {"README.md": "forgot to push"}, BEFORE)
    graded["eve"] = commit(folder / "eve", release(ANSWERS["eve"]), BEFORE)
    graded["frank"] = commit(folder / "frank", release(ANSWERS["frank"]), BEFORE)
    return graded


def rows(out: Path) -> dict[str, dict[str, str]]:
    text = (out / "gradebook.csv").read_text()
    return {r["student"]: r for r in csv.DictReader(io.StringIO(text))}


def summary(out: Path) -> ClassSummary:
    return ClassSummary.model_validate_json((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("regrade")
    commits = build_class(root / "class")
    assert run("keys", "new", "--out", root / "course.key").exit_code == 0
    result = grade_class(
        root / "class",
        root / "out",
        "--seed", SEED,
        "-j", 2,
        "--deadline", DEADLINE,
        "--manifest", manifest(root / "manifest.json"),
        "--sign-key", root / "course.key",
    )  # fmt: skip
    return root, commits, result


def test_gradebook_rows_equal_each_students_grade_all(graded, tmp_path):
    root, commits, result = graded
    assert result.exit_code == 1, result.output  # dave is not found: that needs attention
    book = rows(root / "out")
    ex = exercises.find("3")
    opts = runner.Options(device="cpu", seed=SEED, select=FEW)
    for student, answer in ANSWERS.items():
        folder = write(tmp_path / student / EX03, answer).parent
        bundle, errors = runner.grade_many([ex], folder, opts)  # what `grade all` runs
        assert not errors
        theirs = json.loads((root / "out" / "students" / f"{student}.json").read_text())
        assert [(t["id"], t["status"], t["score"]) for t in theirs["exercises"][0]["tests"]] == [
            (t.id, t.status, t.score) for t in bundle.exercises[0].tests
        ], student
        row = book[student]
        assert float(row["exercise-3"]) == bundle.score and float(row["total"]) == bundle.score
        assert float(row["max"]) == bundle.max_score and row["status"] == "graded"
        assert row["commit"] == commits.get(student, "")
    assert float(book["alice"]["total"]) == float(book["alice"]["max"]) > 0
    assert float(book["carol"]["total"]) == float(book["eve"]["total"]) == 0


def test_a_student_with_nothing_to_grade_is_listed_not_zeroed(graded):
    root, _, result = graded
    dave = rows(root / "out")["dave"]
    assert dave["status"] == "not-found" and dave["exercise-3"] == dave["total"] == ""
    assert "submission not found" in dave["flags"]
    assert "not-found: dave" in result.output
    assert summary(root / "out").counts.not_found == 1


def test_the_deadline_commit_is_graded_and_tampering_before_it_is_flagged(graded):
    root, commits, _ = graded
    book = rows(root / "out")
    assert book["bob"]["commit"] == commits["bob"]
    assert f"changed protected file {WORKFLOW}" in book["bob"]["flags"]
    assert "protected" not in book["carol"]["flags"] and "protected" not in book["eve"]["flags"]
    assert "not a git repository" in book["alice"]["flags"]  # no history for the deadline
    bob = next(s for s in summary(root / "out").students if s.student == "bob")
    assert "1 commit(s) after the deadline not graded" in bob.notes


def test_a_renamed_copy_is_flagged_with_its_matching_code_in_the_report(graded):
    root, _, _ = graded
    book = rows(root / "out")
    assert "similar to frank (exercise-3" in book["alice"]["flags"]
    assert "similar to alice (exercise-3" in book["frank"]["flags"]
    pairs = {(p.a, p.b) for p in summary(root / "out").similar}
    assert ("alice", "frank") in pairs  # (bob's and eve's files share an ancestor in tests/)
    assert not any("carol" in pair for pair in pairs)  # the untouched stub is like no one
    report = (root / "out" / "report.html").read_text()
    assert "overall = torch.linalg.vector_norm" in report  # frank's side of the match


def test_every_scorecard_is_signed_and_verifies(graded):
    root, _, _ = graded
    cards = sorted((root / "out" / "students").glob("*.json"))
    assert [c.stem for c in cards] == ["alice", "bob", "carol", "eve", "frank"]
    for card in cards:
        result = run("check-signature", card, "--public-key", root / "course.key.pub")
        assert result.exit_code == 0, result.output


def test_the_report_is_one_offline_file_with_charts(graded):
    root, _, _ = graded
    report = (root / "out" / "report.html").read_text()
    assert report.count("<svg") >= 3 and "<script" not in report
    assert "src=" not in report and "http" not in report.replace("http://www.w3.org/2000/svg", "")
    for section in ("Score distribution", "hardest first", "Most frequent hints", "Attention"):
        assert section in report
    assert summary(root / "out").tests[0].rate <= summary(root / "out").tests[-1].rate


def test_a_rerun_grades_nothing_twice_and_a_late_student_alone(graded, tmp_path):
    root, _, _ = graded
    source, out = tmp_path / "class", tmp_path / "out"
    shutil.copytree(root / "class", source, symlinks=True)
    shutil.copytree(root / "out", out)
    again = grade_class(source, out, "--deadline", DEADLINE, "-j", 1)  # the seed is recorded
    assert summary(out).counts.cards_graded == 0 and summary(out).seed == SEED
    assert again.exit_code == 1 and "0 exercise(s) graded now" in again.output
    commit(source / "gina", release(INDEPENDENT.read_text()), BEFORE)
    late = grade_class(source, out, "--deadline", DEADLINE, "-j", 1)
    assert "1 exercise(s) graded now" in late.output, late.output
    book = rows(out)
    assert book["gina"]["status"] == "graded" and "similar" not in book["gina"]["flags"]
    assert float(book["gina"]["total"]) == float(book["alice"]["total"])


@pytest.fixture
def dask_scheduler(tmp_path):
    """A real Dask cluster on localhost: scheduler and one worker, each its own process group,
    killed whatever the test does."""
    distributed = pytest.importorskip("distributed")
    started: list[subprocess.Popen] = []
    log = open(tmp_path / "dask.log", "w")  # noqa: SIM115 - closed below
    common = ["--no-dashboard", "--host", "127.0.0.1"]
    try:
        scheduler_file = tmp_path / "scheduler.json"
        started.append(
            subprocess.Popen(
                [sys.executable, "-m", "dask", "scheduler", "--port", "0",
                 "--scheduler-file", str(scheduler_file), *common],
                cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        started.append(
            subprocess.Popen(
                [sys.executable, "-m", "dask", "worker", address, "--nthreads", "1",
                 "--nworkers", "1", "--memory-limit", "0", *common],
                cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        )  # fmt: skip
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for proc in started:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)
        log.close()


def test_the_dask_engine_gives_the_same_gradebook(graded, dask_scheduler, tmp_path):
    root, _, _ = graded
    result = grade_class(
        root / "class",
        tmp_path / "out",
        "--seed", SEED,
        "--deadline", DEADLINE,
        "--manifest", root / "manifest.json",
        "--engine", "dask",
        "--scheduler", dask_scheduler,
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert summary(tmp_path / "out").engine == "dask"
    assert (tmp_path / "out" / "gradebook.csv").read_text() == (
        root / "out" / "gradebook.csv"
    ).read_text()


def test_ctrl_c_keeps_every_finished_student(tmp_path):
    source, out = tmp_path / "class", tmp_path / "out"
    for i in range(5):
        write(source / f"s{i}" / "exercises" / EX03, ANSWERS["alice"] + f"\n# student {i}\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader", "class", str(source), "--out", str(out),
         "--exercises", "3", "-k", FEW, "-j", "1", "-q", "--seed", "7", "--no-similarity"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while not list((out / "students").glob("*.json")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, output
    assert "interrupted" in output and not summary(out).complete
    finished = len(list((out / "students").glob("*.json")))
    assert 1 <= finished < 5
    rest = grade_class(source, out, "-j", 1, "--no-similarity")
    assert rest.exit_code == 0, rest.output
    counts = summary(out).counts
    assert counts.graded == 5 and counts.cards_cached >= finished
    assert counts.cards_graded == 5 - counts.cards_cached
