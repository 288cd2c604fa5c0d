"""Exercise 1 - linear regression by hand: public tests (these ship to students)."""

import pytest
import torch

from grader.judge import checks
from grader.judge.expectations import answers
from grader.judge.failures import Failure
from grader.judge.gradcheck import check_gradients
from grader.suites.support.ex01_linear_regression import (
    F64,
    FIGURE1_HALF_LOSS,
    check_descent,
    check_losses,
    check_mse_gradients,
    check_numerical_gradient,
    loss_hints,
    regression_data,
    sample_point,
)

ref = answers("ex01_linear_regression")  # the reference, or its recorded answers in a release

SHAPES = [(1, 1), (1, 4), (7, 1), (8, 3), (33, 5)]
SHAPE_IDS = [f"N{n}-D{d}" for n, d in SHAPES]


def figure1(device="cpu") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Course figure 1: one example x = 2, y = 6, from w = 1, b = 0."""
    X = torch.tensor([[2.0]], dtype=F64, device=device)
    y = torch.tensor([6.0], dtype=F64, device=device)
    w = torch.tensor([1.0], dtype=F64, device=device)
    b = torch.tensor(0.0, dtype=F64, device=device)
    return X, y, w, b


def figure2(device="cpu") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Course figure 2: (1, 3), (2, 5), (3, 7) from w = b = 0."""
    X = torch.tensor([[1.0], [2.0], [3.0]], dtype=F64, device=device)
    y = torch.tensor([3.0, 5.0, 7.0], dtype=F64, device=device)
    return (
        X,
        y,
        torch.zeros(1, dtype=F64, device=device),
        torch.tensor(0.0, dtype=F64, device=device),
    )


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_predict(student, device, seed, shape: tuple[int, int]):
    """predict computes X w + b with shape (N,)"""
    X, _, w, b = regression_data(seed, *shape, device=device)
    got = student.predict(X, w, b)
    checks.close(got, ref.predict(X, w, b), "predictions X w + b")


def test_predict_figure1(student, device):
    """Figure 1: w = 1, b = 0 predicts 2 for x = 2"""
    X, _, w, b = figure1(device)
    checks.close(student.predict(X, w, b), torch.tensor([2.0], dtype=F64, device=device), "y_hat")


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_mse_loss(student, device, seed, shape: tuple[int, int]):
    """mse_loss is the mean of squared errors, as a 0-d tensor"""
    X, y, w, b = regression_data(seed, *shape, device=device)
    y_hat = ref.predict(X, w, b)
    got = student.mse_loss(y_hat, y)
    checks.expect_tensor(got, "mse_loss", ndim=0)
    checks.close(got, ref.mse_loss(y_hat, y), "mse_loss", hints=[loss_hints(shape[0])])


def test_mse_loss_figure1(student, device):
    """Figure 1: prediction 2 for target 6 gives mse_loss 16 (the figure's 1/2-loss is 8)"""
    got = student.mse_loss(
        torch.tensor([2.0], dtype=F64, device=device), torch.tensor([6.0], dtype=F64, device=device)
    )
    checks.expect_tensor(got, "mse_loss", ndim=0)
    checks.scalar_close(got, 16.0, "mse_loss of (2 - 6)^2", hint="no 1/2 in mse_loss")


@pytest.mark.points(2)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_mse_gradients_match_autograd(student, device, seed, shape: tuple[int, int]):
    """mse_gradients equals autograd's gradient of mse_loss(predict(X, w, b), y)"""
    X, y, w, b = regression_data(seed, *shape, device=device)
    check_mse_gradients(student, X, y, w, b)


@pytest.mark.points(2)
def test_mse_gradients_figure1(student, device):
    """Figure 1: dL/dw = -16, dL/db = -8 (twice the figure's -8, -4: mse_loss has no 1/2)"""
    X, y, w, b = figure1(device)
    grad_w, grad_b = check_mse_gradients(student, X, y, w, b)
    checks.scalar_close(0.5 * grad_w, -8.0, "half of dL/dw (the figure's -8)")
    checks.scalar_close(0.5 * grad_b, -4.0, "half of dL/db (the figure's -4)")


def test_mse_gradients_agree_with_finite_differences(student, seed):
    """mse_gradients agrees with central differences of the loss"""
    X, y, w, b = regression_data(seed, 6, 3)
    got = student.mse_gradients(X, y, w, b)
    if not isinstance(got, tuple | list) or len(got) != 2:
        raise Failure(f"mse_gradients should return (grad_w, grad_b), got {checks.fmt(got)}")
    loss = lambda w_, b_: ref.mse_loss(ref.predict(X, w_, b_), y)  # noqa: E731
    check_gradients(got, loss, [w, b], ["dL/dw", "dL/db"])


