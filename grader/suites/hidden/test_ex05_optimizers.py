"""Exercise 5 - optimizers: hidden tests (hyperparameters and inputs drawn from the seed)."""

import random
from typing import Any

import pytest
import torch

from grader.suites.support.ex05_optimizers import (
    OPTIMIZERS,
    Case,
    check_against_torch,
    check_resume,
    make_case,
)


def random_hyper(rng: random.Random, name: str) -> dict[str, Any]:
    """A random, valid set of hyperparameters for ``name``."""
    if name == "SGD":
        momentum = rng.choice([0.0, 0.5, 0.9, 0.99])
        nesterov = momentum > 0 and rng.random() < 0.4
        return {
            "lr": 10 ** rng.uniform(-3, -1.3),
            "momentum": momentum,
            "dampening": 0.0 if nesterov else rng.choice([0.0, 0.1, 0.5]),
            "weight_decay": rng.choice([0.0, 1e-4, 0.1]),
            "nesterov": nesterov,
        }
    if name in ("Adam", "AdamW"):
        return {
            "lr": 10 ** rng.uniform(-4, -1.5),
            "betas": (rng.uniform(0.5, 0.95), rng.uniform(0.9, 0.9999)),
            "eps": rng.choice([1e-8, 1e-6, 1e-4]),
            "weight_decay": rng.choice([0.0, 1e-3, 0.1]),
        }
    return {
        "lr": 10 ** rng.uniform(-4, -2),
        "alpha": rng.uniform(0.8, 0.999),
        "eps": rng.choice([1e-8, 1e-6, 1e-4]),
        "momentum": rng.choice([0.0, 0.5, 0.9]),
    }


def random_case(seed: int, name: str, **options) -> tuple[Case, random.Random]:
    """1-3 param groups, each overriding some hyperparameters, with random shapes."""
    rng = random.Random(seed)
    kwargs = random_hyper(rng, name)
    n_groups = rng.randint(1, 3)
    overrides = []
    for _ in range(n_groups):
        other = random_hyper(rng, name)
        allowed = sorted(k for k in other if k not in ("nesterov", "dampening"))
        keys = rng.sample(allowed, rng.randint(0, 2))
        overrides.append({k: other[k] for k in keys})
    shapes = [
        [
            tuple(rng.randint(1, 5) for _ in range(rng.randint(1, 2)))
            for _ in range(rng.randint(1, 3))
        ]
        for _ in range(n_groups)
    ]
    case = make_case(name, kwargs, seed=seed, shapes=shapes, overrides=overrides, **options)
    return case, rng


@pytest.mark.points(2)
@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("case", range(3))
def test_random_hyperparameters_and_groups(student, device, seed, name, case):
    """Random hyperparameters and param groups match torch.optim for 50 steps"""
    built, _ = random_case(seed * 10 + case, name, device=device)
    check_against_torch(student, built)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_float32_parameters(student, device, seed, name):
    """float32 parameters stay float32 and follow torch.optim within float32 tolerance"""
    kwargs = {"lr": 0.01, "momentum": 0.9} if name == "SGD" else {"lr": 0.01}
    case = make_case(name, kwargs, seed=seed, steps=20, dtype=torch.float32, device=device)
    check_against_torch(student, case)


@pytest.mark.points(2)
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_resume_at_a_random_step(student, seed, name):
    """state_dict() taken at a random step (even before the first) resumes exactly"""
    built, rng = random_case(seed, name, steps=25)
    check_resume(student, built, resume_at=rng.randint(0, 24))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_hundred_steps_with_missing_gradients(student, seed, name):
    """100 steps where some parameters often have no gradient stay on torch's trajectory"""
    built, _ = random_case(seed + 77, name, steps=100, sometimes=[0, 1])
    check_against_torch(student, built)
