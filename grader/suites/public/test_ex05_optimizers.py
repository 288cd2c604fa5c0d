"""Exercise 5 - optimizers: public tests (these ship to students).

Every test runs the student's optimizer for up to 50 steps on parameters whose gradient entries
span 1e-6 ... 1e2 (so where eps goes matters) and compares every parameter after every step
with torch.optim in float64.
"""

from typing import Any

import pytest
import torch

from grader.judge import checks
from grader.judge.failures import Failure
from grader.suites.support.ex05_optimizers import (
    OPTIMIZERS,
    check_against_torch,
    check_resume,
    describe,
    in_worker,
    make_case,
)

SGD_GRID = [
    {"lr": 0.01},
    {"lr": 0.01, "momentum": 0.9},
    {"lr": 0.01, "momentum": 0.9, "dampening": 0.5},
    {"lr": 0.01, "momentum": 0.8, "nesterov": True},
    {"lr": 0.05, "weight_decay": 0.1},
    {"lr": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
]
ADAM_GRID = [
    {},
    {"lr": 0.01, "betas": (0.8, 0.99)},
    {"lr": 0.01, "eps": 1e-3},
    {"lr": 0.003, "weight_decay": 0.1},
]
ADAMW_GRID = [
    {},
    {"lr": 0.01, "weight_decay": 0.3},
    {"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-6, "weight_decay": 0.05},
]
RMSPROP_GRID = [
    {},
    {"lr": 0.001, "alpha": 0.9},
    {"lr": 0.01, "eps": 1e-4},
    {"lr": 0.001, "momentum": 0.9},
]
# Per optimizer: constructor kwargs and two groups' overrides (different lrs and more).
# optimizer -> (its keyword arguments, each param group's overrides)
GROUPS: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "SGD": ({"lr": 0.01, "momentum": 0.9}, [{}, {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.1}]),
    "Adam": ({"lr": 0.01}, [{"betas": (0.8, 0.9)}, {"lr": 0.001, "weight_decay": 0.01}]),
    "AdamW": ({"lr": 0.01}, [{}, {"lr": 0.05, "weight_decay": 0.2, "eps": 1e-4}]),
    "RMSprop": ({"lr": 0.01}, [{"momentum": 0.9}, {"lr": 0.001, "alpha": 0.9}]),
}


def grid_ids(grid):
    return [describe(kwargs) for kwargs in grid]


@pytest.mark.parametrize("kwargs", SGD_GRID, ids=grid_ids(SGD_GRID))
def test_sgd_matches_torch(student, device, seed, kwargs):
    """SGD matches torch.optim.SGD step for step"""
    check_against_torch(student, make_case("SGD", kwargs, seed=seed, device=device))


@pytest.mark.parametrize("kwargs", ADAM_GRID, ids=grid_ids(ADAM_GRID))
def test_adam_matches_torch(student, device, seed, kwargs):
    """Adam matches torch.optim.Adam step for step"""
    check_against_torch(student, make_case("Adam", kwargs, seed=seed, device=device))


@pytest.mark.parametrize("kwargs", ADAMW_GRID, ids=grid_ids(ADAMW_GRID))
def test_adamw_matches_torch(student, device, seed, kwargs):
    """AdamW matches torch.optim.AdamW (decoupled weight decay) step for step"""
    check_against_torch(student, make_case("AdamW", kwargs, seed=seed, device=device))


@pytest.mark.parametrize("kwargs", RMSPROP_GRID, ids=grid_ids(RMSPROP_GRID))
def test_rmsprop_matches_torch(student, device, seed, kwargs):
    """RMSprop matches torch.optim.RMSprop step for step"""
    check_against_torch(student, make_case("RMSprop", kwargs, seed=seed, device=device))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_defaults_and_a_generator_of_parameters(student, seed, name):
    """Default hyperparameters are torch's, and params may be a generator (model.parameters())"""
    kwargs = {"lr": 0.01} if name == "SGD" else {}
    check_against_torch(student, make_case(name, kwargs, seed=seed, as_iterator=True))


@pytest.mark.points(2)
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_param_groups_use_their_own_hyperparameters(student, seed, name):
    """Each param group is updated with its own lr and hyperparameters"""
    kwargs, overrides = GROUPS[name]
    shapes: list[list[tuple[int, ...]]] = [[(3, 2), (4,)], [(5,)]]
    case = make_case(name, kwargs, seed=seed, shapes=shapes, overrides=overrides)
    check_against_torch(student, case)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_parameters_without_grad_are_left_alone(student, seed, name):
    """A parameter whose .grad is None is skipped: not updated, and its state does not advance"""
    kwargs, overrides = GROUPS[name]
    case = make_case(
        name,
        {**kwargs, **overrides[1]},
        seed=seed,
        shapes=[[(3,), (2, 2), (4,)]],
        no_grad=[1],
        sometimes=[2],
        steps=30,
    )
    check_against_torch(student, case)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_lr_is_read_from_param_groups_at_every_step(student, seed, name):
    """Changing param_groups[i]["lr"] between steps (as schedulers do) takes effect"""
    kwargs, overrides = GROUPS[name]
    lrs = [[0.02 * 0.9**t, 0.005 * (1 + t % 3)] for t in range(20)]
    case = make_case(
        name, kwargs, seed=seed, shapes=[[(3,)], [(2, 2)]], overrides=overrides, steps=20, lrs=lrs
    )
    check_against_torch(student, case)


@pytest.mark.points(2)
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_dict_resumes_exactly(student, seed, name):
    """A fresh optimizer loading state_dict() taken mid-run continues exactly like the original"""
    kwargs, overrides = GROUPS[name]
    case = make_case(
        name, kwargs, seed=seed, shapes=[[(3, 2)], [(4,)]], overrides=overrides, steps=30
    )
    check_resume(student, case, resume_at=12)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_zero_grad(student, seed, name):
    """zero_grad() sets the gradients to None; zero_grad(set_to_none=False) fills them with zeros"""
    gen = torch.Generator().manual_seed(seed)
    values = [torch.randn(3, generator=gen, dtype=torch.float64) for _ in range(2)]
    grads = [torch.randn(3, generator=gen, dtype=torch.float64) for _ in range(2)]
    kwargs = {"lr": 0.01} if name == "SGD" else {}
    got = in_worker(student, f"zero_grad_{name}", values=values, grads=grads, kwargs=kwargs)
    for i, g in enumerate(got["default"]):
        if g is not None:
            raise Failure(
                f"{name}.zero_grad(): parameter {i}'s .grad should be None, got {checks.fmt(g)}",
                "set_to_none=True is the default since PyTorch 2.0 (Optimizer.zero_grad does it)",
            )
    for i, g in enumerate(got["keep"]):
        checks.close(
            g,
            torch.zeros(3, dtype=torch.float64),
            f"{name}.zero_grad(set_to_none=False): parameter {i}'s .grad",
        )
