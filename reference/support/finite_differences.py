r"""Numerical gradients by finite differences: exercise 1's answer, so never shipped.

- :func:`central_difference` / :func:`central_gradients` -- the numerical gradient of a scalar
  function, $\partial f / \partial x_i \approx (f(x + \epsilon e_i) - f(x - \epsilon e_i)) /
  2\epsilon$, one element at a time, in float64. The error is $O(\epsilon^2)$.
- :func:`one_sided_difference` -- the $O(\epsilon)$ forward or backward difference a student
  might compute instead, kept for diagnoses.

The suites reach them through :mod:`grader.judge.gradcheck`, which exports the same names as
answer functions (live here, replayed in a student release).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

EPS = 1e-6


def _value(out: Any) -> float:
    if isinstance(out, torch.Tensor):
        if out.numel() != 1:
            raise ValueError(f"expected a scalar function, got an output of shape {out.shape}")
        return float(out.detach().double().item())
    return float(out)


def _as_float64(x: torch.Tensor) -> torch.Tensor:
    return x.detach().to(torch.float64).clone().contiguous()


def central_difference(
    f: Callable[[torch.Tensor], Any], x: torch.Tensor, eps: float = EPS
) -> torch.Tensor:
    """$\\nabla f(x)$ by central differences in float64, same shape as ``x``.

    ``f`` takes a tensor like ``x`` and returns a scalar (a 1-element tensor or a number).
    ``x`` itself is never touched: a float64 copy is perturbed, one element at a time, and each
    element is restored to its exact original value.
    """
    work = _as_float64(x)
    flat = work.view(-1)
    grad = torch.empty_like(flat)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + eps
        f_plus = _value(f(work))
        flat[i] = old - eps
        f_minus = _value(f(work))
        flat[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad.view(x.shape)


def one_sided_difference(
    f: Callable[[torch.Tensor], Any], x: torch.Tensor, eps: float = EPS, *, forward: bool = True
) -> torch.Tensor:
    """The forward ($(f(x+\\epsilon e_i) - f(x))/\\epsilon$) or backward difference: the
    $O(\\epsilon)$-accurate estimate a student might compute instead of a central one."""
    work = _as_float64(x)
    flat = work.view(-1)
    f0 = _value(f(work))
    step = eps if forward else -eps
    grad = torch.empty_like(flat)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + step
        grad[i] = (_value(f(work)) - f0) / step
        flat[i] = old
    return grad.view(x.shape)


def central_gradients(
    f: Callable[..., Any], inputs: Sequence[torch.Tensor], eps: float = EPS
) -> list[torch.Tensor]:
    """$\\partial f / \\partial \\text{inputs}[k]$ for every input of a scalar ``f(*inputs)``,
    by central differences in float64 (the other inputs held fixed)."""
    base = [_as_float64(t) for t in inputs]
    grads = []
    for k in range(len(base)):

        def f_k(xk: torch.Tensor, k: int = k) -> Any:
            return f(*base[:k], xk, *base[k + 1 :])

        grads.append(central_difference(f_k, base[k], eps))
    return grads
