"""Buggy exercise-10 submission: xavier_uniform_ draws from a normal, xavier_normal_ from a
uniform, kaiming_uniform_ swaps fan_in and fan_out, kaiming_normal_ forgets the gain."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def calculate_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of this shape, as torch computes them.

    Example:
        >>> calculate_fans((32, 16, 3, 3))
        (144, 288)
    """
    if len(shape) < 2:
        raise ValueError("fan in and fan out need a weight with at least 2 dimensions")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    Example:
        >>> calculate_gain("tanh")
        1.6666666666666667
    """
    linear = {
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
        "sigmoid",
    }
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, int | float) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Fill ``tensor`` in place from $\\mathcal U(-a, a)$, $a = $ gain $\\sqrt{6/(\\text{fan\\_in}
    + \\text{fan\\_out})}$, and return it."""
    fan_in, fan_out = calculate_fans(tuple(tensor.shape))
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    with torch.no_grad():
        return tensor.normal_(0.0, std)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Fill ``tensor`` in place from $\\mathcal N(0, \\text{std}^2)$, std $=$ gain
    $\\sqrt{2/(\\text{fan\\_in} + \\text{fan\\_out})}$, and return it."""
    fan_in, fan_out = calculate_fans(tuple(tensor.shape))
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        return tensor.uniform_(-bound, bound)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    """gain / sqrt(fan) for the Kaiming initializers."""
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode} not supported, use fan_in or fan_out")
    fan_in, fan_out = calculate_fans(tuple(tensor.shape))
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    mode = "fan_out" if mode == "fan_in" else "fan_in"  # BUG: the fans swapped
    """Fill ``tensor`` in place from $\\mathcal U(-\\sqrt 3\\,\\text{std}, \\sqrt 3\\,\\text{std})$,
    std $=$ gain / $\\sqrt{\\text{fan}}$, and return it."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    with torch.no_grad():
        return tensor.uniform_(-bound, bound)


def kaiming_normal_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """Fill ``tensor`` in place from $\\mathcal N(0, \\text{std}^2)$, std $=$ gain /
    $\\sqrt{\\text{fan}}$, and return it."""
    std = _kaiming_std(tensor, a, mode, nonlinearity) / calculate_gain(nonlinearity, a)
    with torch.no_grad():
        return tensor.normal_(0.0, std)


def init_mlp_(model: nn.Module) -> nn.Module:
    """Kaiming-normal (fan_in, relu) weights and zero biases for every ``nn.Linear``; returns
    ``model``."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            if module.bias is not None:
                with torch.no_grad():
                    module.bias.zero_()
    return model
