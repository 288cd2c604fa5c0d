"""The finite-difference toolkit (grader/judge/gradcheck.py): accurate where it must be, and
sharp enough to fail the mistakes it exists to catch."""

from __future__ import annotations

import pytest
import torch

from grader.judge import gradcheck as gc
from grader.judge.failures import Failure
from reference import ex02_mlp_backward as ref2

F64 = torch.float64


def curved(x: torch.Tensor) -> torch.Tensor:
    return (torch.sin(20.0 * x) / 20.0 + x**3).sum()


def autograd_of(f, x: torch.Tensor) -> torch.Tensor:
    leaf = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(leaf), leaf)
    return g


@pytest.mark.parametrize("shape", [(), (5,), (2, 3), (2, 1, 3)])
def test_central_difference_matches_autograd_for_any_shape(shape):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0), dtype=F64) * 2 - 1
    got = gc.central_difference(curved, x)
    assert got.shape == x.shape and got.dtype == F64
    torch.testing.assert_close(got, autograd_of(curved, x), rtol=gc.RTOL, atol=gc.ATOL)


def test_central_difference_leaves_x_unchanged_and_works_on_float32():
    x = torch.rand(7, generator=torch.Generator().manual_seed(1), dtype=torch.float32)
    before = x.clone()
    got = gc.central_difference(curved, x)
    assert torch.equal(x, before)
    assert got.dtype == F64  # computed on a float64 copy
    torch.testing.assert_close(got, autograd_of(curved, x.double()), rtol=1e-6, atol=1e-8)


def test_one_sided_error_is_proportional_to_eps_central_to_eps_squared():
    x = torch.tensor([0.3, -0.7, 0.55], dtype=F64)
    exact = autograd_of(curved, x)
    err = {
        eps: (
            float((gc.one_sided_difference(curved, x, eps) - exact).abs().max()),
            float((gc.central_difference(curved, x, eps) - exact).abs().max()),
        )
        for eps in (1e-3, 1e-4)
    }
    one_sided_ratio = err[1e-3][0] / err[1e-4][0]
    central_ratio = err[1e-3][1] / err[1e-4][1]
    assert 8 < one_sided_ratio < 12  # O(eps): 10x smaller step, 10x smaller error
    assert 80 < central_ratio < 120  # O(eps^2)
    # at the default eps a one-sided difference fails the tolerances a central one meets
    one_sided = gc.one_sided_difference(curved, x)
    assert not torch.allclose(one_sided, exact, rtol=gc.RTOL, atol=gc.ATOL)


def test_away_from_kinks_moves_only_points_near_a_kink():
    x = torch.tensor([0.0, 1e-7, -1e-7, -0.5, 2e-3, 1.0], dtype=F64)
    moved = gc.away_from_kinks(x, margin=1e-3)
    expected = torch.tensor([1e-3, 1e-3, -1e-3, -0.5, 2e-3, 1.0], dtype=F64)
    assert torch.equal(moved, expected)
    assert gc.min_distance_to_kinks(moved) >= 1e-3
    assert gc.min_distance_to_kinks(x) == 0.0


def test_check_gradients_accepts_right_and_rejects_wrong_gradients():
    gen = torch.Generator().manual_seed(3)
    X, y = torch.randn(5, 3, generator=gen, dtype=F64), torch.tensor([0, 1, 2, 1, 0])
    params = [
        torch.randn(3, 4, generator=gen, dtype=F64),
        torch.randn(4, generator=gen, dtype=F64),
        torch.randn(4, 3, generator=gen, dtype=F64),
        torch.randn(3, generator=gen, dtype=F64),
    ]
    z1 = X @ params[0] + params[1]
    assert gc.min_distance_to_kinks(z1) > 1e-3  # differentiable at this point
    right = list(ref2.mlp_backward(X, y, *params).values())

    def loss(*p):
        return ref2.mlp_loss(X, y, *p)

    names = ["W1", "b1", "W2", "b2"]
    gc.check_gradients(right, loss, params, names)
    for k in range(4):
        off = [g.clone() for g in right]
        off[k] = off[k] * (1 + 1e-4)  # a 1e-4 relative error: the default gradcheck misses it
        with pytest.raises(Failure, match=names[k]):
            gc.check_gradients(off, loss, params, names)


class _Linear(torch.autograd.Function):
    """x @ w + b with a hand-written backward, optionally with a classic bug."""

    bug = ""

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        return x @ w + b

    @staticmethod
    def backward(ctx, grad_out):
        x, w = ctx.saved_tensors
        grad_w = x.T @ grad_out
        grad_b = grad_out.mean(0) if _Linear.bug == "bias_mean" else grad_out.sum(0)
        if _Linear.bug == "scaled":
            grad_w = grad_w * (1 + 1e-4)
        return grad_out @ w.T, grad_w, grad_b


@pytest.mark.parametrize("bug", ["", "bias_mean", "scaled"])
def test_slow_mode_gradcheck_with_tight_tolerances(bug, monkeypatch):
    monkeypatch.setattr(_Linear, "bug", bug)
    gen = torch.Generator().manual_seed(4)
    inputs = [
        torch.randn(4, 3, generator=gen, dtype=F64, requires_grad=True),
        torch.randn(3, 2, generator=gen, dtype=F64, requires_grad=True),
        torch.randn(2, generator=gen, dtype=F64, requires_grad=True),
    ]
    if not bug:
        gc.gradcheck(_Linear.apply, inputs)
        return
    with pytest.raises(Failure, match="disagrees with finite differences"):
        gc.gradcheck(_Linear.apply, inputs, what="Linear backward")
    if bug == "scaled":  # what torch's default tolerances let through
        assert torch.autograd.gradcheck(_Linear.apply, inputs, fast_mode=False)


def test_gradcheck_refuses_float32():
    x = torch.randn(3, requires_grad=True)
    with pytest.raises(ValueError, match="float64"):
        gc.gradcheck(torch.sin, [x])
