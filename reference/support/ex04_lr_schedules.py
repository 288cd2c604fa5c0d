"""Exercise 4's answers: the schedules of torch's own schedulers, step by step."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch

from reference import ex04_lr_schedules as ref


def _optimizer(group_lrs: Sequence[float]) -> torch.optim.Optimizer:
    params = [torch.nn.Parameter(torch.zeros(1, dtype=torch.float64)) for _ in group_lrs]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, group_lrs)]
    return torch.optim.SGD(groups, lr=group_lrs[0])


def reference_schedule(
    cls: str, kwargs: dict[str, Any], group_lrs: Sequence[float], steps: int
) -> list[list[float]]:
    """torch's lr of every group after construction and after each of ``steps`` steps."""
    optimizer = _optimizer(group_lrs)
    scheduler = getattr(ref, cls)(optimizer, **kwargs)
    lrs = [[float(g["lr"]) for g in optimizer.param_groups]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(steps):
            optimizer.step()
            scheduler.step()
            lrs.append([float(g["lr"]) for g in optimizer.param_groups])
    return lrs
