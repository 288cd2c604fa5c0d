"""Exercise 8's answers: the local derivative of every operation a ``Value`` supports."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from grader.worker.scenarios.ex08_autograd_engine import OPS, Node


def _derivative(op: str, x: float, c: Any) -> float:
    """d op(x, c) / dx for the one-operand ops (``c`` the constant, if any)."""
    if op in ("add_num", "radd_num", "sub_num"):
        return 1.0
    if op in ("rsub_num", "neg"):
        return -1.0
    if op in ("mul_num", "rmul_num"):
        return float(c)
    if op == "div_num":
        return 1 / c
    if op == "rdiv_num":
        return -c / x**2
    if op == "pow":
        return float(c * x ** (c - 1))
    if op == "relu":
        return 1.0 if x > 0 else 0.0
    if op == "tanh":
        return 1 - math.tanh(x) ** 2
    if op == "exp":
        return math.exp(x)
    if op == "log":
        return 1 / x
    s = 1 / (1 + math.exp(-x))  # sigmoid
    return s * (1 - s)


def local_derivatives(
    nodes: Sequence[Node], data: Sequence[float]
) -> list[list[tuple[int, float]]]:
    """For each node, the (child index, d node / d child) of each edge into a child."""
    out: list[list[tuple[int, float]]] = []
    for spec in nodes:
        op, args = spec[0], spec[1:]
        if op == "leaf":
            out.append([])
            continue
        i = args[0]
        x = data[i]
        if OPS[op].takes_node:
            j = args[1]
            y = data[j]
            if op == "add":
                di, dj = 1.0, 1.0
            elif op == "sub":
                di, dj = 1.0, -1.0
            elif op == "mul":
                di, dj = y, x
            else:
                di, dj = 1 / y, -x / y**2
            out.append([(i, di), (j, dj)])
            continue
        c = args[1] if len(args) > 1 else None
        out.append([(i, _derivative(op, x, c))])
    return out
