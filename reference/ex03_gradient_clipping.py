"""Reference for exercise-3: PyTorch's own ``clip_grad_norm_`` and ``clip_grad_value_``."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

TITLE = "Gradient clipping"
FORBIDDEN = [
    "torch.nn.utils.clip_grad_norm_",
    "torch.nn.utils.clip_grad_value_",
    "torch.nn.utils.get_total_norm",
    "torch.nn.utils.clip_grads_with_norm_",
    "torch.nn.utils.clip_grad.clip_grad_norm",
    "torch.nn.utils.clip_grad._get_total_norm",
    "torch.nn.utils.clip_grad._clip_grads_with_norm_",
]


def clip_grad_norm(
    parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0
) -> Tensor:
    return torch.nn.utils.clip_grad_norm_(parameters, max_norm, norm_type=norm_type)


def clip_grad_value(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    torch.nn.utils.clip_grad_value_(parameters, clip_value)
