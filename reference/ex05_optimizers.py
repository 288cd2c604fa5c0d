"""Reference for exercise-5: ``torch.optim.SGD``, ``Adam``, ``AdamW`` and ``RMSprop``.

Thin subclasses that pin the student-facing signatures of COURSE.md (RMSprop without
``weight_decay``/``centered``); the updates are torch's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

TITLE = "Optimizers beyond SGD"
FORBIDDEN = [
    "torch.optim.SGD",
    "torch.optim.Adam",
    "torch.optim.AdamW",
    "torch.optim.RMSprop",
    "torch.optim._functional.adadelta",
    "torch.optim._functional.adagrad",
    "torch.optim._functional.adam",
    "torch.optim._functional.adamax",
    "torch.optim._functional.adamw",
    "torch.optim._functional.asgd",
    "torch.optim._functional.nadam",
    "torch.optim._functional.radam",
    "torch.optim._functional.rmsprop",
    "torch.optim._functional.rprop",
    "torch.optim._functional.sgd",
    "torch.optim._functional.sparse_adam",
    "torch.optim.sgd._single_tensor_sgd",
    "torch.optim.sgd._multi_tensor_sgd",
    "torch.optim.sgd._fused_sgd",
    "torch.optim.adam._single_tensor_adam",
    "torch.optim.adam._multi_tensor_adam",
    "torch.optim.adam._fused_adam",
    "torch.optim.rmsprop._single_tensor_rmsprop",
    "torch.optim.rmsprop._multi_tensor_rmsprop",
    "torch._fused_sgd_",
    "torch._fused_adam_",
    "torch._fused_adamw_",
    "torch._fused_adagrad_",
]
# The judge's source audit (grader/judge/audit/) reads this literal, like FORBIDDEN, before any
# student code runs. The file may import the course baseline (grader/judge/audit/policy.py, each
# module with its public submodules), plus "imports_add", minus "imports_drop". "extras": what
# else it may not touch, however spelled (".name": any attribute of that name; "a.b": that module
# or API and everything under it). "why" and "instead": what the student reads next to a use of
# FORBIDDEN or "extras".
AUDIT = {
    # torch's other optimizers: ASGD with lambd=0 is plain SGD, and none is needed here
    "extras": [
        "torch.optim.ASGD",
        "torch.optim.Adadelta",
        "torch.optim.Adafactor",
        "torch.optim.Adagrad",
        "torch.optim.Adamax",
        "torch.optim.LBFGS",
        "torch.optim.NAdam",
        "torch.optim.RAdam",
        "torch.optim.Rprop",
        "torch.optim.SparseAdam",
    ],
    "why": "exercise-5 is writing the optimizers' updates yourself",
    "instead": (
        "subclass `torch.optim.Optimizer` and write the update with in-place tensor "
        "operations (`mul_`, `add_`, `addcdiv_`)"
    ),
}

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


class SGD(torch.optim.SGD):
    def __init__(
        self,
        params: Params,
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
        )


class Adam(torch.optim.Adam):
    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


class AdamW(torch.optim.AdamW):
    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


class RMSprop(torch.optim.RMSprop):
    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
    ) -> None:
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, momentum=momentum)
