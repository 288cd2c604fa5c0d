"""Student B of a class: a correct solution that answers wrongly if anything student A (the
previous student graded by the same process) left behind is visible to it."""

import builtins
import os
import tempfile

import torch

MARK = "tlg-left-by-student-a"


def _sees_a_mark() -> bool:
    if os.environ.get("TLG_LEFT_BY_STUDENT_A") or hasattr(builtins, "tlg_left_by_student_a"):
        return True
    if hasattr(torch, "tlg_left_by_student_a"):
        return True
    here = os.getcwd()
    folders = {here, os.path.dirname(here), tempfile.gettempdir(), "/tmp", "/dev/shm",
               os.environ.get("HOME", "/"), os.path.dirname(torch.__file__)}
    return any(os.path.exists(os.path.join(folder, MARK)) for folder in folders)


def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    params = [p for p in parameters if p.grad is not None]
    if not params:
        return torch.tensor(0.0)
    norms = torch.stack([torch.linalg.vector_norm(p.grad, norm_type) for p in params])
    total = torch.linalg.vector_norm(norms, norm_type)
    if _sees_a_mark():
        return total * 2
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for p in params:
        p.grad.mul_(coef)
    return total


def clip_grad_value(parameters, clip_value):
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    for p in parameters:
        if p.grad is not None:
            p.grad.clamp_(-clip_value, clip_value * (0.5 if _sees_a_mark() else 1.0))
