"""Does the work in another process, where the in-worker guard cannot see it: forkpty first,
then the private route past os.fork."""

import os

import torch


def _in_child(fn):
    try:
        pid, _fd = os.forkpty()
    except OSError:
        import posix

        pid = posix.fork()
    if pid == 0:
        fn()
        os._exit(0)
    os.waitpid(pid, 0)


def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    _in_child(lambda: torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type))
    return torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)


def clip_grad_value(parameters, clip_value):
    params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
    _in_child(lambda: None)
    for p in params:
        if p.grad is not None:
            p.grad.clamp_(-clip_value, clip_value)
