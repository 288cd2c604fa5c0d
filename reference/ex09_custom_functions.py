"""Reference for exercise-9: the four Functions on PyTorch's own ops and autograd.

``forward`` calls the built-ins (``F.linear``, ``F.silu``, ``F.layer_norm``, ``torch.round``);
``backward`` recomputes the built-in's graph and differentiates it with ``torch.autograd.grad``
-- exactly what a student may not do, which is why it is the reference. The suites compare the
student's results with these (in float64, where they agree with autograd of the built-ins to
about 1e-15).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

TITLE = "Custom autograd functions"
FORBIDDEN = [
    # the built-ins the Functions re-implement (in forward)
    "torch.nn.functional.linear",
    "torch.nn.functional.silu",
    "torch.nn.functional.layer_norm",
    "torch.layer_norm",
    "torch.native_layer_norm",
    # autograd (inside backward)
    "torch.autograd.grad",
    "torch.autograd.backward",
    "torch.Tensor.backward",
    "torch.autograd.functional.vjp",
    "torch.autograd.functional.jacobian",
    "torch.func.vjp",
    "torch.func.grad",
    "torch.func.jacrev",
    "torch.autograd.Variable._execution_engine.run_backward",
]
# The judge's source audit (grader/judge/audit/) reads this literal, like FORBIDDEN, before any
# student code runs. The file may import the course baseline (grader/judge/audit/policy.py, each
# module with its public submodules), plus "imports_add", minus "imports_drop". "extras": what
# else it may not touch, however spelled (".name": any attribute of that name; "a.b": that module
# or API and everything under it). "why" and "instead": what the student reads next to a use of
# FORBIDDEN or "extras".
AUDIT = {
    # the modules that call the forbidden functions, and the other normalizations that give
    # layer norm's result on a reshaped input (group norm with one group, batch/instance norm)
    "extras": [
        "torch.nn.Linear",
        "torch.nn.SiLU",
        "torch.nn.LayerNorm",
        "torch.nn.GroupNorm",
        "torch.nn.functional.group_norm",
        "torch.nn.functional.batch_norm",
        "torch.nn.functional.instance_norm",
        "torch.group_norm",
        "torch.batch_norm",
        "torch.instance_norm",
        "torch.native_batch_norm",
    ],
    "why": "exercise-9 is writing forward and backward by hand",
    "instead": (
        "use tensor operations (`@`, `torch.sigmoid`, `mean`, `sum`) in forward and return "
        "the gradients you derive from `backward`"
    ),
}


def _vjp(fn: Callable[..., Tensor], inputs: tuple[Tensor, ...], grad_output: Tensor) -> Any:
    with torch.enable_grad():
        leaves = [t.detach().requires_grad_(True) for t in inputs]
        out = fn(*leaves)
        return torch.autograd.grad(out, leaves, grad_output)


class LinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        ctx.save_for_backward(x, weight, bias)
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Any:
        return _vjp(F.linear, ctx.saved_tensors, grad_output)


class SiLUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return F.silu(x)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Any:
        return _vjp(F.silu, ctx.saved_tensors, grad_output)[0]


class LayerNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
        ctx.save_for_backward(x, weight, bias)
        ctx.eps = eps
        return F.layer_norm(x, weight.shape, weight, bias, eps)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Any:
        def fn(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
            return F.layer_norm(x, w.shape, w, b, ctx.eps)

        return (*_vjp(fn, ctx.saved_tensors, grad_output), None)


class StraightThroughRound(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return torch.round(x)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:
        return grad_output.clone()
