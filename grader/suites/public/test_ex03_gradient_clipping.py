"""Exercise 3 - gradient clipping: public tests (these ship to students)."""

import math

import pytest
import torch

from grader.judge import checks
from grader.judge.expectations import answers
from grader.judge.failures import Failure
from grader.suites.support.ex03_gradient_clipping import (
    check_clipped,
    clone,
    make_params,
    total_hint,
)

ref = answers("ex03_gradient_clipping")  # the reference, or its recorded answers in a release

INF = math.inf


def clip_and_compare(student, params, max_norm, norm_type=2.0):
    """Clip copies with the student's code and with torch's; compare norm and gradients."""
    mine, theirs = clone(params), clone(params)
    originals = [None if p.grad is None else p.grad.clone() for p in params]
    got = student.clip_grad_norm(mine, max_norm, norm_type)
    expected = ref.clip_grad_norm(theirs, max_norm, norm_type)
    checks.expect_tensor(got, "the returned total norm", ndim=0)
    present = [o for o in originals if o is not None]
    checks.close(
        got,
        expected,
        "the returned total norm (before clipping)",
        hints=[total_hint(present, max_norm, norm_type)],
    )
    check_clipped(mine, theirs, originals, max_norm, norm_type)
    return got


@pytest.mark.points(2)
def test_worked_example_l2(student, device):
    """Figure 7: grad [3, -4, 0] with max_norm 1 gives total norm 5 and grad [0.6, -0.8, 0]"""
    w = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64, device=device))
    w.grad = torch.tensor([3.0, -4.0, 0.0], dtype=torch.float64, device=device)
    total = clip_and_compare(student, [w], 1.0)
    checks.scalar_close(total, 5.0, "total norm of [3, -4, 0]")


@pytest.mark.points(2)
def test_worked_example_inf_norm(student, device):
    """Figure 7: with norm_type=inf the total norm of [3, -4, 0] is 4 and the grad [0.75, -1, 0]"""
    w = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64, device=device))
    w.grad = torch.tensor([3.0, -4.0, 0.0], dtype=torch.float64, device=device)
    total = clip_and_compare(student, [w], 1.0, INF)
    checks.scalar_close(total, 4.0, "max-abs norm of [3, -4, 0]")


@pytest.mark.points(2)
def test_small_gradients_are_left_untouched(student, device, seed):
    """Clipping leaves gradients whose total norm is below max_norm unchanged"""
    gen = torch.Generator().manual_seed(seed)
    params = make_params([(4, 3), (5,)], scale=0.05, gen=gen, device=device)
    clip_and_compare(student, params, max_norm=10.0)


@pytest.mark.points(2)
def test_large_gradients_are_scaled_to_max_norm(student, device, seed):
    """Clipping scales large gradients by max_norm / (total + 1e-6), keeping their direction"""
    gen = torch.Generator().manual_seed(seed)
    params = make_params([(4, 3), (5,), (2, 2, 2)], scale=3.0, gen=gen, device=device)
    clip_and_compare(student, params, max_norm=1.0)


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, INF], ids=["L1", "L2", "L3", "inf"])
def test_norm_types(student, device, seed, norm_type):
    """The total norm and the clipping follow norm_type"""
    gen = torch.Generator().manual_seed(seed)
    params = make_params([(6,), (3, 3)], scale=2.0, gen=gen, device=device)
    clip_and_compare(student, params, max_norm=0.5, norm_type=norm_type)


def test_total_norm_is_returned_as_0d_tensor(student, device):
    """clip_grad_norm returns the total norm as a 0-d tensor"""
    w = torch.nn.Parameter(torch.zeros(2, 2, dtype=torch.float64, device=device))
    w.grad = torch.ones(2, 2, dtype=torch.float64, device=device)
    got = student.clip_grad_norm([w], 100.0)
    checks.expect_tensor(got, "the returned total norm", ndim=0)
    checks.close(got, torch.tensor(2.0, dtype=torch.float64, device=device), "total norm")


def test_parameters_without_grad_are_skipped(student, device, seed):
    """Parameters whose .grad is None are skipped (and keep .grad None)"""
    gen = torch.Generator().manual_seed(seed)
    params = make_params([(3,), (4,), (2, 2)], scale=4.0, gen=gen, device=device, without_grad=[1])
    clip_and_compare(student, params, max_norm=1.0)


