"""Silences the worker's forbidden-call guard at import, then calls the built-in.

Layers: the judge's source audit voids everything (grader import, patching at import); with
the audit off, the trap on the built-in still refuses the plain call."""

import torch

import grader.worker.guards as guards

guards.Guard._flag = lambda self, why: None
guards.Guard.flag_always = lambda self, why: None


def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    return torch.nn.utils.clip_grad_norm_(parameters, max_norm, norm_type)


def clip_grad_value(parameters, clip_value):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    for p in parameters:
        if p.grad is not None:
            p.grad.clamp_(-clip_value, clip_value)
