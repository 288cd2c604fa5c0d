"""Inputs and diagnoses for exercise-1 (linear regression by hand), shared by its suites."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from grader.judge import checks
from grader.judge.expectations import ahead, answers
from grader.judge.failures import Failure
from grader.judge.gradcheck import central_difference, one_sided_difference
from grader.protocol import HarnessFn
from grader.worker.scenarios import ex01_linear_regression as harness

ref = answers("ex01_linear_regression")

F64 = torch.float64

# Smooth test functions for numerical_gradient: (the function, as the judge runs it; its
# reference for the worker; the interval the sample points are drawn from).
SMOOTH: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], HarnessFn, float, float]] = {
    name: (getattr(harness, name), HarnessFn(f"ex01_linear_regression:{name}"), lo, hi)
    for name, lo, hi in [
        ("wavy", -1.0, 1.0),
        ("reciprocal", 0.05, 0.2),
        ("sharp_logsumexp", -0.1, 0.1),
    ]
}
FIGURE1_HALF_LOSS = (
    harness.figure1_half_loss,
    HarnessFn("ex01_linear_regression:figure1_half_loss"),
)

# numerical_gradient vs autograd at eps = 1e-6: central differences are ~1e-3 of this
# tolerance away on the SMOOTH functions, one-sided ones 10-70x beyond it.
NUMERIC_RTOL, NUMERIC_ATOL = 1e-6, 1e-7


def regression_data(
    seed: int, n: int, d: int, dtype: torch.dtype = F64, device: str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random (X, y, w, b) with y from a noisy linear rule, so residuals are neither 0 nor huge."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=gen, dtype=F64)
    true_w = torch.randn(d, generator=gen, dtype=F64)
    y = X @ true_w + 0.5 + 0.3 * torch.randn(n, generator=gen, dtype=F64)
    w = torch.randn(d, generator=gen, dtype=F64)
    b = torch.randn((), generator=gen, dtype=F64)
    X, y, w, b = (t.to(device=device, dtype=dtype) for t in (X, y, w, b))
    return X, y, w, b


def sample_point(name: str, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    _, _, lo, hi = SMOOTH[name]
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=gen, dtype=F64) * (hi - lo) + lo


def autograd_gradient(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    leaf = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(f(leaf), leaf)
    return grad


def _matches(k: float, key: float) -> bool:
    return abs(k - key) <= 1e-6 * abs(key)


def factor_hint(explanations: dict[float, str], noun: str = "gradient") -> checks.Hint:
    """A hint for a result that is exactly k times the expected one, for the k we can explain.

    ``explanations`` maps k to a question; several keys that coincide (N = 2 and a missing
    factor 2) are all asked.
    """

    def hint(got: torch.Tensor, expected: torch.Tensor) -> str | None:
        if got.shape != expected.shape:
            return None
        k = checks.exact_factor(got, expected)
        if k is None:
            return None
        texts = [text for key, text in explanations.items() if _matches(k, key)]
        if not texts:
            return None
        if _matches(k, -1.0):
            what = f"every {noun} has the opposite sign"
        elif abs(k) > 1:
            what = f"every {noun} is exactly {k:.6g}x too large"
        else:
            what = f"every {noun} is exactly {1 / k:.6g}x too small"
        return f"{what}: " + "; or ".join(texts)

    return hint


def gradient_hints(n: int) -> checks.Hint:
    """The classic slips in $\\partial L/\\partial w$ and $\\partial L/\\partial b$ of the MSE."""
    table: dict[float, str] = {
        0.5: "the derivative of (y_hat - y)^2 is 2 (y_hat - y): is the factor 2 missing? "
        "(mse_loss is the plain mean, with no 1/2)",
        -1.0: "the residual is y_hat - y (prediction minus target); with y - y_hat every "
        "gradient flips sign",
    }
    if n > 1:
        explain(table, float(n), f"({n} = batch size) did you average the loss over the batch?")
        explain(table, 1.0 / n, f"({n} = batch size) did you divide by N twice?")
    return factor_hint(table)


def explain(table: dict[float, str], factor: float, text: str) -> None:
    """Add an explanation for ``factor``, keeping any other one for the same factor (with
    N = 2, "divided by N twice" and "the factor 2 is missing" are both 1/2)."""
    table[factor] = f"{table[factor]}; or {text}" if factor in table else text


def loss_hints(n: int) -> checks.Hint:
    table: dict[float, str] = {0.5: "mse_loss is the plain mean of squared errors, with no 1/2"}
    if n > 1:
        table[float(n)] = f"({n} = batch size) take the mean over the batch, not the sum"
    return factor_hint(table, noun="loss")


def check_mse_gradients(
    student: Any, X: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The student's (dL/dw, dL/db) equal autograd's, with a diagnosis when they don't."""
    got = student.mse_gradients(X, y, w, b)
    if not isinstance(got, tuple | list) or len(got) != 2:
        raise Failure(
            f"mse_gradients should return a tuple (grad_w, grad_b), got {checks.fmt(got)}"
        )
    grad_w, grad_b = got
    exp_w, exp_b = ref.mse_gradients(X, y, w, b)
    hint = gradient_hints(X.shape[0])
    checks.close(grad_w, exp_w, "dL/dw", hints=[hint])
    checks.expect_tensor(grad_b, "dL/db", ndim=0)
    checks.close(grad_b, exp_b, "dL/db", hints=[hint])
    return grad_w, grad_b