def test_single_tensor_is_accepted(student, device, seed):
    """A single tensor (not in a list) is accepted"""
    gen = torch.Generator().manual_seed(seed)
    (p,) = make_params([(5, 2)], scale=3.0, gen=gen, device=device)
    mine, theirs = clone([p])[0], clone([p])[0]
    got = student.clip_grad_norm(mine, 1.0)
    expected = ref.clip_grad_norm(theirs, 1.0)
    checks.close(got, expected, "the returned total norm")
    assert theirs.grad is not None  # the reference clips the gradient, never drops it
    checks.close(mine.grad, theirs.grad, "the gradient after clipping")


def test_generator_of_parameters_is_accepted(student, seed):
    """A generator of parameters (like model.parameters()) is accepted"""
    gen = torch.Generator().manual_seed(seed)
    params = make_params([(3,), (2, 3)], scale=3.0, gen=gen)
    mine, theirs = clone(params), clone(params)
    got = student.clip_grad_norm((p for p in mine), 1.0)
    expected = ref.clip_grad_norm((p for p in theirs), 1.0)
    checks.close(got, expected, "the returned total norm")
    check_clipped(mine, theirs, [p.grad for p in params], 1.0, 2.0)


def test_empty_list_returns_zero(student):
    """An empty list of parameters returns a total norm of 0"""
    got = student.clip_grad_norm([], 1.0)
    checks.expect_tensor(got, "the returned total norm", ndim=0)
    checks.scalar_close(got, 0.0, "total norm of no gradients")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_dtypes(student, device, seed, dtype):
    """float32 and float64 gradients are clipped in their own dtype"""
    gen = torch.Generator().manual_seed(seed)
    params = make_params([(64, 32), (32,)], scale=1.0, dtype=dtype, gen=gen, device=device)
    clip_and_compare(student, params, max_norm=2.0)


@pytest.mark.points(2)
def test_many_parameters_of_mixed_shapes(student, device, seed):
    """One total norm over many parameters of different shapes"""
    gen = torch.Generator().manual_seed(seed)
    shapes = [(3,), (4, 5), (2, 3, 4), (1,), (7, 1), (2, 2, 2, 2)] * 3
    params = make_params(shapes, scale=1.5, gen=gen, device=device)
    clip_and_compare(student, params, max_norm=1.0)


def test_clip_grad_value_clamps_each_entry(student, device, seed):
    """clip_grad_value clamps every gradient entry into [-clip_value, clip_value]"""
    gen = torch.Generator().manual_seed(seed)
    params = make_params([(4, 4), (6,)], scale=2.0, gen=gen, device=device, without_grad=[])
    mine, theirs = clone(params), clone(params)
    got = student.clip_grad_value(mine, 0.5)
    ref.clip_grad_value(theirs, 0.5)
    if got is not None:
        raise Failure(f"clip_grad_value should return None, got {checks.fmt(got)}")
    for i, (s, r) in enumerate(zip(mine, theirs)):
        assert r.grad is not None  # every parameter has a gradient (without_grad=[])
        checks.close(s.grad, r.grad, f"gradient of parameter {i} after clip_grad_value")


def test_clip_grad_value_single_tensor_and_missing_grad(student, device):
    """clip_grad_value accepts a single tensor and skips .grad None"""
    w = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64, device=device))
    w.grad = torch.tensor([3.0, -4.0, 0.5], dtype=torch.float64, device=device)
    student.clip_grad_value(w, 1.0)
    checks.close(w.grad, torch.tensor([1.0, -1.0, 0.5], dtype=torch.float64, device=device), "grad")
    v = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64, device=device))
    u = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64, device=device))
    u.grad = torch.tensor([5.0, -0.25], dtype=torch.float64, device=device)
    student.clip_grad_value([v, u], 1.0)
    if v.grad is not None:
        raise Failure("a parameter without gradient got one from clip_grad_value")
    checks.close(u.grad, torch.tensor([1.0, -0.25], dtype=torch.float64, device=device), "grad")


@pytest.mark.points(2)
def test_uses_whole_tensor_operations(student, seed):
    """clip_grad_norm's number of tensor operations does not grow with the gradients' size"""
    gen = torch.Generator().manual_seed(seed)
    clip_and_compare(student, make_params([(8,), (8,), (8,)], scale=3.0, gen=gen), 1.0)
    small, large = student.scenario(
        "op_counts", n_params=3, sizes=[8, 512], seed=0, timeout=20, needs=("clip_grad_norm",)
    )
    if large > small:
        raise Failure(
            f"clip_grad_norm made {small} torch calls for 8-element gradients but {large} for "
            "512-element ones: it loops over elements in Python",
            "work on whole tensors (torch.linalg.vector_norm, grad.mul_) instead of a Python "
            "loop over their entries",
        )
