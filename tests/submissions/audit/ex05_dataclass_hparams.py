"""Correct exercise-5 in an unusual style: hyperparameters as a dataclass, a base class of our
own between torch.optim.Optimizer and the four optimizers, Optimizer.__init__ called by name,
@torch.no_grad() on step, state kept under our own keys. The audit must find nothing here."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


@dataclass(frozen=True)
class AdamConfig:
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0


class _Base(torch.optim.Optimizer):
    def update(self, p: Tensor, g: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.update(p, p.grad, self.state[p], group)
        return loss


class SGD(_Base):
    def __init__(self, params: Params, lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov)
        torch.optim.Optimizer.__init__(self, params, defaults)

    def update(self, p: Tensor, g: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p
        if group["momentum"]:
            if "buf" not in state:
                state["buf"] = g.clone()
            else:
                state["buf"].mul_(group["momentum"]).add_(g, alpha=1 - group["dampening"])
            g = g + group["momentum"] * state["buf"] if group["nesterov"] else state["buf"]
        p.sub_(group["lr"] * g)


def _adam_moments(p: Tensor, g: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
    beta1, beta2 = group["betas"]
    if not state:
        state.update(t=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
    state["t"] += 1
    state["m"].lerp_(g, 1 - beta1)
    state["v"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
    m_hat_scale = 1 / (1 - beta1 ** state["t"])
    denom = state["v"].sqrt() / math.sqrt(1 - beta2 ** state["t"]) + group["eps"]
    p.addcdiv_(state["m"], denom, value=-group["lr"] * m_hat_scale)


class Adam(_Base):
    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, asdict(AdamConfig(lr, betas, eps, weight_decay)))

    def update(self, p: Tensor, g: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        if group["weight_decay"]:
            g = g.add(p, alpha=group["weight_decay"])
        _adam_moments(p, g, state, group)


class AdamW(_Base):
    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2) -> None:
        super().__init__(params, asdict(AdamConfig(lr, betas, eps, weight_decay)))

    def update(self, p: Tensor, g: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        p.mul_(1 - group["lr"] * group["weight_decay"])
        _adam_moments(p, g, state, group)


class RMSprop(_Base):
    def __init__(self, params: Params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 momentum: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps, "momentum": momentum})

    def update(self, p: Tensor, g: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        if not state:
            state["square_avg"] = torch.zeros_like(p)
            state["buf"] = torch.zeros_like(p)
        state["square_avg"].mul_(group["alpha"]).addcmul_(g, g, value=1 - group["alpha"])
        step = g / (state["square_avg"].sqrt() + group["eps"])
        if group["momentum"] > 0:
            state["buf"].mul_(group["momentum"]).add_(step)
            step = state["buf"]
        p.sub_(group["lr"] * step)
