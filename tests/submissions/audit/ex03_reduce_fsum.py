"""Correct exercise-3 in an unusual style: a type alias, functools.reduce and math.fsum over
per-tensor norms, @torch.no_grad() as a decorator, a literal getattr, a private helper, and a
plain class that wraps the parameters. The audit must find nothing here."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import torch
from torch import Tensor

Params = Tensor | Iterable[Tensor]
EPS = 1e-6


class _Grads:
    """The gradients of some parameters (those that have one), as a list."""

    def __init__(self, parameters: Params) -> None:
        if isinstance(parameters, Tensor):
            parameters = [parameters]
        self._grads = [p.grad for p in parameters if getattr(p, "grad") is not None]

    def __iter__(self):  # noqa: ANN204
        return iter(self._grads)

    def __len__(self) -> int:
        return len(self._grads)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)}) / {self.__class__.__qualname__}"


def _norm(grads: _Grads, p: float) -> float:
    norms = [torch.linalg.vector_norm(g.double(), p).item() for g in grads]
    if math.isinf(p):
        return functools.reduce(max, norms, 0.0)
    return math.fsum(n**p for n in norms) ** (1.0 / p)


@torch.no_grad()
def clip_grad_norm(parameters: Params, max_norm: float, norm_type: float = 2.0) -> Tensor:
    grads = _Grads(parameters)
    if not len(grads):
        return torch.tensor(0.0)
    first = next(iter(grads))
    total = torch.tensor(_norm(grads, float(norm_type)), dtype=first.dtype)
    scale = min(1.0, max_norm / (total.item() + EPS))
    for g in grads:
        g.mul_(scale)
    return total


@torch.no_grad()
def clip_grad_value(parameters: Params, clip_value: float) -> None:
    for g in _Grads(parameters):
        torch.clamp(g, -clip_value, clip_value, out=g)
