"""Correct exercise-1 in an unusual style: torch.addmv and torch.dot, a NumPy view of the
perturbed copy, a dataclass for the trajectory, itertools.accumulate-free loops, reading (never
computing) `.grad`, and `x.requires_grad` checks. The audit must find nothing here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

Tensor = torch.Tensor


@dataclass
class Trajectory:
    w: Tensor
    b: Tensor
    losses: list[float] = field(default_factory=list)


def predict(X: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return torch.addmv(b.expand(X.shape[0]), X, w)


def mse_loss(y_hat: Tensor, y: Tensor) -> Tensor:
    r = y_hat - y
    return torch.dot(r, r) / r.numel()


def mse_gradients(X: Tensor, y: Tensor, w: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    r = predict(X, w, b) - y
    scale = 2.0 / X.shape[0]
    return scale * torch.mv(X.T, r), scale * r.sum()


def numerical_gradient(f: Callable[[Tensor], Tensor], x: Tensor, eps: float = 1e-6) -> Tensor:
    if x.requires_grad and x.grad is not None:
        pass  # a gradient someone else computed is left alone
    work = x.detach().clone().contiguous()
    view = work.numpy() if work.dtype in (torch.float32, torch.float64) else None
    grad = torch.empty_like(work)
    flat, out = work.view(-1), grad.view(-1)
    for i in range(flat.numel()):
        old = float(flat[i])
        flat[i] = old + eps
        plus = float(f(work))
        flat[i] = old - eps
        minus = float(f(work))
        flat[i] = old
        out[i] = (plus - minus) / (2 * eps)
    if view is not None:
        assert np.shares_memory(view, work.numpy())
    return grad


def gradient_descent(
    X: Tensor, y: Tensor, w: Tensor, b: Tensor, lr: float, steps: int
) -> tuple[Tensor, Tensor, list[float]]:
    run = Trajectory(w.detach().clone(), b.detach().clone())
    for _ in range(steps):
        run.losses.append(mse_loss(predict(X, run.w, run.b), y).item())
        gw, gb = mse_gradients(X, y, run.w, run.b)
        run.w, run.b = run.w - lr * gw, run.b - lr * gb
    return run.w, run.b, run.losses
