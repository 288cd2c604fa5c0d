"""Correct exercise-10 in an unusual style: literal getattr/hasattr on modules of the model,
a dict of gains, functools.partial, math.prod, an in-place fill through Tensor.uniform_ /
Tensor.normal_ / Tensor.zero_ under torch.no_grad(). The audit must find nothing here."""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor, nn

_GAINS = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0), "selu": 0.75}
_GAINS.update({f"conv{d}d": 1.0 for d in (1, 2, 3)})
_GAINS.update({f"conv_transpose{d}d": 1.0 for d in (1, 2, 3)})


def calculate_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) < 2:
        raise ValueError("need at least 2 dimensions")
    field = math.prod(shape[2:])
    return shape[1] * field, shape[0] * field


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, int | float):
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity not in _GAINS:
        raise ValueError(f"Unsupported nonlinearity {nonlinearity}")
    return _GAINS[nonlinearity]


def _fill(tensor: Tensor, std: float, uniform: bool) -> Tensor:
    with torch.no_grad():
        if uniform:
            bound = math.sqrt(3.0) * std
            return tensor.uniform_(-bound, bound)
        return tensor.normal_(0.0, std)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    fan_in, fan_out = calculate_fans(tuple(tensor.shape))
    return _fill(tensor, gain * math.sqrt(2.0 / (fan_in + fan_out)), uniform=True)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    fan_in, fan_out = calculate_fans(tuple(tensor.shape))
    return _fill(tensor, gain * math.sqrt(2.0 / (fan_in + fan_out)), uniform=False)


def _kaiming(tensor: Tensor, a: float, mode: str, nonlinearity: str, uniform: bool) -> Tensor:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode} not supported")
    fans = dict(zip(("fan_in", "fan_out"), calculate_fans(tuple(tensor.shape))))
    std = calculate_gain(nonlinearity, a) / math.sqrt(fans[mode])
    return _fill(tensor, std, uniform)


def kaiming_uniform_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    return _kaiming_uniform(tensor, a, mode, nonlinearity)


_kaiming_uniform = functools.partial(_kaiming, uniform=True)
_kaiming_uniform.__doc__ = "Kaiming uniform, in place."


def kaiming_normal_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    return _kaiming(tensor, a, mode, nonlinearity, uniform=False)


def init_mlp_(model: nn.Module) -> nn.Module:
    for module in model.modules():
        if isinstance(module, nn.Linear) and hasattr(module, "weight"):
            kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            bias = getattr(module, "bias", None)
            if bias is not None:
                with torch.no_grad():
                    bias.zero_()
    return model
