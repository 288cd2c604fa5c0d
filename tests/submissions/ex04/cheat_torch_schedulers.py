"""Cheating exercise-4: step_decay and WarmupCosineLR are torch's schedulers in disguise.

cosine_annealing and CosineAnnealingLR are honest, so their tests must still count.
"""

import math

import torch
from torch.optim import lr_scheduler

_sched = getattr(lr_scheduler, "Step" + "LR")


def step_decay(step: int, base_lr: float, step_size: int, gamma: float) -> float:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    s = _sched(opt, step_size=step_size, gamma=gamma)  # CHEAT
    for _ in range(step):
        s.step()
    return opt.param_groups[0]["lr"]


def cosine_annealing(step: int, base_lr: float, total_steps: int, min_lr: float = 0.0) -> float:
    return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * step / total_steps)) / 2


def warmup_cosine(
    step: int,
    base_lr: float,
    warmup_steps: int,
    total_steps: int,
    min_lr: float = 0.0,
    warmup_start_factor: float = 0.01,
) -> float:
    if warmup_steps < 1 or total_steps <= warmup_steps:
        raise ValueError("bad warmup")
    if step < warmup_steps:
        return base_lr * (warmup_start_factor + (1 - warmup_start_factor) * step / warmup_steps)
    return cosine_annealing(step - warmup_steps, base_lr, total_steps - warmup_steps, min_lr)


class StepDecayLR(lr_scheduler.LRScheduler):
    def __init__(self, optimizer: torch.optim.Optimizer, step_size: int, gamma: float) -> None:
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class CosineAnnealingLR(lr_scheduler.LRScheduler):
    def __init__(
        self, optimizer: torch.optim.Optimizer, total_steps: int, min_lr: float = 0.0
    ) -> None:
        self.total_steps, self.min_lr = total_steps, min_lr
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        t = self.last_epoch
        return [cosine_annealing(t, b, self.total_steps, self.min_lr) for b in self.base_lrs]


class WarmupCosineLR(lr_scheduler.SequentialLR):  # CHEAT
    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        warmup_steps: int,
        total_steps: int,
        min_lr: float = 0.0,
        warmup_start_factor: float = 0.01,
    ) -> None:
        warm = lr_scheduler.LinearLR(optimizer, warmup_start_factor, 1.0, warmup_steps)
        cos = lr_scheduler.CosineAnnealingLR(optimizer, total_steps - warmup_steps, min_lr)
        super().__init__(optimizer, [warm, cos], milestones=[warmup_steps])
