"""Exercise 5's answers: torch.optim's trajectory for a case, and a from-scratch optimizer
that can make each classic mistake on purpose (the hints compare a student's trajectory with
those). Both are answers to the exercise, so they stay here, never shipped."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from grader.suites.support.ex05_optimizers import Case, grad_at
from reference import ex05_optimizers as ref


def run_reference(case: Case) -> list[torch.Tensor]:
    """torch.optim's trajectory for ``case``: per parameter, its values after every step."""
    params = [torch.nn.Parameter(p.clone()) for group in case.groups for p in group["params"]]
    it = iter(params)
    spec = [
        {
            **{k: v for k, v in group.items() if k != "params"},
            "params": [next(it) for _ in group["params"]],
        }
        for group in case.groups
    ]
    opt = getattr(ref, case.optimizer)(spec, **case.kwargs)
    history: list[list[torch.Tensor]] = [[] for _ in params]
    for t in range(case.steps):
        if case.lrs is not None:
            for group, lr in zip(opt.param_groups, case.lrs[t]):
                group["lr"] = lr
        for i, p in enumerate(params):
            p.grad = grad_at(case, i, t)
        opt.step()
        for h, p in zip(history, params):
            h.append(p.detach().clone())
    return [torch.stack(h) for h in history]


def simulate(
    case: Case,
    *,
    start: int = 0,
    values: Sequence[torch.Tensor] | None = None,
    **mistake: Any,
) -> list[torch.Tensor]:
    """``case`` through a from-scratch float64 implementation, with at most one ``mistake``.

    SGD: ``damp_first=True``; ``nesterov="ignored" | "buffer_only"``.
    Adam/AdamW: ``eps_hat=True``; ``bias1=False`` / ``bias2=False``; AdamW: ``coupled=True``.
    With ``start``, the run begins at step ``start`` from ``values`` with empty optimizer state
    (what a resume that lost the state does); the result covers steps ``start ...`` only.
    """
    if values is None:
        values = [p for g in case.groups for p in g["params"]]
    values = [v.detach().to("cpu", torch.float64).clone() for v in values]
    state: list[dict[str, Any]] = [{} for _ in values]
    history: list[list[torch.Tensor]] = [[] for _ in values]
    for t in range(start, case.steps):
        for i, p in enumerate(values):
            grad = grad_at(case, i, t)
            if grad is not None:
                hp = case.hyper(case.group_of[i])
                if case.lrs is not None:
                    hp["lr"] = case.lrs[t][case.group_of[i]]
                _update(case.optimizer, p, grad.to("cpu", torch.float64), state[i], hp, mistake)
            history[i].append(p.clone())
    return [torch.stack(h) for h in history]


def _update(
    name: str,
    p: torch.Tensor,
    g: torch.Tensor,
    s: dict[str, Any],
    hp: dict[str, Any],
    mistake: dict[str, Any],
) -> None:
    lr = hp["lr"]
    if name == "SGD":
        mu, tau = hp["momentum"], hp["dampening"]
        g = g + hp["weight_decay"] * p
        if mu:
            old = s.get("b")
            if old is None:
                b = (1 - tau) * g if mistake.get("damp_first") else g.clone()
            else:
                b = mu * old + (1 - tau) * g
            s["b"] = b
            direction = {"ignored": b, "buffer_only": mu * b}.get(
                mistake.get("nesterov", ""), g + mu * b if hp["nesterov"] else b
            )
            g = direction
        p -= lr * g
    elif name in ("Adam", "AdamW"):
        beta1, beta2 = hp["betas"]
        if name == "AdamW" and not mistake.get("coupled"):
            p *= 1 - lr * hp["weight_decay"]
        else:
            g = g + hp["weight_decay"] * p
        t = s["t"] = s.get("t", 0) + 1
        m = s["m"] = beta1 * s.get("m", torch.zeros_like(p)) + (1 - beta1) * g
        v = s["v"] = beta2 * s.get("v", torch.zeros_like(p)) + (1 - beta2) * g * g
        bc1 = 1 - beta1**t if mistake.get("bias1", True) else 1.0
        bc2 = 1 - beta2**t if mistake.get("bias2", True) else 1.0
        if mistake.get("eps_hat"):
            denom = (v.sqrt() + hp["eps"]) / math.sqrt(bc2)
        else:
            denom = v.sqrt() / math.sqrt(bc2) + hp["eps"]
        p -= lr / bc1 * m / denom
    else:  # RMSprop
        v = s["v"] = hp["alpha"] * s.get("v", torch.zeros_like(p)) + (1 - hp["alpha"]) * g * g
        step = g / (v.sqrt() + hp["eps"])
        if hp["momentum"] > 0:
            step = s["b"] = hp["momentum"] * s.get("b", torch.zeros_like(p)) + step
        p -= lr * step