def numerical_hint(
    f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, eps: float
) -> checks.Hint:
    """Recognises a one-sided difference (error proportional to eps) and an ignored eps."""
    ahead(central_difference, f, x, eps)
    for forward in (True, False):
        ahead(one_sided_difference, f, x, eps, forward=forward)
    if eps != 1e-6:
        ahead(central_difference, f, x, 1e-6)

    def hint(got: torch.Tensor, expected: torch.Tensor) -> str | None:
        if got.shape != x.shape:
            return None
        g = got.detach().double()
        central = central_difference(f, x, eps)
        for forward in (True, False):
            one_sided = one_sided_difference(f, x, eps, forward=forward)
            gap = float((one_sided - central).abs().max())
            if gap > 0 and float((g - one_sided).abs().max()) <= 0.01 * gap:
                formula = "(f(x+eps) - f(x)) / eps" if forward else "(f(x) - f(x-eps)) / eps"
                return (
                    f"this is the one-sided difference {formula}, whose error is proportional "
                    f"to eps (here up to {gap:.2g} at eps={eps:g}); the central difference "
                    "(f(x+eps) - f(x-eps)) / (2 eps) has an error proportional to eps^2"
                )
        if eps != 1e-6:
            default = central_difference(f, x, 1e-6)
            gap = float((default - central).abs().max())
            if gap > 0 and float((g - default).abs().max()) <= 0.01 * gap:
                return (
                    f"eps={eps:g} was passed but the result is for eps=1e-6: use the eps argument"
                )
        return None

    return hint


def check_input_unchanged(before: torch.Tensor, after: torch.Tensor) -> None:
    """numerical_gradient left x exactly as it was."""
    if before.shape == after.shape and torch.equal(before, after):
        return
    if before.shape != after.shape:
        raise Failure(
            f"x was modified: its shape changed from {tuple(before.shape)} to {tuple(after.shape)}",
            "perturb a copy of x (x.clone()), never x itself",
        )
    diff = (after.double() - before.double()).abs()
    i = int(diff.flatten().argmax())
    largest = float(diff.flatten()[i])
    where = checks.index_str(i, before.shape)
    message = (
        f"x was modified, but must be left unchanged: x{where} was "
        f"{before.flatten()[i].item():.17g} and is {after.flatten()[i].item():.17g} afterwards "
        f"({int((diff > 0).sum())} of {diff.numel()} entries changed)"
    )
    if largest < 1e-9 * max(1.0, float(before.abs().max())):
        hint = (
            "numerical_gradient modifies its input: adding eps and subtracting it again does "
            "not round-trip exactly in floating point; save the old value and assign it back "
            "(x[i] = old), or perturb a copy (x.clone())"
        )
    else:
        hint = (
            "numerical_gradient modifies its input: x still holds a perturbation; restore every "
            "element after evaluating f, or perturb a copy (x.clone())"
        )
    raise Failure(message, hint)


