import math

import torch


def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    p = float(norm_type)
    acc = 0.0
    for g in grads:
        for x in g.reshape(-1):  # one element at a time
            v = abs(x.item())
            acc = max(acc, v) if math.isinf(p) else acc + v**p
    total = acc if math.isinf(p) else acc ** (1.0 / p)
    scale = min(1.0, max_norm / (total + 1e-6))
    for g in grads:
        flat = g.view(-1)
        for i in range(flat.numel()):
            flat[i] = flat[i] * scale
    return torch.tensor(total, dtype=grads[0].dtype)


def clip_grad_value(parameters, clip_value):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    for p in parameters:
        if p.grad is not None:
            p.grad.clamp_(-clip_value, clip_value)
