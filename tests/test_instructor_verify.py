"""``grade verify``: the judgements on real scorecards, and the command end to end."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.instructor import verify
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


NOT_IMPL = "clip_grad_norm is not implemented yet (it raised NotImplementedError)"


@pytest.mark.parametrize(
    "test_id, counted",
    [
        ("hidden/test_speed_close_to_torch", False),
        ("public/test_op_count_ops_budget[cpu]", False),
        ("public/test_timing_is_linear", False),
        ("public/test_worked_example_l2[cpu]", True),
        ("public/test_speedy_name_is_still_counted", True),
        ("public/test_dropout_is_off_in_eval", True),
    ],
)
def test_which_tests_count_as_correctness(test_id, counted):
    assert verify.is_correctness_test(card((test_id, "failed", 0, "")).tests[0]) is counted


def test_reference_may_fail_timing_and_forbidden_use_tests_only():
    slow = card(("public/test_a", "passed", 1, ""), ("hidden/test_speed_x", "failed", 0, "slow"))
    assert verify.judge_reference(slow) == []
    void = f"your engine called torch (tensor): {verify.FORBIDDEN_USE}, so no test counts"
    assert verify.judge_reference(card(("public/test_b", "failed", 0, void))) == []
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
