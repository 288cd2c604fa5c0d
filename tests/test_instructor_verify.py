"""``grade verify``: the judgements on real scorecards, and the command end to end."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.instructor import sweep, verify
from grader.judge.scorecard import Environment, Scorecard, Submission
from grader.judge.scorecard import TestResult as Result


def card(*tests: tuple[str, str, float, str], error: str | None = None) -> Scorecard:
    """A scorecard with tests given as (id, status, points scored, message)."""
    results = [
        Result(
            id=tid,
            name=tid,
            status=status,  # type: ignore[arg-type]
            score=score,
            max_score=0.0 if status == "skipped" else 1.0,
            message=message,
            visibility="hidden" if tid.startswith("hidden/") else "public",
            duration_s=0.0,
        )
        for tid, status, score, message in tests
    ]
    return Scorecard(
        exercise="exercise-3",
        title="t",
        score=sum(t.score for t in results),
        max_score=sum(t.max_score for t in results),
        submission=Submission(path="x.py", error=error),
        seed=1,
        environment=Environment(
            python="3",
            torch="2",
            grader="0",
            platform="p",
            devices_tested=["cpu"],
            isolation=[],
            isolation_mode="process",
        ),  # fmt: skip
        started_at=datetime.now(timezone.utc),
        duration_s=0.0,
        tests=results,
    )


ROOT = Path(__file__).resolve().parent.parent
NOT_IMPL = "clip_grad_norm is not implemented yet (it raised NotImplementedError)"


@pytest.mark.parametrize(("measures", "counted"), [("speed", False), ("correctness", True)])
def test_which_tests_count_as_correctness(measures, counted):
    # by the @pytest.mark.speed marker, recorded as `measures`, never by the test's name
    test = card(("public/test_speedy_name_is_still_counted", "failed", 0, "")).tests[0]
    test.measures = measures
    assert verify.is_correctness_test(test) is counted


def test_reference_may_fail_timing_and_forbidden_use_tests_only():
    slow = card(("public/test_a", "passed", 1, ""), ("hidden/test_speed_x", "failed", 0, "slow"))
    slow.tests[1].measures = "speed"
    assert verify.judge_reference(slow) == []
    void = card(("public/test_b", "failed", 0, "your engine called torch (tensor)"))
    void.tests[0].voided_by = "runtime guard"
    assert verify.judge_reference(void) == []
    wrong = card(("public/test_a", "failed", 0, "expected 5, got 4"))
    assert verify.judge_reference(wrong) == ["public/test_a: expected 5, got 4"]
    assert verify.judge_reference(card(error="syntax error")) == ["syntax error"]


def test_solution_needs_every_test():
    both = card(("public/a", "passed", 1, ""), ("public/b", "skipped", 0, "no CUDA"))
    assert verify.judge_solution(both) == []
    one_wrong = card(("public/a", "passed", 1, ""), ("hidden/b", "failed", 0, "x"))
    assert verify.judge_solution(one_wrong) == ["hidden/b: x"]
    assert verify.judge_solution(card()) == ["scored 0/0"]


def test_stub_must_fail_everything_saying_not_implemented():
    assert verify.judge_stub(card(("public/a", "failed", 0, NOT_IMPL))) == []
    passed = verify.judge_stub(
        card(("public/a", "passed", 1, ""), ("public/b", "failed", 0, NOT_IMPL))
    )
    assert passed[0] == "public/a passed: a stub should pass no test"
    other = verify.judge_stub(card(("public/a", "failed", 0, "got None")))
    assert other == ["public/a fails without saying 'not implemented': public/a: got None"]


def test_table_lists_each_problem_under_the_table():
    from grader.judge import exercises

    row = verify.Row(exercises.find("3"))
    row.problems = {"sync": [], "reference": [], "solution": ["public/a: wrong"], "stub": []}
    row.summary = {"sync": "", "reference": "30/30 tests", "solution": "50/53", "stub": "0/53"}
    lines = verify.table([row]).splitlines()
    assert lines[0].split() == ["exercise", "sync", "reference", "solution", "stub"]
    assert lines[2].split() == [
        "exercise-3",
        "ok",
        "ok",
        "30/30",
        "tests",
        "FAIL",
        "50/53",
        "ok",
        "0/53",
    ]  # noqa: E501
    assert lines[-1] == "exercise-3 solution: public/a: wrong"


@pytest.mark.slow
def test_verify_command_grades_reference_solution_and_stub():
    result = CliRunner().invoke(main, ["verify", "-e", "3", "--seed", "7"])
    out = result.output
    assert "exercise-3" in out and "reference" in out and "(seed 7)" in out
    assert result.exit_code == 0, out
    assert "all good: 1 exercise(s)" in out


def test_verify_rejects_an_unknown_exercise():
    result = CliRunner().invoke(main, ["verify", "-e", "99"])
    assert result.exit_code == 2
    assert "no exercise called '99'" in result.output


# -- grade verify --seeds: the seed sweep's verdicts and report ---------------------------------


def test_a_seed_fails_the_solution_with_the_tests_that_lost_points():
    good = card(("hidden/test_a[cpu-0]", "passed", 1, ""), ("hidden/test_b", "skipped", 0, ""))
    assert sweep.judge_seed("solution", good) is None
    bad = card(
        ("hidden/test_a[cpu-0]", "passed", 1, ""),
        ("hidden/test_value[cpu-1]", "error", 0, "the grader could not check this result"),
    )
    bad.seed = 42
    failure = sweep.judge_seed("solution", bad)
    assert failure is not None and failure.seed == 42
    assert failure.tests == ["hidden/test_value[cpu-1]"]
    assert failure.problems == ["hidden/test_value[cpu-1]: the grader could not check this result"]


def test_a_seed_fails_the_stub_when_a_test_passes_without_its_code():
    assert sweep.judge_seed("stub", card(("hidden/test_a", "failed", 0, NOT_IMPL))) is None
    vacuous = card(("hidden/test_a", "failed", 0, NOT_IMPL), ("hidden/test_empty", "passed", 1, ""))
    failure = sweep.judge_seed("stub", vacuous)
    assert failure is not None and failure.tests == ["hidden/test_empty"]
    assert "scored 1, expected 0" in failure.problems


def _swept(column: str, failures: list[sweep.SeedFailure], seeds: int = 200) -> sweep.FileSweep:
    from grader.judge import exercises

    ex = exercises.find("3")
    folder = "solutions" if column == "solution" else "exercises"
    return sweep.FileSweep(
        ex, column, ROOT / folder / f"{ex.module}.py", seeds=seeds, start_s=4.0,
        grading_s=0.5 * (seeds - 1), starts=1, failures=failures,
    )  # fmt: skip


def test_sweep_report_names_each_failing_seed_its_tests_and_the_command_that_reproduces_it():
    failure = sweep.SeedFailure(
        1042,
        ["hidden/test_value[cpu-0]", "hidden/test_value[cpu-2]", "hidden/test_norm[cpu-1]"],
        ["hidden/test_value[cpu-0]: expected 1, got 2"],
    )
    result = sweep.Sweep(
        seeds=sweep.seed_range(1000, 200),
        files=[_swept("solution", [failure]), _swept("stub", [])],
        seconds=250.0,
    )
    assert not result.ok
    lines = sweep.report(result, ROOT).splitlines()
    assert lines[0].startswith("seed sweep: hidden tests at 200 seed(s), 1000..1199; 400 ")
    assert lines[3].split() == ["exercise-3", "FAIL", "199/200", "0.50", "ok", "200/200", "0.50"]
    assert lines[-3:] == [
        "exercise-3 solution, seed 1042: hidden/test_value[cpu-0], hidden/test_value[cpu-2], "
        "hidden/test_norm[cpu-1]",
        "  hidden/test_value[cpu-0]: expected 1, got 2",
        "  reproduce: grade exercise-3 --submission solutions/ex03_gradient_clipping.py "
        "--device cpu --seed 1042 -k 'test_norm or test_value'",
    ]


def test_sweep_report_lists_many_failing_seeds_by_number_after_the_first_few():
    failures = [sweep.SeedFailure(s, ["hidden/test_a"], ["hidden/test_a: x"]) for s in range(9)]
    report = sweep.report(sweep.Sweep(list(range(9)), [_swept("stub", failures, 9)]), ROOT)
    assert report.count("reproduce: grade exercise-3 --submission exercises/") == 5
    assert report.splitlines()[-1] == "exercise-3 stub: 4 more failing seed(s): 5, 6, 7, 8"


def test_sweep_report_says_what_could_not_be_graded_and_an_interruption():
    missing = _swept("solution", [], 0)
    missing.error = "solutions/ex03_gradient_clipping.py is missing"
    result = sweep.Sweep([7], [missing], interrupted=True)
    assert not result.ok
    report = sweep.report(result, ROOT)
    assert "FAIL (not graded)" in report
    assert "exercise-3 solution: solutions/ex03_gradient_clipping.py is missing" in report
    assert report.endswith("interrupted: the seeds and files above are all that was graded")
