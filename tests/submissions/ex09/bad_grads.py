"""Buggy exercise-9 submission: LinearFunction's bias gradient is a mean over the batch,
SiLUFunction's backward ignores grad_output, LayerNormFunction's weight gradient has the
wrong sign."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class LinearFunction(torch.autograd.Function):
    """$y = x W^\\top + b$, like ``nn.Linear``: x (N, in), weight (out, in), bias (out,)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        ctx.save_for_backward(x, weight)
        return x @ weight.T + bias

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x, weight = ctx.saved_tensors
        return grad_output @ weight, grad_output.T @ x, grad_output.mean(0)


class SiLUFunction(torch.autograd.Function):
    """$y = x \\, \\sigma(x)$ (also called swish)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return x * torch.sigmoid(x)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        return s * (1 + x * (1 - s))


class LayerNormFunction(torch.autograd.Function):
    """Layer normalization over the last dimension, with weight and bias of shape (D,)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
        mean = x.mean(dim=-1, keepdim=True)
        var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
        rstd = 1.0 / torch.sqrt(var + eps)
        x_hat = (x - mean) * rstd
        ctx.save_for_backward(x_hat, rstd, weight)
        return x_hat * weight + bias

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, Tensor, Tensor, None]:
        x_hat, rstd, weight = ctx.saved_tensors
        g = grad_output * weight
        grad_x = rstd * (
            g - g.mean(dim=-1, keepdim=True) - x_hat * (g * x_hat).mean(dim=-1, keepdim=True)
        )
        d = x_hat.shape[-1]  # sum over every leading dimension (there may be none)
        grad_weight = -(grad_output * x_hat).reshape(-1, d).sum(0)
        grad_bias = grad_output.reshape(-1, d).sum(0)
        return grad_x, grad_weight, grad_bias, None


class StraightThroughRound(torch.autograd.Function):
    """Forward: ``torch.round``; backward: the identity (the straight-through estimator)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return torch.round(x)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:
        return grad_output
