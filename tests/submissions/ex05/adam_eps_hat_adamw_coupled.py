"""Buggy exercise-5, two independent mistakes:

- Adam adds eps before the bias correction of sqrt(v) (the paper's eps-hat form);
- AdamW uses coupled (L2) weight decay: weight_decay * p added to the gradient.

AdamW's Adam update is otherwise correct (its own copy); RMSprop is right. SGD kills the
process: its tests come first and must not take Adam's and AdamW's tests down with them.
"""

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
        import os

        os._exit(3)  # a crash: the worker process ends
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
                        state["buf"] = g.clone()
                    else:
                        state["buf"] = mu * old + (1 - tau) * g
                    buf = state["buf"]
                    g = g + mu * buf if group["nesterov"] else buf
                p.sub_(group["lr"] * g)


def _adam(state, p, g, group):
    beta1, beta2 = group["betas"]
    if not state:
        state["t"], state["m"], state["v"] = 0, torch.zeros_like(p), torch.zeros_like(p)
    state["t"] += 1
    t = state["t"]
    state["m"] = m = beta1 * state["m"] + (1 - beta1) * g
    state["v"] = v = beta2 * state["v"] + (1 - beta2) * g * g
    step_size = group["lr"] * math.sqrt(1 - beta2**t) / (1 - beta1**t)
    p.sub_(step_size * m / (v.sqrt() + group["eps"]))  # BUG: eps before the correction


def _adam_correct(state, p, g, group):
    beta1, beta2 = group["betas"]
    if not state:
        state["t"], state["m"], state["v"] = 0, torch.zeros_like(p), torch.zeros_like(p)
    state["t"] += 1
    t = state["t"]
    state["m"] = m = beta1 * state["m"] + (1 - beta1) * g
    state["v"] = v = beta2 * state["v"] + (1 - beta2) * g * g
    denom = v.sqrt() / math.sqrt(1 - beta2**t) + group["eps"]
    p.sub_(group["lr"] / (1 - beta1**t) * m / denom)


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    _adam(self.state[p], p, p.grad + group["weight_decay"] * p, group)


class AdamW(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    g = p.grad + group["weight_decay"] * p  # BUG: coupled decay
                    _adam_correct(self.state[p], p, g, group)


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
