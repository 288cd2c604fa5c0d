"""Exercise 4 - learning-rate schedules: hidden tests (configurations drawn from the seed)."""

import random
from typing import Any

import pytest

from grader.suites.support.ex04_lr_schedules import (
    check_function,
    check_resume,
    schedule_against_torch,
)

CLASSES = ["StepDecayLR", "CosineAnnealingLR", "WarmupCosineLR"]


def random_lr(rng: random.Random) -> float:
    return 10 ** rng.uniform(-4, 0.5)


def random_min_lr(rng: random.Random, base: float) -> float:
    return 0.0 if rng.random() < 0.3 else base * rng.uniform(0.0, 0.5)


def random_class_case(rng: random.Random, cls: str) -> tuple[dict[str, Any], list[float], int]:
    """Scheduler kwargs, 1-4 group lrs and a number of steps that covers the schedule."""
    group_lrs = [random_lr(rng) for _ in range(rng.randint(1, 4))]
    min_lr = random_min_lr(rng, min(group_lrs))
    if cls == "StepDecayLR":
        kwargs = {"step_size": rng.randint(1, 8), "gamma": rng.uniform(0.1, 0.99)}
        return kwargs, group_lrs, rng.randint(10, 60)
    if cls == "CosineAnnealingLR":
        total = rng.randint(1, 60)
        return {"total_steps": total, "min_lr": min_lr}, group_lrs, total
    warmup = rng.randint(1, 12)
    total = warmup + rng.randint(1, 50)
    kwargs = {
        "warmup_steps": warmup,
        "total_steps": total,
        "min_lr": min_lr,
        "warmup_start_factor": rng.uniform(0.001, 1.0),
    }
    return kwargs, group_lrs, total


@pytest.mark.parametrize("case", range(3))
def test_step_decay_random_configurations(student, seed, case):
    """step_decay matches StepLR for random base lrs, step sizes and gammas"""
    rng = random.Random(seed * 10 + case)
    args = [random_lr(rng), rng.randint(1, 12), rng.uniform(0.05, 0.99)]
    check_function(student, "step_decay", args, {}, rng.randint(20, 100))


@pytest.mark.parametrize("case", range(3))
def test_cosine_annealing_random_configurations(student, seed, case):
    """cosine_annealing matches CosineAnnealingLR for random lengths and minimum lrs"""
    rng = random.Random(seed * 10 + case)
    base, total = random_lr(rng), rng.randint(1, 150)
    check_function(
        student, "cosine_annealing", [base, total], {"min_lr": random_min_lr(rng, base)}, total
    )


@pytest.mark.points(2)
@pytest.mark.parametrize("case", range(3))
def test_warmup_cosine_random_configurations(student, seed, case):
    """warmup_cosine matches SequentialLR(LinearLR, CosineAnnealingLR) for random settings"""
    rng = random.Random(seed * 10 + case)
    base, warmup = random_lr(rng), rng.randint(1, 30)
    total = warmup + rng.randint(1, 120)
    kwargs = {"min_lr": random_min_lr(rng, base), "warmup_start_factor": rng.uniform(0.001, 1.0)}
    check_function(student, "warmup_cosine", [base, warmup, total], kwargs, total)


def test_long_step_decay(student):
    """step_decay stays on torch's values over 300 decays (gamma 0.97 every step)"""
    check_function(student, "step_decay", [1.0, 1, 0.97], {}, 300)


@pytest.mark.points(2)
@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("case", range(2))
def test_schedulers_random_configurations(student, seed, cls, case):
    """Schedulers match torch's for random settings and 1-4 param groups"""
    rng = random.Random(seed * 10 + case)
    kwargs, group_lrs, steps = random_class_case(rng, cls)
    schedule_against_torch(student, cls, kwargs, group_lrs, steps, last_lr=True)


@pytest.mark.points(2)
@pytest.mark.parametrize("cls", CLASSES)
def test_resume_at_a_random_step(student, seed, cls):
    """state_dict() taken at a random step (even step 0) resumes exactly"""
    rng = random.Random(seed)
    kwargs, group_lrs, steps = random_class_case(rng, cls)
    check_resume(student, cls, kwargs, group_lrs, steps, resume_at=rng.randint(0, steps - 1))


@pytest.mark.parametrize("where", ["warmup", "milestone"])
def test_warmup_cosine_resumes_in_warmup_and_at_the_switch(student, where):
    """WarmupCosineLR resumes exactly in the middle of the warmup and at the switch to cosine"""
    kwargs = {"warmup_steps": 6, "total_steps": 20, "min_lr": 0.001, "warmup_start_factor": 0.05}
    check_resume(
        student, "WarmupCosineLR", kwargs, [0.3, 0.01], 20, resume_at=3 if where == "warmup" else 6
    )
