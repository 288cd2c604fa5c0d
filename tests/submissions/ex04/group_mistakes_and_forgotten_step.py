"""Buggy exercise-4: param-group mistakes, and a scheduler that forgets its step.

StepDecayLR gives every group the first group's schedule; CosineAnnealingLR only writes the
first group's lr; WarmupCosineLR schedules every group, but get_last_lr() reports only the
first, and its state_dict() leaves out the step count, so a resumed WarmupCosineLR starts over.
"""

import math

import torch
from torch.optim.lr_scheduler import LRScheduler


def step_decay(step: int, base_lr: float, step_size: int, gamma: float) -> float:
    return base_lr * gamma ** (step // step_size)


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


class StepDecayLR(LRScheduler):
    def __init__(self, optimizer: torch.optim.Optimizer, step_size: int, gamma: float) -> None:
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        lr = step_decay(self.last_epoch, self.base_lrs[0], self.step_size, self.gamma)
        return [lr] * len(self.base_lrs)  # BUG: every group gets the first group's lr


class _FirstGroup:
    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.base_lr = optimizer.param_groups[0]["lr"]  # BUG: only the first group
        self.t = 0
        self._apply()

    def lr_at(self, t: int) -> float:
        raise NotImplementedError

    def _apply(self) -> None:
        self.optimizer.param_groups[0]["lr"] = self.lr_at(self.t)

    def step(self) -> None:
        self.t += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return {"t": self.t, "base_lr": self.base_lr}

    def load_state_dict(self, state: dict) -> None:
        self.t, self.base_lr = state["t"], state["base_lr"]


class CosineAnnealingLR(_FirstGroup):
    def __init__(
        self, optimizer: torch.optim.Optimizer, total_steps: int, min_lr: float = 0.0
    ) -> None:
        self.total_steps, self.min_lr = total_steps, min_lr
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        return cosine_annealing(t, self.base_lr, self.total_steps, self.min_lr)


class WarmupCosineLR(LRScheduler):
    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        warmup_steps: int,
        total_steps: int,
        min_lr: float = 0.0,
        warmup_start_factor: float = 0.01,
    ) -> None:
        self.args = (warmup_steps, total_steps, min_lr, warmup_start_factor)
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        return [warmup_cosine(self.last_epoch, base, *self.args) for base in self.base_lrs]

    def get_last_lr(self) -> list[float]:
        return self._last_lr[:1]  # BUG: one lr only

    def state_dict(self) -> dict:
        state = super().state_dict()
        del state["last_epoch"]  # BUG: the step count is not saved
        return state
