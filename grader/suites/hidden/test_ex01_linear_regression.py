"""Exercise 1 - linear regression by hand: hidden tests (inputs drawn from the grade-time seed)."""

import random

import pytest
import torch

from grader.judge import checks
from grader.suites.support.ex01_linear_regression import (
    SMOOTH,
    check_descent,
    check_mse_gradients,
    check_numerical_gradient,
    loss_hints,
    regression_data,
    sample_point,
)
from reference import ex01_linear_regression as ref


def random_shape(seed):
    rng = random.Random(seed)
    return rng.choice([1, 2, 5, 16, 64]), rng.choice([1, 2, 3, 7])


@pytest.mark.points(2)
@pytest.mark.parametrize("case", range(3))
def test_random_predictions_and_losses(student, device, seed, case):
    """predict and mse_loss match the reference on random data"""
    n, d = random_shape(seed + case)
    X, y, w, b = regression_data(seed + case, n, d, device=device)
    checks.close(student.predict(X, w, b), ref.predict(X, w, b), "predictions X w + b")
    y_hat = ref.predict(X, w, b)
    got = student.mse_loss(y_hat, y)
    checks.expect_tensor(got, "mse_loss", ndim=0)
    checks.close(got, ref.mse_loss(y_hat, y), "mse_loss", hints=[loss_hints(n)])


@pytest.mark.points(3)
@pytest.mark.parametrize("case", range(4))
def test_random_gradients(student, device, seed, case):
    """mse_gradients matches autograd on random data"""
    n, d = random_shape(seed * 3 + case)
    check_mse_gradients(student, *regression_data(seed * 3 + case, n, d, device=device))


@pytest.mark.points(2)
def test_float32_gradients(student, device, seed):
    """float32 inputs give float32 gradients that match autograd within float32 tolerance"""
    check_mse_gradients(student, *regression_data(seed, 40, 6, torch.float32, device))


@pytest.mark.points(3)
@pytest.mark.parametrize("case", range(3))
def test_random_numerical_gradients(student, seed, case):
    """numerical_gradient matches autograd for random functions, points and shapes"""
    rng = random.Random(seed + case)
    name = rng.choice(sorted(SMOOTH))
    shape = rng.choice([(3,), (2, 4), (3, 1, 2), (9,)])
    check_numerical_gradient(student, name, sample_point(name, shape, seed + case), check_x=True)


def test_numerical_gradient_small_eps(student, seed):
    """numerical_gradient at eps=1e-5 is the central difference at that eps"""
    check_numerical_gradient(student, "reciprocal", sample_point("reciprocal", (4,), seed), 1e-5)


@pytest.mark.points(3)
@pytest.mark.parametrize("case", range(2))
def test_random_gradient_descent(student, seed, case):
    """gradient_descent matches SGD on mse_loss for random data, learning rates and steps"""
    rng = random.Random(seed + case)
    n, d = random_shape(seed + 11 * case)
    lr, steps = rng.choice([0.01, 0.05, 0.1]), rng.randint(1, 12)
    check_descent(student, *regression_data(seed + case, n, d), lr=lr, steps=steps)


def test_gradient_descent_zero_steps(student, seed):
    """gradient_descent with steps=0 returns copies of w and b and no losses"""
    check_descent(student, *regression_data(seed, 5, 2), lr=0.1, steps=0)