@pytest.mark.points(2)
@pytest.mark.parametrize("name", ["wavy", "reciprocal", "sharp_logsumexp"])
def test_numerical_gradient_matches_autograd(student, seed, name):
    """numerical_gradient matches autograd on curved functions (a one-sided difference does not)"""
    x = sample_point(name, (7,), seed)
    check_numerical_gradient(student, name, x)


@pytest.mark.points(2)
def test_numerical_gradient_figure4(student):
    """Figure 4: central differences of the figure-1 loss give (-8, -4) to within 1e-8"""
    f, ref_fn = FIGURE1_HALF_LOSS
    p = torch.tensor([1.0, 0.0], dtype=F64)
    got = student.numerical_gradient(ref_fn, p)
    checks.close(
        got, torch.tensor([-8.0, -4.0], dtype=F64), "numerical gradient", rtol=0, atol=1e-8
    )


def test_numerical_gradient_uses_eps(student, seed):
    """numerical_gradient uses the eps it is given: (f(x+eps) - f(x-eps)) / (2 eps)"""
    check_numerical_gradient(student, "wavy", sample_point("wavy", (5,), seed), eps=1e-3)


@pytest.mark.points(2)
def test_numerical_gradient_leaves_x_unchanged(student, seed):
    """numerical_gradient leaves x exactly as it was"""
    x = sample_point("wavy", (4, 3), seed)
    check_numerical_gradient(student, "wavy", x, check_x=True)


@pytest.mark.parametrize("shape", [(2, 3), (2, 2, 2), ()], ids=["2x3", "2x2x2", "0-d"])
def test_numerical_gradient_any_shape(student, seed, shape):
    """numerical_gradient works for x of any shape and returns that shape"""
    name = "wavy"
    x = sample_point(name, shape, seed)
    check_numerical_gradient(student, name, x)


@pytest.mark.points(2)
def test_gradient_descent_figure1(student):
    """Figure 1: five steps at lr 0.05 give losses 16, 4, 1, 0.25, 0.0625 and w = 2.55"""
    w, b, losses = check_descent(student, *figure1(), lr=0.05, steps=5)
    check_losses(losses, [16.0, 4.0, 1.0, 0.25, 0.0625])
    checks.scalar_close(w, 2.55, "w after 5 steps")
    checks.scalar_close(b, 0.775, "b after 5 steps")


@pytest.mark.points(2)
def test_gradient_descent_figure2(student):
    """Figure 2: loss 27.667 -> w 0.907, b 0.400 -> w 1.411, b 0.623 ... -> w 2.037, b 0.917"""
    w, b, losses = check_descent(student, *figure2(), lr=0.04, steps=1)
    checks.scalar_close(losses[0], 27.6667, "loss before step 0", rtol=0, atol=5e-5)
    checks.scalar_close(w, 0.907, "w after step 0", rtol=0, atol=5e-4)
    checks.scalar_close(b, 0.400, "b after step 0", rtol=0, atol=5e-4)
    w, b, losses = check_descent(student, *figure2(), lr=0.04, steps=2)
    checks.scalar_close(losses[1], 8.5624, "loss before step 1", rtol=0, atol=5e-5)
    checks.scalar_close(w, 1.411, "w after step 1", rtol=0, atol=5e-4)
    checks.scalar_close(b, 0.623, "b after step 1", rtol=0, atol=5e-4)
    w, b, losses = check_descent(student, *figure2(), lr=0.04, steps=20)
    checks.scalar_close(losses[19], 0.0010, "loss before step 19", rtol=0, atol=5e-5)
    checks.scalar_close(w, 2.037, "w after 20 steps", rtol=0, atol=5e-4)
    checks.scalar_close(b, 0.917, "b after 20 steps", rtol=0, atol=5e-4)


def test_gradient_descent_learning_rates(student):
    """Figure 1's learning rates: too small crawls, too large diverges (16, 36, 81, ...)"""
    _, _, slow = check_descent(student, *figure1(), lr=0.005, steps=5)
    check_losses(slow, [16.0, 14.44, 13.0321, 11.76147025, 10.614726900625], rtol=1e-9)
    _, _, wild = check_descent(student, *figure1(), lr=0.25, steps=5)
    check_losses(wild, [16.0, 36.0, 81.0, 182.25, 410.0625], rtol=1e-9)


def test_gradient_descent_leaves_inputs_unchanged(student, seed):
    """gradient_descent returns new w, b and leaves the caller's tensors alone"""
    check_descent(student, *regression_data(seed, 10, 3), lr=0.1, steps=3)
