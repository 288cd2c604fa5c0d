"""Correct exercise-4 in an unusual style: an enum, a Protocol-free plain scheduler base of
its own (not torch's LRScheduler), state_dict built from vars(self) / self.__dict__, warnings,
and super().__init__ chains. The audit must find nothing here."""

from __future__ import annotations

import math
import warnings
from enum import Enum
from typing import Any

import torch


class Phase(Enum):
    WARMUP = "warmup"
    COSINE = "cosine"


def step_decay(step: int, base_lr: float, step_size: int, gamma: float) -> float:
    return base_lr * gamma ** (step // step_size)


def cosine_annealing(step: int, base_lr: float, total_steps: int, min_lr: float = 0.0) -> float:
    return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * step / total_steps)) / 2


def _phase(step: int, warmup_steps: int) -> Phase:
    return Phase.WARMUP if step < warmup_steps else Phase.COSINE


def warmup_cosine(
    step: int,
    base_lr: float,
    warmup_steps: int,
    total_steps: int,
    min_lr: float = 0.0,
    warmup_start_factor: float = 0.01,
) -> float:
    if warmup_steps < 1 or total_steps <= warmup_steps:
        raise ValueError("need 1 <= warmup_steps < total_steps")
    if _phase(step, warmup_steps) is Phase.WARMUP:
        return base_lr * (warmup_start_factor + (1 - warmup_start_factor) * step / warmup_steps)
    return cosine_annealing(step - warmup_steps, base_lr, total_steps - warmup_steps, min_lr)


class _Scheduler:
    """Just enough of a scheduler: base lrs, a step counter, state_dict from our own fields."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = 0
        self._apply()

    def lr_at(self, step: int, base: float) -> float:
        raise NotImplementedError

    def _apply(self) -> None:
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(self.last_epoch, base)

    def step(self) -> None:
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "optimizer"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "last_epoch" not in state:
            warnings.warn("state has no last_epoch", stacklevel=2)
        self.__dict__.update(state)


class StepDecayLR(_Scheduler):
    def __init__(self, optimizer: torch.optim.Optimizer, step_size: int, gamma: float) -> None:
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, step: int, base: float) -> float:
        return step_decay(step, base, self.step_size, self.gamma)


class CosineAnnealingLR(_Scheduler):
    def __init__(self, optimizer: torch.optim.Optimizer, total_steps: int, min_lr: float = 0.0) -> None:
        self.total_steps, self.min_lr = total_steps, min_lr
        super().__init__(optimizer)

    def lr_at(self, step: int, base: float) -> float:
        return cosine_annealing(step, base, self.total_steps, self.min_lr)


class WarmupCosineLR(_Scheduler):
    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        warmup_steps: int,
        total_steps: int,
        min_lr: float = 0.0,
        warmup_start_factor: float = 0.01,
    ) -> None:
        if warmup_steps < 1 or total_steps <= warmup_steps:
            raise ValueError("need 1 <= warmup_steps < total_steps")
        self.warmup_steps, self.total_steps = warmup_steps, total_steps
        self.min_lr, self.warmup_start_factor = min_lr, warmup_start_factor
        _Scheduler.__init__(self, optimizer)

    def lr_at(self, step: int, base: float) -> float:
        return warmup_cosine(
            step, base, self.warmup_steps, self.total_steps, self.min_lr, self.warmup_start_factor
        )
