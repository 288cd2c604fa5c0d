"""Buggy exercise-5, three independent mistakes:

- SGD dampens its very first momentum step (visible only with dampening > 0);
- SGD's Nesterov step uses the momentum buffer from before the update (visible only with
  nesterov=True, where dampening is 0);
- Adam counts its steps from 0 in the bias corrections: a division by zero, NaN parameters.

AdamW (its own, correct update) and RMSprop are right."""

import math

import torch
from torch.optim import Optimizer


class SGD(Optimizer):
    def __init__(
        self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False
    ) -> None:
        defaults = dict(
            lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
            nesterov=nesterov,
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            mu, tau = group["momentum"], group["dampening"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + group["weight_decay"] * p
                if mu:
                    state = self.state[p]
                    old = state.get("buf")
                    if old is None:
                        state["buf"] = (1 - tau) * g  # BUG: torch starts with b = g
                    else:
                        state["buf"] = mu * old + (1 - tau) * g
                    buf = state["buf"]
                    if group["nesterov"]:
                        g = g + mu * (old if old is not None else 0)  # BUG: the old buffer
                    else:
                        g = buf
                p.sub_(group["lr"] * g)


def _adam(state, p, g, group):
    beta1, beta2 = group["betas"]
    if not state:
        state["t"], state["m"], state["v"] = 0, torch.zeros_like(p), torch.zeros_like(p)
    state["t"] += 1
    t = state["t"]
    state["m"] = m = beta1 * state["m"] + (1 - beta1) * g
    state["v"] = v = beta2 * state["v"] + (1 - beta2) * g * g
    denom = v.sqrt() / math.sqrt(1 - beta2**t) + group["eps"]
    p.sub_(group["lr"] / (1 - beta1**t) * m / denom)


def _adam_from_zero(state, p, g, group):
    beta1, beta2 = group["betas"]
    if not state:
        state["t"], state["m"], state["v"] = 0, torch.zeros_like(p), torch.zeros_like(p)
    t = state["t"]  # BUG: the step count starts at 0 here
    state["t"] += 1
    state["m"] = m = beta1 * state["m"] + (1 - beta1) * g
    state["v"] = v = beta2 * state["v"] + (1 - beta2) * g * g
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    p.sub_(group["lr"] * m_hat / (v_hat.sqrt() + group["eps"]))


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    g = p.grad + group["weight_decay"] * p
                    _adam_from_zero(self.state[p], p, g, group)


class AdamW(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                    _adam(self.state[p], p, p.grad, group)


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, momentum=0.0) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, momentum=momentum))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g, state = p.grad, self.state[p]
                if not state:
                    state["v"], state["b"] = torch.zeros_like(p), torch.zeros_like(p)
                a = group["alpha"]
                state["v"] = a * state["v"] + (1 - a) * g * g
                step = g / (state["v"].sqrt() + group["eps"])
                if group["momentum"] > 0:
                    state["b"] = step = group["momentum"] * state["b"] + step
                p.sub_(group["lr"] * step)
