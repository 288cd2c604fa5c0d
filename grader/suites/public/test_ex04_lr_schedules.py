"""Exercise 4 - learning-rate schedules: public tests (these ship to students)."""

from typing import Any

import pytest

from grader.judge.failures import Failure
from grader.suites.support.ex04_lr_schedules import (
    check_figure,
    check_function,
    check_resume,
    reference_curve,
    run,
    schedule_against_torch,
    student_curve,
)

CLASSES = ["StepDecayLR", "CosineAnnealingLR", "WarmupCosineLR"]
CLASS_KWARGS: dict[str, dict[str, Any]] = {  # each scheduler's keyword arguments
    "StepDecayLR": {"step_size": 3, "gamma": 0.5},
    "CosineAnnealingLR": {"total_steps": 12, "min_lr": 0.001},
    "WarmupCosineLR": {"warmup_steps": 4, "total_steps": 14, "min_lr": 0.002},
}
FIGURE_9 = [0.01, 0.208, 0.406, 0.604, 0.802, 1.0, 0.9755, 0.9045, 0.7939, 0.6545, 0.5]
FIGURE_9 += [0.3455, 0.2061, 0.0955, 0.0245, 0.0]


@pytest.mark.points(2)
def test_step_decay_figure_8(student):
    """Figure 8: step decay (0.5, gamma 0.8) is 0.5, 0.4, 0.32, 0.16384, 0.000619 at 0-2, 5, 30"""
    steps = [0, 1, 2, 5, 30]
    got = student_curve(student, "step_decay", steps, [0.5, 1, 0.8], {})
    check_figure(got, [0.5, 0.4, 0.32, 0.16384, 0.000619], steps, "step_decay(t, 0.5, 1, 0.8)")
    expected = reference_curve("step_decay", [0.5, 1, 0.8], {}, 30)
    check_figure(got, [expected[s] for s in steps], steps, "step_decay(t, 0.5, 1, 0.8)")
    steps = [0, 29, 30, 59, 60]
    got = student_curve(student, "step_decay", steps, [0.1, 30, 0.1], {})
    check_figure(got, [0.1, 0.1, 0.01, 0.01, 0.001], steps, "step_decay(t, 0.1, 30, 0.1)")


@pytest.mark.points(2)
def test_warmup_cosine_figure_9(student):
    """Figure 9: warmup over 5 steps from 0.01, then cosine to 0 at step 15"""
    got = check_function(student, "warmup_cosine", [1.0, 5, 15], {}, 15)
    check_figure(got, FIGURE_9, range(16), "warmup_cosine(t, 1.0, 5, 15)")


@pytest.mark.parametrize(
    "args", [(0.5, 1, 0.8), (0.1, 30, 0.1), (3.0, 4, 0.7)], ids=["every-step", "step30", "step4"]
)
def test_step_decay_matches_torch(student, args):
    """step_decay matches torch's StepLR over the whole schedule"""
    check_function(student, "step_decay", list(args), {}, 65)


@pytest.mark.parametrize(
    "args, kwargs",
    [((0.1, 20), {}), ((2.0, 17), {"min_lr": 0.05}), ((0.3, 1), {})],
    ids=["T20", "T17-min_lr", "T1"],
)
def test_cosine_annealing_matches_torch(student, args, kwargs):
    """cosine_annealing matches torch's CosineAnnealingLR from step 0 to total_steps"""
    check_function(student, "cosine_annealing", list(args), kwargs, args[1])


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((0.1, 10, 50), {}),
        ((1.0, 1, 8), {"min_lr": 0.1}),
        ((0.5, 7, 8), {"warmup_start_factor": 0.25, "min_lr": 0.01}),
    ],
    ids=["W10-T50", "W1-T8-min_lr", "W7-T8-start0.25"],
)
def test_warmup_cosine_matches_torch(student, args, kwargs):
    """warmup_cosine matches torch's SequentialLR(LinearLR, CosineAnnealingLR)"""
    check_function(student, "warmup_cosine", list(args), kwargs, args[2])


