"""Exercise 10 - weight initialization: hidden tests (shapes drawn from the grade-time seed).

Every shape has fan_in and fan_out at least a factor 2 apart and every gain is at least
sqrt(2) away from 1, so swapped fans or a missing gain fail with certainty (see
``grader/suites/support/ex10_weight_init.py``).
"""

import math
import random

import pytest

from grader.judge import checks
from grader.suites.support.ex10_weight_init import (
    GAIN_HINT,
    check_init_mlp,
    init_and_check,
    kaiming_std,
    random_shape,
    xavier_std,
)
from reference import ex10_weight_init as ref


@pytest.mark.parametrize("case", range(4))
def test_random_fans(student, seed, case):
    """calculate_fans on random Linear/Conv shapes matches torch"""
    shape = random_shape(random.Random(seed + case))
    checks.equal(student.calculate_fans(shape), ref.calculate_fans(shape), f"fans of {shape}")


def test_leaky_relu_gain_random_slope(student, seed):
    """calculate_gain('leaky_relu', slope) for a random slope"""
    slope = round(random.Random(seed).uniform(0.0, 3.0), 3)
    checks.scalar_close(
        student.calculate_gain("leaky_relu", slope),
        ref.calculate_gain("leaky_relu", slope),
        f"calculate_gain('leaky_relu', {slope})",
        rtol=1e-12,
        atol=0.0,
    )


GAINS = [5 / 3, math.sqrt(2), 0.5, 3.0]


@pytest.mark.points(2)
@pytest.mark.parametrize("fn", ["xavier_uniform_", "xavier_normal_"])
def test_xavier_random(student, seed, fn):
    """Xavier initializers on a random shape and gain"""
    rng = random.Random(seed)
    shape, g = random_shape(rng), rng.choice(GAINS)
    init_and_check(
        student, fn, shape, {"gain": g}, xavier_std(shape, g), {GAIN_HINT: xavier_std(shape, 1)}
    )


@pytest.mark.points(2)
@pytest.mark.parametrize("fn", ["kaiming_uniform_", "kaiming_normal_"])
@pytest.mark.parametrize("case", range(2))
def test_kaiming_random(student, seed, fn, case):
    """Kaiming initializers on random shapes, modes and nonlinearities"""
    rng = random.Random(seed * 31 + case)
    shape = random_shape(rng)
    mode = rng.choice(["fan_in", "fan_out"])
    nonlinearity, a = rng.choice([("relu", 0.0), ("leaky_relu", 0.0), ("tanh", 0.0),
                                  ("leaky_relu", rng.choice([0.1, 0.3]))])  # fmt: skip
    kwargs = {"a": a, "mode": mode, "nonlinearity": nonlinearity}
    sigma, alternatives = kaiming_std(shape, a, mode, nonlinearity)
    init_and_check(student, fn, shape, kwargs, sigma, alternatives)


@pytest.mark.points(2)
def test_init_mlp_only_touches_linear_layers(student, seed):
    """init_mlp_ re-initializes nested Linear layers (with or without bias) and nothing else"""
    got = student.scenario("init_mlp", kind="nested", seed=seed % 1000)
    check_init_mlp(got)
    params = got["params"]
    for name, value in (("1.norm.weight", 2.0), ("1.norm.bias", -1.0)):
        checks.close(
            params[name],
            params[name].new_full(params[name].shape, value),
            f"init_mlp_ changed the LayerNorm parameter {name}; only nn.Linear layers",
            rtol=0,
            atol=0,
        )
