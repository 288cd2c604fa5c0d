"""Exercise 2 - a two-layer MLP by hand: hidden tests (inputs drawn from the grade-time seed)."""

import random

import pytest
import torch

from grader.judge import checks, timing
from grader.judge.failures import Failure
from grader.suites.support.ex02_mlp_backward import (
    F64,
    check_forward,
    check_grads,
    check_softmax_ce,
    mlp_inputs,
    with_dead_units,
)


def random_shape(seed):
    rng = random.Random(seed)
    return (
        rng.choice([1, 3, 16, 50]),
        rng.choice([1, 2, 7]),
        rng.choice([1, 5, 12]),
        rng.choice([2, 3, 10]),
    )


@pytest.mark.points(3)
@pytest.mark.parametrize("case", range(4))
def test_random_networks(student, device, seed, case):
    """Forward pass and gradients match the reference on random networks"""
    shape = random_shape(seed + case)
    args = mlp_inputs(seed + case, *shape, device=device, scale=random.Random(seed).choice([1, 5]))
    check_forward(student, args)
    check_grads(student, args)


@pytest.mark.points(2)
@pytest.mark.parametrize("case", range(2))
def test_random_dead_units(student, device, seed, case):
    """Random networks with dead hidden units get zero gradient through them"""
    n, d, h, c = random_shape(seed * 5 + case)
    args, _ = with_dead_units(mlp_inputs(seed + case, n, d, max(h, 2), c, device=device))
    check_grads(student, args)


@pytest.mark.points(2)
def test_huge_logits(student, device, seed):
    """Random logits of magnitude up to 1e5 stay finite and match the reference"""
    gen = torch.Generator().manual_seed(seed)
    logits = (torch.randn(20, 7, generator=gen, dtype=F64) * 1e5).to(device)
    y = torch.randint(0, 7, (20,), generator=gen).to(device)
    check_softmax_ce(student, logits, y)


@pytest.mark.points(2)
def test_float32_network(student, device, seed):
    """float32 inputs give float32 gradients within float32 tolerance"""
    check_grads(student, mlp_inputs(seed, 64, 8, 16, 5, dtype=torch.float32, device=device))


def test_inputs_are_not_modified(student, seed):
    """mlp_backward leaves its inputs unchanged"""
    args = mlp_inputs(seed, 6, 3, 5, 4)
    before = [t.clone() for t in args]
    student.mlp_backward(*args)
    for name, b, a in zip(["X", "y", "W1", "b1", "W2", "b2"], before, args):
        hint = "compute new tensors; do not update the inputs in place"
        checks.unchanged(b, student.after(a), name, hint)


@pytest.mark.speed
@pytest.mark.points(3)
@pytest.mark.timeout(60)
def test_speed_close_to_autograd(student):
    """mlp_backward is at most 5x slower than autograd on a batch of 1024"""
    ratios = []
    for attempt in range(3):  # timed on the judge's clock: the worker only runs the calls
        data = {"n": 1024, "d": 32, "h": 64, "c": 10, "seed": attempt}
        t = timing.measure(student.timeout(60), "speed", data)
        ratios.append(t.ratio)
        if t.ratio <= 5.0 or t.reference_s < 1e-5:
            return
        if t.ratio > 50.0:  # far beyond timing noise: no need to try again
            break
    raise Failure(
        f"mlp_backward took {t.student_s * 1e3:.3g} ms per call, autograd "
        f"{t.reference_s * 1e3:.3g} ms: {min(ratios):.1f}x slower (best of {len(ratios)} "
        "tries; the limit is 5x)",
        "a Python loop over the examples is the usual cause: use matrix products over the "
        "whole batch",
    )
