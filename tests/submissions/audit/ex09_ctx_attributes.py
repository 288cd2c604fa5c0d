"""Correct exercise-9 in an unusual style: values kept as ctx attributes, ctx.needs_input_grad,
torch.where and einsum in the backward passes, a shared helper, type(ctx).__name__ in an error
message. The audit must find nothing here."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def _sum_leading(t: Tensor) -> Tensor:
    return t.reshape(-1, t.shape[-1]).sum(dim=0)


class LinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        ctx.save_for_backward(x, weight)
        return torch.einsum("ni,oi->no", x, weight) + bias

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        dx = grad_output @ weight if ctx.needs_input_grad[0] else None
        dw = torch.einsum("no,ni->oi", grad_output, x) if ctx.needs_input_grad[1] else None
        db = grad_output.sum(0) if ctx.needs_input_grad[2] else None
        return dx, dw, db


class SiLUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        s = torch.sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:
        x, s = ctx.saved_tensors
        return grad_output * torch.where(torch.isfinite(x), s * (1 + x * (1 - s)), s)


class LayerNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
        if x.shape[-1] != weight.shape[0]:
            raise ValueError(f"{type(ctx).__name__}: weight does not match the last dimension")
        centered = x - x.mean(dim=-1, keepdim=True)
        rstd = torch.rsqrt((centered * centered).mean(dim=-1, keepdim=True) + eps)
        x_hat = centered * rstd
        ctx.save_for_backward(x_hat, rstd, weight)
        ctx.eps = eps
        return torch.addcmul(bias, x_hat, weight)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, Tensor, Tensor, None]:
        x_hat, rstd, weight = ctx.saved_tensors
        g = grad_output * weight
        mean_g = g.mean(dim=-1, keepdim=True)
        mean_gx = (g * x_hat).mean(dim=-1, keepdim=True)
        dx = rstd * (g - mean_g - x_hat * mean_gx)
        return dx, _sum_leading(grad_output * x_hat), _sum_leading(grad_output), None


class StraightThroughRound(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return x.round()

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:
        return grad_output.clone()
