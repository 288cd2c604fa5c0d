"""Inputs and diagnoses for exercise-3 (gradient clipping), shared by its suites."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from grader.judge import checks
from grader.judge.failures import Failure

EPS = 1e-6


def make_params(
    shapes: Sequence[tuple[int, ...]],
    *,
    scale: float = 1.0,
    dtype: torch.dtype = torch.float64,
    device: str = "cpu",
    gen: torch.Generator | None = None,
    without_grad: Sequence[int] = (),
) -> list[torch.nn.Parameter]:
    """Parameters with random gradients of roughly ``scale`` per element."""
    params = []
    for i, shape in enumerate(shapes):
        p = torch.nn.Parameter(torch.randn(shape, generator=gen, dtype=dtype).to(device))
        if i not in without_grad:
            p.grad = (torch.randn(shape, generator=gen, dtype=dtype) * scale).to(device)
        params.append(p)
    return params


def clone(params: Sequence[torch.Tensor]) -> list[torch.nn.Parameter]:
    out = []
    for p in params:
        q = torch.nn.Parameter(p.detach().clone())
        q.grad = None if p.grad is None else p.grad.detach().clone()
        out.append(q)
    return out


def total_norm(grads: Sequence[torch.Tensor], norm_type: float) -> float:
    flat = torch.cat([g.detach().double().flatten().cpu() for g in grads])
    return float(torch.linalg.vector_norm(flat, float(norm_type)))


def _near(a: float, b: float) -> bool:
    return math.isfinite(a) and math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-9)


def total_hint(grads: Sequence[torch.Tensor], max_norm: float, norm_type: float) -> checks.Hint:
    """Why a returned total norm is wrong, judged from the original gradients."""

    def hint(got: torch.Tensor, expected: torch.Tensor) -> str | None:
        g, e = float(got), float(expected)
        if norm_type == 2 and _near(g, e * e):
            return "you returned the sum of squares: take its square root (torch.sqrt)"
        if e > max_norm and _near(g, max_norm * e / (e + EPS)):
            return "you returned the norm after clipping; return the total norm from before"
        if float(norm_type) != 2.0 and _near(g, total_norm(grads, 2.0)):
            return f"that is the L2 norm, but norm_type={norm_type:g} was asked for"
        if any(_near(g, total_norm([x], norm_type)) for x in grads) and len(grads) > 1:
            return "that is the norm of a single tensor; the total norm covers all gradients"
        return None

    return hint


def grads_hint(
    originals: Sequence[torch.Tensor],
    got: Sequence[torch.Tensor],
    max_norm: float,
    norm_type: float,
) -> str:
    """Which classic clipping mistake (if any) explains all of the student's gradients."""
    total = total_norm(originals, norm_type)

    def fits(scales: Sequence[float]) -> bool:
        return all(
            torch.allclose(gg.double().cpu(), o.double().cpu() * s, rtol=1e-7, atol=1e-12)
            for gg, o, s in zip(got, originals, scales)
        )

    n = len(originals)
    if total < max_norm and fits([max_norm / (total + EPS)] * n):
        return (
            "small gradients were scaled up: when the total norm is already below max_norm "
            "the scale is min(1, ...) = 1 and the gradients stay as they are"
        )
    if n > 1 and fits([min(1.0, max_norm / (total_norm([o], norm_type) + EPS)) for o in originals]):
        return "each tensor was clipped by its own norm; use one total norm over all gradients"
    if total > max_norm and fits([max_norm / total] * n):
        return "scale by max_norm / (total_norm + 1e-6), as PyTorch does (the 1e-6 is missing)"
    l2 = total_norm(originals, 2.0)
    if float(norm_type) != 2.0 and fits([min(1.0, max_norm / (l2 + EPS))] * n):
        return f"the gradients were clipped by their L2 norm, but norm_type={norm_type:g}"
    return ""


def check_clipped(
    student_params: Sequence[torch.Tensor],
    ref_params: Sequence[torch.Tensor],
    originals: Sequence[torch.Tensor | None],
    max_norm: float,
    norm_type: float,
) -> None:
    """Every gradient equals the reference's, with a diagnosis when they don't."""
    present = [o for o in originals if o is not None]
    got = [p.grad for p in student_params if p.grad is not None]
    for i, (s, r) in enumerate(zip(student_params, ref_params)):
        if r.grad is None:
            if s.grad is not None:
                raise Failure(
                    f"parameter {i} had no gradient (.grad is None) but got one",
                    "skip parameters whose .grad is None",
                )
            continue
        if s.grad is None:
            raise Failure(f"parameter {i}: its gradient was removed (.grad is None afterwards)")
        try:
            checks.close(s.grad, r.grad, f"gradient of parameter {i} after clipping")
        except Failure as failure:
            if len(got) == len(present):  # a clipping-specific diagnosis beats a generic one
                failure.hint = grads_hint(present, got, max_norm, norm_type) or failure.hint
            raise