def test_warmup_cosine_rejects_impossible_warmups(student):
    """warmup_cosine raises ValueError for warmup_steps < 1 or total_steps <= warmup_steps"""
    for args in ([0, 1.0, 0, 10], [0, 1.0, 10, 10], [0, 1.0, 12, 10]):
        got = run(student, "outcome_warmup_cosine", args=args, kwargs={})
        if got.get("raised") != "ValueError":
            what = (
                f"raised {got['raised']} ({got['message']})"
                if "raised" in got
                else f"returned {got['returned']!r}"
            )
            raise Failure(
                f"warmup_cosine(step=0, base_lr=1.0, warmup_steps={args[2]}, "
                f"total_steps={args[3]}) should raise ValueError, but it {what}",
                "check warmup_steps >= 1 and total_steps > warmup_steps first; "
                "raise ValueError(...) otherwise",
            )


@pytest.mark.points(2)
def test_step_decay_scheduler_figure_8(student):
    """Figure 8 with StepDecayLR: lr 0.5, 0.4, 0.32, ... after each step() of an SGD optimizer"""
    result = schedule_against_torch(
        student, "StepDecayLR", {"step_size": 1, "gamma": 0.8}, [0.5], 30
    )
    steps = [0, 1, 2, 5, 30]
    got = [result["lrs"][s][0] for s in steps]
    check_figure(got, [0.5, 0.4, 0.32, 0.16384, 0.000619], steps, "StepDecayLR's lr")


@pytest.mark.points(2)
def test_warmup_cosine_scheduler_figure_9(student):
    """Figure 9 with WarmupCosineLR: 0.01, 0.208, ..., 1.0 at step 5, ..., 0.0 at step 15"""
    kwargs = {"warmup_steps": 5, "total_steps": 15}
    result = schedule_against_torch(student, "WarmupCosineLR", kwargs, [1.0], 15)
    check_figure([row[0] for row in result["lrs"]], FIGURE_9, range(16), "WarmupCosineLR's lr")


@pytest.mark.parametrize("cls", CLASSES)
def test_scheduler_matches_torch(student, cls):
    """The scheduler sets the same lr as torch's after construction and after every step()"""
    steps = 20 if cls == "StepDecayLR" else CLASS_KWARGS[cls]["total_steps"]
    schedule_against_torch(student, cls, CLASS_KWARGS[cls], [0.1], steps)


@pytest.mark.points(2)
@pytest.mark.parametrize("cls", CLASSES)
def test_each_param_group_is_scheduled_from_its_own_lr(student, cls):
    """Every param group follows the schedule from its own initial lr"""
    steps = 20 if cls == "StepDecayLR" else CLASS_KWARGS[cls]["total_steps"]
    schedule_against_torch(student, cls, CLASS_KWARGS[cls], [0.1, 0.02, 1.5], steps)


@pytest.mark.parametrize("cls", CLASSES)
def test_get_last_lr_lists_every_group(student, cls):
    """get_last_lr() returns the current lr of every param group"""
    schedule_against_torch(student, cls, CLASS_KWARGS[cls], [0.1, 0.02], 6, last_lr=True)


def test_construction_sets_the_warmup_start_lr(student):
    """Constructing WarmupCosineLR already sets the step-0 lr (warmup_start_factor x base lr)"""
    kwargs = {"warmup_steps": 4, "total_steps": 10, "warmup_start_factor": 0.1}
    schedule_against_torch(student, "WarmupCosineLR", kwargs, [0.5, 2.0], 0, last_lr=True)


@pytest.mark.points(2)
@pytest.mark.parametrize("cls", CLASSES)
def test_state_dict_resumes_the_schedule(student, cls):
    """A fresh scheduler that loads state_dict() taken mid-run continues exactly like torch's"""
    steps = 20 if cls == "StepDecayLR" else CLASS_KWARGS[cls]["total_steps"]
    check_resume(student, cls, CLASS_KWARGS[cls], [0.1, 0.03], steps, resume_at=steps // 2 - 1)
