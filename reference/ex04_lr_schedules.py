"""Reference for exercise-4: PyTorch's own ``StepLR``, ``CosineAnnealingLR`` and the
``SequentialLR(LinearLR, CosineAnnealingLR)`` warmup schedule.

The pure functions run the torch scheduler on a throwaway optimizer for ``step`` steps, so they
reproduce torch's recursive updates (not a closed formula) value for value.
"""

from __future__ import annotations

import warnings

import torch
from torch.optim import lr_scheduler

TITLE = "Learning-rate schedules"
FORBIDDEN = [
    "torch.optim.lr_scheduler.StepLR",
    "torch.optim.lr_scheduler.MultiStepLR",
    "torch.optim.lr_scheduler.ConstantLR",
    "torch.optim.lr_scheduler.LinearLR",
    "torch.optim.lr_scheduler.ExponentialLR",
    "torch.optim.lr_scheduler.SequentialLR",
    "torch.optim.lr_scheduler.ChainedScheduler",
    "torch.optim.lr_scheduler.CosineAnnealingLR",
    "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts",
    "torch.optim.lr_scheduler.PolynomialLR",
    "torch.optim.lr_scheduler.LambdaLR",
    "torch.optim.lr_scheduler.MultiplicativeLR",
    "torch.optim.lr_scheduler.CyclicLR",
    "torch.optim.lr_scheduler.OneCycleLR",
    "torch.optim.lr_scheduler.ReduceLROnPlateau",
]
# The judge's source audit (grader/judge/audit/) reads this literal, like FORBIDDEN, before any
# student code runs. The file may import the course baseline (grader/judge/audit/policy.py, each
# module with its public submodules), plus "imports_add", minus "imports_drop". "extras": what
# else it may not touch, however spelled (".name": any attribute of that name; "a.b": that module
# or API and everything under it). "why" and "instead": what the student reads next to a use of
# FORBIDDEN or "extras".
AUDIT = {
    # SWALR with anneal_strategy="cos" is cosine annealing under another name
    "extras": ["torch.optim.swa_utils"],
    "why": "exercise-4 is writing the schedules yourself",
    "instead": (
        "compute the rate from the formula in the exercise text; subclass "
        "`torch.optim.lr_scheduler.LRScheduler` for the classes"
    ),
}


class StepDecayLR(lr_scheduler.StepLR):
    def __init__(self, optimizer: torch.optim.Optimizer, step_size: int, gamma: float) -> None:
        super().__init__(optimizer, step_size=step_size, gamma=gamma)


class CosineAnnealingLR(lr_scheduler.CosineAnnealingLR):
    def __init__(
        self, optimizer: torch.optim.Optimizer, total_steps: int, min_lr: float = 0.0
    ) -> None:
        super().__init__(optimizer, T_max=total_steps, eta_min=min_lr)


class WarmupCosineLR(lr_scheduler.SequentialLR):
    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        warmup_steps: int,
        total_steps: int,
        min_lr: float = 0.0,
        warmup_start_factor: float = 0.01,
    ) -> None:
        if warmup_steps < 1:
            raise ValueError(f"warmup_steps must be >= 1, got {warmup_steps}")
        if total_steps <= warmup_steps:
            raise ValueError(
                f"total_steps ({total_steps}) must be larger than warmup_steps ({warmup_steps})"
            )
        warmup = lr_scheduler.LinearLR(
            optimizer, start_factor=warmup_start_factor, end_factor=1.0, total_iters=warmup_steps
        )
        cosine = lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=total_steps - warmup_steps, eta_min=min_lr
        )
        super().__init__(optimizer, [warmup, cosine], milestones=[warmup_steps])


_RUNS: dict[tuple[object, ...], tuple[torch.optim.Optimizer, object, list[float]]] = {}


def _run(make: type, step: int, base_lr: float, **kwargs: object) -> float:
    """torch's lr at ``step``: one scheduler per configuration, stepped as far as asked."""
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    key = (make.__name__, base_lr, *sorted(kwargs.items()))
    if key not in _RUNS:
        p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
        opt = torch.optim.SGD([p], lr=base_lr)
        _RUNS[key] = (opt, make(opt, **kwargs), [float(opt.param_groups[0]["lr"])])
    opt, sched, lrs = _RUNS[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "scheduler.step() before optimizer.step()"
        while len(lrs) <= step:
            sched.step()  # type: ignore[attr-defined]
            lrs.append(float(opt.param_groups[0]["lr"]))
    return lrs[step]


def step_decay(step: int, base_lr: float, step_size: int, gamma: float) -> float:
    return _run(StepDecayLR, step, base_lr, step_size=step_size, gamma=gamma)


def cosine_annealing(step: int, base_lr: float, total_steps: int, min_lr: float = 0.0) -> float:
    return _run(CosineAnnealingLR, step, base_lr, total_steps=total_steps, min_lr=min_lr)


def warmup_cosine(
    step: int,
    base_lr: float,
    warmup_steps: int,
    total_steps: int,
    min_lr: float = 0.0,
    warmup_start_factor: float = 0.01,
) -> float:
    return _run(
        WarmupCosineLR,
        step,
        base_lr,
        warmup_steps=warmup_steps,
        total_steps=total_steps,
        min_lr=min_lr,
        warmup_start_factor=warmup_start_factor,
    )
