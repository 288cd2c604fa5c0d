"""Worker-side harness for exercise-3: speed against torch and op counts."""

from __future__ import annotations

from typing import Any

import torch

from grader.worker.harness import Student, compare_timing, count_torch_calls, scenario

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


@scenario
def speed(student: Student, *, n_params: int, numel: int, max_norm: float, seed: int) -> Any:
    """Interleaved timing of the student's clip_grad_norm against torch's."""
    fn = student.clip_grad_norm
    fn(_params(n_params, 16, seed), max_norm)  # one small watched call: forbidden use is caught
    mine, theirs = _params(n_params, numel, seed), _params(n_params, numel, seed)
    with student.unguarded():
        return compare_timing(
            lambda: fn(mine, max_norm), lambda: REFERENCE_CLIP(theirs, max_norm), block_s=0.005
        )


@scenario
def op_counts(student: Student, *, n_params: int, sizes: list[int], seed: int) -> Any:
    """Torch calls made by one clip_grad_norm call, for gradients of each size."""
    fn = student.clip_grad_norm
    counts = []
    for numel in sizes:
        params = _params(n_params, numel, seed)
        counts.append(count_torch_calls(lambda p=params: fn(p, 1.0)))
    return counts
