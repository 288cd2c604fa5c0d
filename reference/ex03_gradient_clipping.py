"""Reference for exercise-3: PyTorch's own ``clip_grad_norm_`` and ``clip_grad_value_``."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

TITLE = "Gradient clipping"
FORBIDDEN = [
    "torch.nn.utils.clip_grad_norm_",
    "torch.nn.utils.clip_grad_value_",
    "torch.nn.utils.get_total_norm",
    "torch.nn.utils.clip_grads_with_norm_",
    "torch.nn.utils.clip_grad.clip_grad_norm",
    "torch.nn.utils.clip_grad._get_total_norm",
    "torch.nn.utils.clip_grad._clip_grads_with_norm_",
]
# The judge's source audit (grader/judge/audit/) reads this literal, like FORBIDDEN, before any
# student code runs. The file may import the course baseline (grader/judge/audit/policy.py, each
# module with its public submodules), plus "imports_add", minus "imports_drop". "extras": what
# else it may not touch, however spelled (".name": any attribute of that name; "a.b": that module
# or API and everything under it). "why" and "instead": what the student reads next to a use of
# FORBIDDEN or "extras".
AUDIT = {
    "extras": [],
    "why": "exercise-3 is writing gradient clipping yourself",
    "instead": (
        "compute the norm with `torch.linalg.vector_norm` and scale the gradients with "
        "`Tensor.mul_`"
    ),
}
# Both functions change the gradients they are given: that change is the answer.
IN_PLACE = ["clip_grad_norm", "clip_grad_value"]


def clip_grad_norm(
    parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0
) -> Tensor:
    return torch.nn.utils.clip_grad_norm_(parameters, max_norm, norm_type=norm_type)


def clip_grad_value(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    # torch 2.13's clip_grad_value_ fails an internal check ("Expected
    # !nested_tensorlist[0].empty()") when no parameter has a gradient. It documents only that
    # .grad None is skipped, so with nothing left there is nothing to clip: the answer is "no
    # change", as for clip_grad_norm_, never a crash that costs a correct student a point.
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    if any(p.grad is not None for p in params):
        torch.nn.utils.clip_grad_value_(params, clip_value)
