"""Worker-side harness for exercise-10: in-place behaviour, RNG use and ``init_mlp_``.

Plain statistical tests call the student's initializers directly through the proxy; these
scenarios cover what does not survive the trip back to the judge: object identity (in place,
returns the tensor), the worker's own global RNG, and modules. ``nn.Linear`` itself calls
``torch.nn.init`` while it is constructed, so models are built unguarded.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from grader.worker.harness import Student, scenario

INITS = ("xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_")


def _fn(student: Student, name: str) -> Any:
    if name not in INITS:
        raise ValueError(f"unknown initializer {name!r}")
    return getattr(student, name)


@scenario
def in_place(student: Student, *, fn: str, shape: list[int], kwargs: dict[str, Any]) -> Any:
    """Fill a parameter and a plain tensor; report identity, storage and grad tracking."""
    init = _fn(student, fn)
    out: dict[str, Any] = {}
    for label, tensor in (
        ("tensor", torch.zeros(shape)),
        ("parameter", nn.Parameter(torch.zeros(shape))),
    ):
        ptr = tensor.data_ptr()
        try:
            result = init(tensor, **kwargs)
        except NotImplementedError as exc:
            return {"not_implemented": str(exc)[:300]}
        out[label] = {
            "returned_same_object": result is tensor,
            "same_storage": tensor.data_ptr() == ptr,
            "changed": bool((tensor != 0).any()),
            "is_leaf": tensor.is_leaf,
            "requires_grad": tensor.requires_grad,
            "values": tensor.detach().clone(),
        }
    return out


@scenario
def seeded(
    student: Student, *, fn: str, shape: list[int], kwargs: dict[str, Any], seeds: list[int]
) -> list[torch.Tensor] | dict[str, str]:
    """One initialization after ``torch.manual_seed(s)`` for each seed."""
    init = _fn(student, fn)
    results = []
    for s in seeds:
        with student.unguarded():
            torch.manual_seed(s)
        t = torch.empty(shape)
        try:
            init(t, **kwargs)
        except NotImplementedError as exc:
            return {"not_implemented": str(exc)[:300]}
        results.append(t.clone())
    return results


def _model(kind: str) -> nn.Module:
    if kind == "mlp":
        return nn.Sequential(
            nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 16)
        )
    if kind == "nested":

        class Block(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.norm = nn.LayerNorm(128)
                self.inner = nn.Sequential(nn.Linear(128, 512, bias=False), nn.ReLU())
                self.out = nn.Linear(512, 32)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                y: torch.Tensor = self.out(self.inner(self.norm(x)))  # Module calls are Any
                return y

        return nn.Sequential(nn.Linear(32, 128), Block())
    raise ValueError(kind)


@scenario
def init_mlp(student: Student, *, kind: str, seed: int) -> dict[str, Any]:
    """Build a model (biases 0.5, LayerNorm weights 2), run ``init_mlp_``, report parameters."""
    with student.unguarded():
        torch.manual_seed(seed)
        model = _model(kind)
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.Linear) and m.bias is not None:
                    m.bias.fill_(0.5)
                if isinstance(m, nn.LayerNorm):
                    m.weight.fill_(2.0)
                    m.bias.fill_(-1.0)
    try:
        result = student.init_mlp_(model)
    except NotImplementedError as exc:
        return {"not_implemented": str(exc)[:300]}
    return {
        "returned_model": result is model,
        "params": {name: p.detach().clone() for name, p in model.named_parameters()},
        "linear": [name for name, m in model.named_modules() if isinstance(m, nn.Linear)],
    }
