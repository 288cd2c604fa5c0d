"""Buggy exercise-4: the schedulers' state_dict() does not hold the step count, so a resumed
scheduler starts its schedule over."""

import math

import torch


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


class _Scheduler:
    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        for g in optimizer.param_groups:
            g.setdefault("initial_lr", g["lr"])
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.t = 0
        self._apply()

    def lr_at(self, t: int, base: float) -> float:
        raise NotImplementedError

    def _apply(self) -> None:
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = self.lr_at(self.t, base)

    def step(self) -> None:
        self.t += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return {"base_lrs": list(self.base_lrs)}  # BUG: the step count t is not saved

    def load_state_dict(self, state: dict) -> None:
        self.base_lrs = list(state["base_lrs"])


class StepDecayLR(_Scheduler):
    def __init__(self, optimizer: torch.optim.Optimizer, step_size: int, gamma: float) -> None:
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, t: int, base: float) -> float:
        return step_decay(t, base, self.step_size, self.gamma)


class CosineAnnealingLR(_Scheduler):
    def __init__(
        self, optimizer: torch.optim.Optimizer, total_steps: int, min_lr: float = 0.0
    ) -> None:
        self.total_steps, self.min_lr = total_steps, min_lr
        super().__init__(optimizer)

    def lr_at(self, t: int, base: float) -> float:
        return cosine_annealing(t, base, self.total_steps, self.min_lr)


class WarmupCosineLR(_Scheduler):
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

    def lr_at(self, t: int, base: float) -> float:
        return warmup_cosine(t, base, *self.args)
