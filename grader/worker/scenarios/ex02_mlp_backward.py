"""Worker-side harness for exercise-2: op counts and speed of ``mlp_backward``.

The timing baseline is autograd on the same network (captured at import, before the
submission is loaded and could patch anything), run outside the guard.
"""

from __future__ import annotations

from typing import Any

import torch

from grader.worker.harness import Student, count_torch_calls, scenario

AUTOGRAD_GRAD = torch.autograd.grad
CROSS_ENTROPY = torch.nn.functional.cross_entropy


def _inputs(n: int, d: int, h: int, c: int, seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=gen)
    y = torch.randint(0, c, (n,), generator=gen)
    W1 = torch.randn(d, h, generator=gen) / d**0.5
    b1 = torch.randn(h, generator=gen) * 0.1
    W2 = torch.randn(h, c, generator=gen) / h**0.5
    b2 = torch.randn(c, generator=gen) * 0.1
    return [X, y, W1, b1, W2, b2]


def _autograd_backward(X: Any, y: Any, *params: torch.Tensor) -> tuple[torch.Tensor, ...]:
    W1, b1, W2, b2 = params
    with torch.enable_grad():
        logits = torch.relu(X @ W1 + b1) @ W2 + b2
        return AUTOGRAD_GRAD(CROSS_ENTROPY(logits, y), params)


@scenario
def op_counts(student: Student, *, sizes: list[int], d: int, h: int, c: int, seed: int) -> Any:
    """Torch calls made by one mlp_backward call, for each batch size in ``sizes``."""
    fn = student.mlp_backward
    counts = []
    for n in sizes:
        args = _inputs(n, d, h, c, seed)

        def call(a: list[torch.Tensor] = args) -> Any:
            return fn(*a)

        counts.append(count_torch_calls(call))
    return counts


_SPEED_INPUTS: dict[tuple[Any, ...], list[torch.Tensor]] = {}


@scenario
def speed(
    student: Student, *, who: str, loops: int, n: int, d: int, h: int, c: int, seed: int
) -> None:
    """Run the student's mlp_backward (or autograd's backward) ``loops`` times on a batch
    built once per seed. The judge times the request (see ``grader.judge.timing``)."""
    key = (n, d, h, c, seed)
    if key not in _SPEED_INPUTS:
        _SPEED_INPUTS[key] = _inputs(n, d, h, c, seed)
    X, y, *params = _SPEED_INPUTS[key]
    if who == "student":
        fn = student.mlp_backward
        for _ in range(loops):
            fn(X, y, *params)
        return
    leaves = [p.clone().requires_grad_(True) for p in params]
    with student.unguarded():
        for _ in range(loops):
            _autograd_backward(X, y, *leaves)
