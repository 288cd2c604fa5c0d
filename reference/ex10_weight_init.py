"""Reference for exercise-10: ``torch.nn.init`` itself."""

from __future__ import annotations

import torch
from torch import Tensor, nn

TITLE = "Weight initialization"
FORBIDDEN = [
    "torch.nn.init.calculate_gain",
    "torch.nn.init._calculate_fan_in_and_fan_out",
    "torch.nn.init._calculate_correct_fan",
    "torch.nn.init._no_grad_uniform_",
    "torch.nn.init._no_grad_normal_",
    "torch.nn.init._no_grad_trunc_normal_",
    "torch.nn.init._no_grad_fill_",
    "torch.nn.init._no_grad_zero_",
    "torch.nn.init.uniform_",
    "torch.nn.init.normal_",
    "torch.nn.init.trunc_normal_",
    "torch.nn.init.constant_",
    "torch.nn.init.ones_",
    "torch.nn.init.zeros_",
    "torch.nn.init.eye_",
    "torch.nn.init.dirac_",
    "torch.nn.init.xavier_uniform_",
    "torch.nn.init.xavier_normal_",
    "torch.nn.init.kaiming_uniform_",
    "torch.nn.init.kaiming_normal_",
    "torch.nn.init.orthogonal_",
    "torch.nn.init.sparse_",
    "torch.nn.init.uniform",
    "torch.nn.init.normal",
    "torch.nn.init.constant",
    "torch.nn.init.xavier_uniform",
    "torch.nn.init.xavier_normal",
    "torch.nn.init.kaiming_uniform",
    "torch.nn.init.kaiming_normal",
]
# The judge's source audit (grader/judge/audit/) reads this literal, like FORBIDDEN, before any
# student code runs. The file may import the course baseline (grader/judge/audit/policy.py, each
# module with its public submodules), plus "imports_add", minus "imports_drop". "extras": what
# else it may not touch, however spelled (".name": any attribute of that name; "a.b": that module
# or API and everything under it). "why" and "instead": what the student reads next to a use of
# FORBIDDEN or "extras".
AUDIT = {
    "extras": ["torch.nn.init"],
    "why": "exercise-10 is writing the initializers yourself",
    "instead": (
        "fill the tensor with `Tensor.uniform_`, `Tensor.normal_` or `Tensor.zero_` under "
        "`torch.no_grad()`"
    ),
}
# The initializers fill the tensor they are given (and return it): that change is the answer.
IN_PLACE = ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]


def calculate_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    return nn.init._calculate_fan_in_and_fan_out(torch.empty(shape, device="meta"))


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    # torch types the name as a Literal of the names it knows, and refuses others (ValueError).
    return nn.init.calculate_gain(nonlinearity, param)  # type: ignore[arg-type]


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    return nn.init.xavier_uniform_(tensor, gain)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    return nn.init.xavier_normal_(tensor, gain)


def kaiming_uniform_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    return nn.init.kaiming_uniform_(tensor, a, mode, nonlinearity)  # type: ignore[arg-type]


def kaiming_normal_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    return nn.init.kaiming_normal_(tensor, a, mode, nonlinearity)  # type: ignore[arg-type]


def init_mlp_(model: nn.Module) -> nn.Module:
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return model
