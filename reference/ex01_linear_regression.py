"""Reference for exercise-1: the linear model with autograd and ``F.mse_loss``."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

TITLE = "Gradients by hand: linear regression"
FORBIDDEN = [
    "torch.Tensor.backward",
    "torch.autograd.backward",
    "torch.autograd.grad",
    "torch.autograd.graph._engine_run_backward",
    "torch._C._ImperativeEngine.run_backward",
    "torch.autograd.functional.jacobian",
    "torch.autograd.functional.vjp",
    "torch.autograd.functional.jvp",
    "torch.autograd.forward_ad.make_dual",
    "torch.autograd.forward_ad.unpack_dual",
    "torch._make_dual",
    "torch._unpack_dual",
    "torch.func.grad",
    "torch.func.grad_and_value",
    "torch.func.vjp",
    "torch.func.jacrev",
    "torch.func.jacfwd",
    # torch.ops.aten.<op> reaches every kernel (log_softmax, nll_loss, mse_loss, the
    # *_backward ops) past the names above; nothing in these exercises needs it.
    "torch._ops.OpOverloadPacket.__call__",
    "torch._ops.OpOverload.__call__",
    "torch.nn.functional.mse_loss",
    "torch._C._nn.mse_loss",
    "torch.nn.MSELoss",
]
# The judge's source audit (grader/judge/audit/) reads this literal, like FORBIDDEN, before any
# student code runs. The file may import the course baseline (grader/judge/audit/policy.py, each
# module with its public submodules), plus "imports_add", minus "imports_drop". "extras": what
# else it may not touch, however spelled (".name": any attribute of that name; "a.b": that module
# or API and everything under it). "why" and "instead": what the student reads next to a use of
# FORBIDDEN or "extras".
AUDIT = {
    "extras": [
        ".grad_fn",
        ".next_functions",
        ".register_hook",
        ".register_post_accumulate_grad_hook",
        "torch.autograd",
        "torch.func",
    ],
    "why": (
        "exercise-1 is deriving the gradients by hand: autograd (its graph and hooks "
        "included) and `F.mse_loss` would do it for you"
    ),
    "instead": (
        "write the formulas from the exercise text with tensor operations (`X.T @ r`, "
        "`.sum()`, `.mean()`)"
    ),
}


def predict(X: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.linear(X, w.unsqueeze(0), b.reshape(1)).squeeze(-1)


def mse_loss(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(y_hat, y)


def mse_gradients(
    X: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    w = w.detach().clone().requires_grad_(True)
    b = b.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        loss = mse_loss(predict(X, w, b), y)
        grad_w, grad_b = torch.autograd.grad(loss, (w, b))
    return grad_w, grad_b


def numerical_gradient(
    f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    # Written out: torch has no finite differences, and this module runs in the sandboxed
    # worker (grade verify), which sees none of the judge's helpers.
    work = x.detach().to(torch.float64).clone()
    flat = work.view(-1)
    grad = torch.empty_like(flat)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + eps
        f_plus = float(f(work))
        flat[i] = old - eps
        f_minus = float(f(work))
        flat[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad.view(x.shape).to(x.dtype)


def gradient_descent(
    X: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
    lr: float,
    steps: int,
) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    # Plain SGD written out (torch.optim would import torch._dynamo on first use: slow).
    w = w.detach().clone().requires_grad_(True)
    b = b.detach().clone().requires_grad_(True)
    losses = []
    for _ in range(steps):
        with torch.enable_grad():
            loss = mse_loss(predict(X, w, b), y)
            grad_w, grad_b = torch.autograd.grad(loss, (w, b))
        losses.append(loss.item())
        with torch.no_grad():
            w -= lr * grad_w
            b -= lr * grad_b
    return w.detach(), b.detach(), losses
