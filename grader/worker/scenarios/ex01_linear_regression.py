"""Worker-side harness for exercise-1: the trusted functions ``numerical_gradient`` is given.

The judge passes them as ``HarnessFn("ex01_linear_regression:<name>")`` and differentiates the
same functions itself (with autograd and with central differences) to know the answer. They
are smooth where the suites sample them and curved enough (large second derivatives) that a
one-sided difference is visibly less accurate than a central one, even at ``eps = 1e-6``.
"""

from __future__ import annotations

import torch


def figure1_half_loss(p: torch.Tensor) -> torch.Tensor:
    """Course figure 1/4: $\\tfrac12(w x + b - y)^2$ at $x = 2$, $y = 6$, with $p = (w, b)$."""
    return 0.5 * (p[0] * 2.0 + p[1] - 6.0) ** 2


def wavy(x: torch.Tensor) -> torch.Tensor:
    """$\\sum_i \\sin(20 x_i)/20 + x_i^2/2$: any shape; $f'' = -20 \\sin(20x) + 1$."""
    return (torch.sin(20.0 * x) / 20.0 + 0.5 * x * x).sum()


def reciprocal(x: torch.Tensor) -> torch.Tensor:
    """$\\sum_i 1/x_i$, sampled on $[0.05, 0.2]$ where $f''/f' = -2/x$ is large."""
    return (1.0 / x).sum()


def sharp_logsumexp(x: torch.Tensor) -> torch.Tensor:
    """$\\tfrac1{40}\\log\\sum_i e^{40 x_i} + x_0 x_{-1}$: couples the entries."""
    flat = x.reshape(-1)
    return torch.logsumexp(40.0 * flat, dim=0) / 40.0 + flat[0] * flat[-1]
