"""Exercise 10's answers: fans, gains and the std each initializer must draw with."""

from __future__ import annotations

import math

import torch

from grader.suites.support.ex10_weight_init import GAIN_HINT, SWAP_HINT


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def gain(nonlinearity: str, param: float | None = None) -> float:
    return torch.nn.init.calculate_gain(nonlinearity, param)


def xavier_std(shape: tuple[int, ...], g: float) -> float:
    fan_in, fan_out = fans(shape)
    return g * math.sqrt(2.0 / (fan_in + fan_out))


def kaiming_std(
    shape: tuple[int, ...], a: float, mode: str, nonlinearity: str
) -> tuple[float, dict[str, float]]:
    """The std, and the std of each classic mistake (for hints)."""
    fan_in, fan_out = fans(shape)
    fan, other = (fan_in, fan_out) if mode == "fan_in" else (fan_out, fan_in)
    g = gain(nonlinearity, a)
    alternatives = {}
    if other != fan:
        alternatives[SWAP_HINT] = g / math.sqrt(other)
    if abs(g - 1) > 1e-12:
        alternatives[GAIN_HINT] = 1 / math.sqrt(fan)
    return g / math.sqrt(fan), alternatives
