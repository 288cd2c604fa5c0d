"""Exercise 9 - custom autograd Functions: hidden tests (inputs from the grade-time seed)."""

import random

import pytest
import torch

from grader.suites.support.ex09_custom_functions import (
    batch_hints,
    check_case,
    layer_norm_inputs,
    linear_inputs,
    round_inputs,
    silu_inputs,
)


@pytest.mark.points(2)
@pytest.mark.parametrize("case", range(3))
def test_linear_random_shapes_with_gradcheck(student, seed, case):
    """LinearFunction on random shapes: values, gradients and gradcheck"""
    rng = random.Random(seed + case)
    n, d_in, d_out = rng.randint(1, 6), rng.randint(1, 5), rng.randint(1, 5)
    inputs = linear_inputs(seed + case, n, d_in, d_out)
    check_case(
        student,
        "LinearFunction",
        inputs,
        seed=seed + case,
        gradcheck=True,
        factor_hints={2: batch_hints(n, "batch")},
    )


def test_linear_float32(student, seed):
    """LinearFunction works in float32 too (same dtype out as in)"""
    inputs = linear_inputs(seed, 8, 16, 4, dtype=torch.float32)
    check_case(student, "LinearFunction", inputs, seed=seed)


@pytest.mark.points(2)
@pytest.mark.parametrize("case", range(3))
def test_silu_random_shapes_with_gradcheck(student, seed, case):
    """SiLUFunction on random shapes and scales: values, gradients and gradcheck"""
    rng = random.Random(seed + case)
    shape = tuple(rng.randint(1, 4) for _ in range(rng.randint(1, 3)))
    inputs = silu_inputs(seed + case, shape, scale=rng.choice([0.5, 2.0, 6.0]))
    check_case(student, "SiLUFunction", inputs, seed=seed + case, gradcheck=True)


@pytest.mark.points(2)
@pytest.mark.parametrize("case", range(4))
def test_layer_norm_random_shapes_and_eps_with_gradcheck(student, seed, case):
    """LayerNormFunction on random shapes and eps: values, gradients and gradcheck"""
    rng = random.Random(seed + case)
    shape = tuple(rng.randint(1, 3) for _ in range(rng.randint(0, 2))) + (rng.randint(2, 6),)
    eps = rng.choice([1e-5, 1e-3, 0.1, 1.0])
    inputs = layer_norm_inputs(seed + case, shape, eps)
    check_case(student, "LayerNormFunction", inputs, seed=seed + case, gradcheck=True)


def test_layer_norm_large_offset_and_scale(student, seed):
    """LayerNormFunction stays accurate for inputs like 50 + 100 * randn"""
    inputs = layer_norm_inputs(seed, (4, 16), 1e-5, scale=100.0, shift=50.0)
    check_case(student, "LayerNormFunction", inputs, seed=seed)


def test_layer_norm_float32(student, seed):
    """LayerNormFunction works in float32 too"""
    x, w, b, eps = layer_norm_inputs(seed, (8, 32), 1e-5)
    inputs = [x.float(), w.float(), b.float(), eps]
    check_case(student, "LayerNormFunction", inputs, seed=seed)


@pytest.mark.parametrize("case", range(2))
def test_round_random(student, seed, case):
    """StraightThroughRound on random inputs with ties: forward torch.round, identity backward"""
    rng = random.Random(seed + case)
    shape = tuple(rng.randint(2, 5) for _ in range(rng.randint(1, 3)))
    check_case(student, "StraightThroughRound", round_inputs(seed + case, shape), seed=seed)
