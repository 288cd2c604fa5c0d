"""Attacks on the judge itself, graded end to end through the CLI in every isolation mode.

Each case writes a hostile submission, runs ``python -m grader`` with its own TMPDIR and
asserts on the scorecard the judge wrote, on the exit code, and that nothing was left behind:
no worker process, no worker folder, no planted file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from grader.judge import sandbox
from tests.conftest import ROOT, SUBMISSIONS, grade

pytestmark = pytest.mark.slow  # every test here grades end to end

RED = SUBMISSIONS / "redteam"
FEW = "worked_example_l2 or value_clamps"


def available(mode: str) -> bool:
    try:
        return sandbox.available_mode(mode) == mode
    except RuntimeError:
        return False


MODES = [m for m in sandbox.MODES if available(m)]
WEAK = {  # a machine with none of the kernel's help: macOS, Windows' WSL1, old kernels
    "TLG_SIMULATE_NO_NAMESPACES": "1",
    "TLG_SIMULATE_NO_LANDLOCK": "1",
    "TLG_SIMULATE_NO_SECCOMP": "1",
    "TLG_SIMULATE_NO_RESOURCE": "1",
    "TLG_SIMULATE_NO_CGROUP": "1",
}


def grade_cli(
    tmp: Path, *args: str, env: dict[str, str] | None = None, start_only: bool = False
) -> subprocess.CompletedProcess[str] | subprocess.Popen[str]:
    """Run the CLI with a private TMPDIR (so leftovers can be seen) and return the result."""
    (tmp / "tmp").mkdir(exist_ok=True)
    full_env = {**os.environ, "TMPDIR": str(tmp / "tmp"), **(env or {})}
    cmd = [sys.executable, "-m", "grader", *args, "--device", "cpu", "--seed", "5"]
    if start_only:
        return subprocess.Popen(cmd, cwd=tmp, env=full_env, text=True, stderr=subprocess.PIPE)
    return subprocess.run(cmd, cwd=tmp, env=full_env, capture_output=True, text=True, timeout=300)


def grade_here(tmp: Path, monkeypatch: pytest.MonkeyPatch, path: Path, mode: str, select: str):
    """Grade in this process with the audit off (the layer under test is the runtime's), with
    a private temporary folder so leftovers can be seen."""
    (tmp / "tmp").mkdir(exist_ok=True)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp / "tmp"))
    return grade("exercise-3", path, select=select, isolation=mode, audit=False)


def assert_nothing_left(tmp: Path) -> None:
    time.sleep(0.2)
    left = sorted(p.name for p in (tmp / "tmp").iterdir() if p.name.startswith("tlg-"))
    assert not left, f"folders left behind: {left}"  # (torch's own caches are not ours)
    marker = str(tmp / "tmp").encode()
    alive = []
    for proc in Path("/proc").iterdir():
        try:
            if marker in (proc / "cmdline").read_bytes():
                alive.append(proc.name)
        except OSError:
            continue
    assert not alive, f"processes left behind: {alive}"


def card_of(path: Path) -> dict:
    return json.loads(path.read_text())


def results_of(card: dict) -> dict[str, dict]:
    return {t["id"]: t for t in card["tests"]}


@pytest.mark.parametrize("mode", MODES)
def test_a_forged_scorecard_and_a_killed_judge_change_nothing(tmp_path, mode):
    card_path = tmp_path / "out" / "scorecard.json"
    text = (RED / "attack_judge.py.tmpl").read_text()
    sub = tmp_path / "ex03_gradient_clipping.py"
    sub.write_text(text.replace("@TARGET@", str(card_path)).replace("@JUDGE_PID@", "0"))
    done = grade_cli(tmp_path, "3", "-s", str(sub), "--json", str(card_path), "--isolation", mode)
    assert done.returncode == 1, done.stderr
    card = card_of(card_path)  # the judge's own: every field, its own arithmetic
    assert card["kind"] == "exercise" and card["tests"] and card["max_score"] == 53
    assert card["score"] == sum(t["score"] for t in card["tests"]) < 10
    assert card["environment"]["isolation_mode"] == mode
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize("mode", MODES)
def test_work_in_another_process_is_refused_and_named(tmp_path, monkeypatch, mode):
    card = grade_here(tmp_path, monkeypatch, RED / "process_escape.py", mode, FEW)
    assert card.score == 0
    for test in card.tests:  # refused by the kernel, named by the worker or its guard
        assert "started a new process" in test.message, test
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize("mode", [*MODES, "weak"])
def test_links_planted_before_a_crash_are_never_written_through(tmp_path, monkeypatch, mode):
    target = tmp_path / "planted-through-a-link.py"
    text = (RED / "symlink_trick.py.tmpl").read_text().replace("@PLANT@", str(target))
    sub = tmp_path / "ex03_gradient_clipping.py"
    sub.write_text(text)
    reference_before = sorted(p.name for p in (ROOT / "reference").iterdir())
    if mode == "weak":
        for key, value in WEAK.items():
            monkeypatch.setenv(key, value)
        sandbox.capabilities.cache_clear()
    isolation = "process" if mode == "weak" else mode
    try:
        card = grade_here(tmp_path, monkeypatch, sub, isolation, f"{FEW} or worked_example_inf")
    finally:
        sandbox.capabilities.cache_clear()
    results = {t.id: t for t in card.tests}
    assert "exited with code 3" in results["public/test_worked_example_l2[cpu]"].message
    assert results["public/test_clip_grad_value_clamps_each_entry[cpu]"].status == "passed"
    assert not target.exists() and not target.is_symlink()
    assert sorted(p.name for p in (ROOT / "reference").iterdir()) == reference_before
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize("mode", MODES)
def test_a_jammed_protocol_fails_only_the_calls_that_jam_it(tmp_path, monkeypatch, mode):
    start = time.monotonic()
    card = grade_here(
        tmp_path, monkeypatch, RED / "jam_protocol.py", mode, f"{FEW} or worked_example_inf"
    )
    assert time.monotonic() - start < 120  # never waits past the calls' own deadlines
    results = {t.id: t for t in card.tests}
    norm = results["public/test_worked_example_l2[cpu]"].message
    assert "malformed reply (header nested too deeply)" in norm
    value = results["public/test_clip_grad_value_clamps_each_entry[cpu]"].message
    assert "out of step" in value
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize(
    ("notebook", "words"),
    [
        ("deep_json", "its JSON is nested too deeply"),
        ("long_expression", "cell 2 (starting `x = 1 + 1"),
    ],
)
def test_notebook_recursion_bombs_give_a_notebook_error_and_a_scorecard(tmp_path, notebook, words):
    path = tmp_path / "ex03_gradient_clipping.ipynb"
    if notebook == "deep_json":
        path.write_text('{"cells": ' + "[" * 100_000 + "]" * 100_000 + ', "nbformat": 4}')
    else:
        cells = ["import torch", "x = " + "1 + " * 990 + "1"]
        path.write_text(
            json.dumps(
                {
                    "cells": [{"cell_type": "code", "source": c, "metadata": {}} for c in cells],
                    "metadata": {},
                    "nbformat": 4,
                    "nbformat_minor": 5,
                }
            )
        )
    done = grade_cli(tmp_path, "3", "-s", str(path), "--json", str(tmp_path / "card.json"))
    assert done.returncode != 0 and "Traceback" not in done.stderr + done.stdout
    card = card_of(tmp_path / "card.json")
    assert words in card["submission"]["error"]
    assert card["score"] == 0 and card["max_score"] > 0
    assert_nothing_left(tmp_path)


def _wait_for_worker(tmp: Path, timeout: float = 120) -> None:
    marker = str(tmp / "tmp").encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in Path("/proc").iterdir():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if marker in cmdline and b"grader.worker" in cmdline:
                return
        time.sleep(0.2)
    raise AssertionError("no worker started")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_an_interrupt_writes_an_interrupted_scorecard_and_leaves_nothing(tmp_path, sig, code):
    card_path = tmp_path / "card.json"
    folder = tmp_path / "exercises"  # exercise 3 loops forever; 1 and 2 are missing
    folder.mkdir()
    (folder / "ex03_gradient_clipping.py").write_bytes(
        (SUBMISSIONS / "ex03" / "endless_loop.py").read_bytes()
    )
    proc = grade_cli(tmp_path, "all", "-s", str(folder), "--json", str(card_path), start_only=True)
    assert isinstance(proc, subprocess.Popen)
    try:
        _wait_for_worker(tmp_path)
        time.sleep(1)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    card = card_of(card_path)
    assert card["kind"] == "bundle" and card["interrupted"] is True
    # it holds what finished, and the exercise that was running (if the signal came after
    # the worker template started grading anything) last, marked interrupted
    exercises = card["exercises"]
    assert all(not c["interrupted"] for c in exercises[:-1])
    if exercises and exercises[-1]["exercise"] == "exercise-3":
        assert exercises[-1]["interrupted"] is True
    assert "Traceback" not in err
    assert_nothing_left(tmp_path)


def test_a_read_only_scorecard_target_is_refused_before_grading(tmp_path):
    target = tmp_path / "card.json"
    target.write_text("{}")
    target.chmod(0o444)
    start = time.monotonic()
    done = grade_cli(tmp_path, "3", "-s", str(ROOT / "solutions"), "--json", str(target))
    assert done.returncode == 2
    assert "cannot write the scorecard" in done.stderr and "read-only" in done.stderr
    assert target.read_text() == "{}"
    assert time.monotonic() - start < 60
    assert_nothing_left(tmp_path)


def test_a_machine_without_kernel_isolation_still_grades_and_says_so(tmp_path):
    done = grade_cli(
        tmp_path, "3", "-s", str(ROOT / "solutions"), "--json", str(tmp_path / "card.json"),
        "-k", FEW, env=WEAK,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("isolation: process only - results are feedback")
    card = card_of(tmp_path / "card.json")
    assert card["score"] == card["max_score"] > 0
    env = card["environment"]
    assert env["isolation_level"] == "process" and env["landlock_abi"] == 0
    assert "rlimits" not in env["isolation"]
    assert not any(layer.startswith(("seccomp", "pids cgroup")) for layer in env["isolation"])
    assert_nothing_left(tmp_path)


def test_require_isolation_refuses_a_weaker_machine_with_exit_2(tmp_path):
    done = grade_cli(
        tmp_path, "3", "-s", str(ROOT / "solutions"), "--json", str(tmp_path / "card.json"),
        "--require-isolation", "landlock", env=WEAK,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--require-isolation landlock" in done.stderr and "only 'process'" in done.stderr
    assert_nothing_left(tmp_path)


@pytest.mark.skipif(
    not (sandbox.capabilities().landlock_abi and sandbox.capabilities().seccomp),
    reason="needs Landlock and seccomp",
)
def test_require_isolation_landlock_is_met_without_namespaces(tmp_path):
    done = grade_cli(
        tmp_path, "3", "-s", str(ROOT / "solutions"), "--json", str(tmp_path / "card.json"),
        "--isolation", "process", "--require-isolation", "landlock", "-k", FEW,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert card_of(tmp_path / "card.json")["environment"]["isolation_level"] == "landlock"
    assert not done.stdout.startswith("isolation:")


@pytest.mark.parametrize("mode", MODES)
def test_a_student_leaves_nothing_for_the_next_one_graded_by_the_same_process(mode):
    """A class's grading process forks every student's workers from one template: what one
    student's code plants (files, environment, module state) never reaches the next's."""
    from grader.judge.client import kept_template
    from grader.regrade import task
    from grader.regrade.cache import grader_fingerprint

    mark = f"tlg-left-by-student-a-{os.getpid()}-{time.monotonic_ns()}"  # this run's own

    def job(student: str, path: Path) -> task.Job:
        options = {"device": "cpu", "seed": 5, "isolation": mode, "audit": False, "select": FEW}
        text = path.read_text().replace('MARK = "tlg-left-by-student-a"', f'MARK = "{mark}"')
        return task.Job(
            student=student,
            files={"ex03_gradient_clipping.py": text.encode()},
            exercises=["exercise-3"],
            options=options,
            fingerprint=grader_fingerprint(),
        )

    def score(result: task.JobResult) -> tuple[float, float]:
        assert result.error is None and not result.errors, result
        card = json.loads(result.cards[0])
        return card["score"], card["max_score"]

    task.share_templates()  # as in a local pool process of `grade class`
    try:
        alone = score(task.grade_student(job("b-alone", RED / "look_for_a_mark.py")))
        assert alone[0] == alone[1] > 0  # B is a correct solution when nothing is planted
        template = kept_template(mode, False)  # the one B was just graded from
        planted = score(task.grade_student(job("a", RED / "leave_a_mark.py")))
        assert planted[0] == 0  # A called the forbidden built-ins: the runtime guard voids it
        after = score(task.grade_student(job("b", RED / "look_for_a_mark.py")))
        assert kept_template(mode, False) is template and template.alive  # shared
        assert after == alone
    finally:
        task.close_templates()
