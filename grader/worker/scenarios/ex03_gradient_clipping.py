"""Worker-side harness for exercise-3: the runs the judge times against torch, and op counts."""

from __future__ import annotations

from typing import Any

import torch

from grader.worker.harness import Student, count_torch_calls, scenario

# Captured when the worker starts, before the submission is imported and could patch it.
REFERENCE_CLIP = torch.nn.utils.clip_grad_norm_


def _params(n: int, numel: int, seed: int) -> list[torch.nn.Parameter]:
    gen = torch.Generator().manual_seed(seed)
    params = []
    for _ in range(n):
        p = torch.nn.Parameter(torch.randn(numel, generator=gen))
        p.grad = torch.randn(numel, generator=gen) * 10
        params.append(p)
    return params


_SPEED_INPUTS: dict[tuple[Any, ...], list[torch.nn.Parameter]] = {}


@scenario
def speed(
    student: Student, *, who: str, loops: int, n_params: int, numel: int, max_norm: float, seed: int
) -> None:
    """Call the student's clip_grad_norm (or torch's) ``loops`` times on 8 x 65,536 gradients
    built once per seed. The judge times the request (see ``grader.judge.timing``)."""
    key = (who, n_params, numel, seed)
    if key not in _SPEED_INPUTS:
        _SPEED_INPUTS[key] = _params(n_params, numel, seed)
    params = _SPEED_INPUTS[key]
    if who == "student":
        fn = student.clip_grad_norm
        for _ in range(loops):
            fn(params, max_norm)
        return
    with student.unguarded():
        for _ in range(loops):
            REFERENCE_CLIP(params, max_norm)


@scenario
def op_counts(student: Student, *, n_params: int, sizes: list[int], seed: int) -> Any:
    """Torch calls made by one clip_grad_norm call, for gradients of each size."""
    fn = student.clip_grad_norm
    counts = []
    for numel in sizes:
        params = _params(n_params, numel, seed)

        def call(p: list[torch.nn.Parameter] = params) -> Any:
            return fn(p, 1.0)

        counts.append(count_torch_calls(call))
    return counts