def check_numerical_gradient(
    student: Any, name: str, x: torch.Tensor, eps: float | None = None, *, check_x: bool = False
) -> torch.Tensor:
    """The student's numerical gradient of SMOOTH[name] at x equals autograd's (or, with an
    explicit eps, the central difference at that eps); with ``check_x``, first that x is
    unchanged afterwards."""
    f, ref_fn, _, _ = SMOOTH[name]
    before = x.clone()
    if eps is None:
        got = student.numerical_gradient(ref_fn, x)
        expected = autograd_gradient(f, before)
        rtol, atol, used_eps = NUMERIC_RTOL, NUMERIC_ATOL, 1e-6
        what = f"numerical gradient of {name} (compared with autograd)"
    else:
        got = student.numerical_gradient(ref_fn, x, eps=eps)
        expected = central_difference(f, before, eps)
        scale = max(1.0, float(expected.abs().max()))
        rtol, atol, used_eps = 1e-9, 1e-12 * scale, eps
        what = f"numerical gradient of {name} at eps={eps:g} (compared with central differences)"
    if check_x:
        check_input_unchanged(before, student.after(x))
    return checks.close(  # got itself, once close() has checked that it is a tensor
        got, expected, what, rtol=rtol, atol=atol, hints=[numerical_hint(f, before, used_eps)]
    )


def losses_hint(expected: list[float]) -> Callable[[list[float]], str]:
    def hint(got: list[float]) -> str:
        if len(got) == len(expected) and len(got) > 1:
            if all(math.isclose(g, e, rel_tol=1e-8) for g, e in zip(got[:-1], expected[1:])):
                return (
                    "record the loss *before* each update: losses[0] is the loss at the "
                    "starting w, b"
                )
            if all(math.isclose(g, 0.5 * e, rel_tol=1e-8) for g, e in zip(got, expected)):
                return "every loss is exactly half: mse_loss is the plain mean, with no 1/2"
        return ""

    return hint


def check_losses(got: Any, expected: list[float], rtol: float = 1e-9, atol: float = 1e-11) -> None:
    if not isinstance(got, list):
        raise Failure(f"the losses should be a list of Python floats, got {checks.fmt(got)}")
    if len(got) != len(expected):
        raise Failure(f"expected {len(expected)} losses (one per step), got {len(got)}")
    for i, value in enumerate(got):
        if isinstance(value, bool) or not isinstance(value, float | int):
            raise Failure(
                f"losses[{i}] is {checks.fmt(value)}, not a Python float",
                "convert each loss with float(loss) or loss.item()",
            )
    for i, (g, e) in enumerate(zip(got, expected)):
        if not math.isclose(g, e, rel_tol=rtol, abs_tol=atol):
            raise Failure(
                f"losses[{i}] (the loss before step {i}): expected {checks.fmt(e)}, "
                f"got {checks.fmt(float(g))}",
                losses_hint(expected)(got),
            )


def check_descent(
    student: Any,
    X: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
    lr: float,
    steps: int,
) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """gradient_descent matches torch.optim.SGD on F.mse_loss and leaves w, b untouched."""
    w0, b0 = w.clone(), b.clone()
    got = student.gradient_descent(X, y, w, b, lr, steps)
    if not isinstance(got, tuple | list) or len(got) != 3:
        raise Failure(f"gradient_descent should return (w, b, losses), got {checks.fmt(got)}")
    new_w, new_b, losses = got
    hint_w = "work on copies: w = w.clone() before updating"
    hint_b = "work on copies: b = b.clone() before updating"
    checks.unchanged(w0, student.after(w), "the caller's w", hint_w)
    checks.unchanged(b0, student.after(b), "the caller's b", hint_b)
    exp_w, exp_b, exp_losses = ref.gradient_descent(X, y, w0, b0, lr, steps)
    check_losses(losses, exp_losses)
    checks.close(new_w, exp_w, f"w after {steps} steps", rtol=1e-9, atol=1e-11)
    checks.expect_tensor(new_b, f"b after {steps} steps", ndim=0)
    checks.close(new_b, exp_b, f"b after {steps} steps", rtol=1e-9, atol=1e-11)
    return new_w, new_b, losses
