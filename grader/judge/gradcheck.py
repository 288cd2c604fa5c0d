"""Finite-difference checks of gradients, for suites that grade hand-written backward passes.

Two tools, both in float64 and with the tight tolerances of
``notes/torch-reference-semantics.md`` §6-7 (eps 1e-6, rtol 1e-6, atol 1e-8):

- :func:`check_gradients` compares a student's gradients (data from the worker) with the
  numerical gradient of a scalar function, by central differences:
  $\\partial f / \\partial x_i \\approx (f(x + \\epsilon e_i) - f(x - \\epsilon e_i)) /
  2\\epsilon$. :data:`central_difference`, :data:`central_gradients` and
  :data:`one_sided_difference` (the $O(\\epsilon)$ estimate, kept for diagnoses) are exercise 1's
  answer, so their bodies live in ``reference/support/finite_differences.py``; here they are
  answer functions (:mod:`grader.judge.expectations`): run there in the instructor's
  checkout, replayed from recordings in a student release.
- :func:`gradcheck` -- ``torch.autograd.gradcheck`` in slow mode (never ``fast_mode``, which
  can hide a wrong gradient), reporting a :class:`~grader.judge.failures.Failure`.

Both are only meaningful where the function is differentiable: :func:`away_from_kinks` moves
sample points away from kinks such as ReLU's at 0 (at and within ``eps`` of a kink the two
one-sided slopes differ and a central difference lands between them).

Everything here runs in the judge on trusted functions (references, harness functions); it
never calls student code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch.autograd.gradcheck import GradcheckError

from grader.judge import checks
from grader.judge.expectations import answers
from grader.judge.failures import Failure

EPS = 1e-6
RTOL = 1e-6
ATOL = 1e-8


_numerics = answers("support.finite_differences")
central_difference = _numerics.central_difference  # (f, x, eps=EPS) -> gradient like x
one_sided_difference = _numerics.one_sided_difference  # (f, x, eps=EPS, *, forward=True)
central_gradients = _numerics.central_gradients  # (f, inputs, eps=EPS) -> [gradient per input]


def away_from_kinks(
    x: torch.Tensor, kinks: Iterable[float] = (0.0,), margin: float = 1e-3
) -> torch.Tensor:
    """A copy of ``x`` with every entry within ``margin`` of a kink moved to ``kink ± margin``
    (keeping its side; an entry exactly at the kink goes to ``kink + margin``)."""
    out = x.detach().clone()
    for k in kinks:
        near = (out - k).abs() < margin
        side = torch.where(out >= k, 1.0, -1.0).to(out.dtype)
        out = torch.where(near, k + side * margin, out)
    return out


def min_distance_to_kinks(x: torch.Tensor, kinks: Iterable[float] = (0.0,)) -> float:
    """How close ``x`` comes to any kink (inf for an empty tensor)."""
    if x.numel() == 0:
        return float("inf")
    return min(float((x.detach().double() - k).abs().min()) for k in kinks)


def check_gradients(
    got: Sequence[Any],
    f: Callable[..., Any],
    inputs: Sequence[torch.Tensor],
    names: Sequence[str],
    *,
    eps: float = EPS,
    rtol: float = RTOL,
    atol: float = ATOL,
    what: str = "gradient",
    factor_hints: Sequence[dict[float, str] | None] | None = None,
) -> list[torch.Tensor]:
    """Each ``got[k]`` equals $\\partial f / \\partial \\text{inputs}[k]$ by central differences.

    ``got`` is data that came back from the worker. The comparison is in float64 with the
    tolerances for central differences; the numerical gradients are returned.
    """
    numerical: list[torch.Tensor] = central_gradients(f, inputs, eps)  # an answer: untyped
    hints = list(factor_hints or [None] * len(numerical))
    for g, n, name, fh in zip(got, numerical, names, hints):
        checks.expect_tensor(g, f"{what} {name}")
        checks.close(
            g.detach().to("cpu", torch.float64) if isinstance(g, torch.Tensor) else g,
            n,
            f"{what} {name} (compared with central differences of the loss)",
            rtol=rtol,
            atol=atol,
            check_dtype=False,
            factor_hints=fh,
        )
    return numerical


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    *,
    what: str = "the backward pass",
    eps: float = EPS,
    atol: float = ATOL,
    rtol: float = RTOL,
    nondet_tol: float = 0.0,
) -> None:
    """``torch.autograd.gradcheck`` in slow mode with tight tolerances; a Failure if it fails.

    Every floating-point tensor in ``inputs`` that requires grad must be float64 (in float32
    a correct gradient fails these tolerances). Use ``nondet_tol=1e-12`` on CUDA (atomics).
    """
    for t in inputs:
        if isinstance(t, torch.Tensor) and t.requires_grad and t.dtype != torch.float64:
            raise ValueError(f"gradcheck needs float64 inputs, got {t.dtype}")
    try:
        torch.autograd.gradcheck(
            fn,
            tuple(inputs),
            eps=eps,
            atol=atol,
            rtol=rtol,
            nondet_tol=nondet_tol,
            raise_exception=True,
            fast_mode=False,
        )
    except GradcheckError as exc:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else "gradcheck failed"
        raise Failure(
            f"{what}: the analytical gradient disagrees with finite differences ({first})",
            "compare your backward formula with the derivative of the forward, term by term",
        ) from None
