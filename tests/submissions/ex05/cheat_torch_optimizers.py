"""Cheating exercise-5: SGD calls torch's functional sgd, Adam is torch.optim.Adam in disguise,
AdamW calls the fused CPU kernel. RMSprop is honest, so its tests must still count."""

import torch
from torch.optim import Optimizer

_sgd = getattr(torch.optim, "_func" + "tional").sgd


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
            params = [p for p in group["params"] if p.grad is not None]
            bufs = [self.state[p].get("momentum_buffer") for p in params]
            _sgd(  # CHEAT
                params,
                [p.grad for p in params],
                bufs,
                weight_decay=group["weight_decay"],
                momentum=group["momentum"],
                lr=group["lr"],
                dampening=group["dampening"],
                nesterov=group["nesterov"],
                maximize=False,
            )
            for p, b in zip(params, bufs):
                self.state[p]["momentum_buffer"] = b


class Adam(torch.optim.Adam):  # CHEAT
    pass


class AdamW(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                s = self.state[p]
                if not s:
                    s["step"] = torch.tensor(0.0)
                    s["m"], s["v"] = torch.zeros_like(p), torch.zeros_like(p)
                beta1, beta2 = group["betas"]
                s["step"] += 1
                torch._fused_adamw_(  # CHEAT
                    [p], [p.grad], [s["m"]], [s["v"]], [], [s["step"]],
                    lr=group["lr"], beta1=beta1, beta2=beta2,
                    weight_decay=group["weight_decay"], eps=group["eps"],
                    amsgrad=False, maximize=False,
                )


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
