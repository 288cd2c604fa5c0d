"""Inputs, expectations and diagnoses for exercise-9 (custom autograd Functions).

Expectations come from autograd of the built-in ops (``F.linear``, ``F.silu``,
``F.layer_norm``; the identity for the straight-through estimator's backward) in float64.
Gradients are compared per input, so a failure names the input whose gradient is wrong
("the gradient for bias (input 3)") and, when the numbers fit, the pattern: a constant factor
such as the batch size (a mean instead of a sum), a sign flip, a transpose, ``grad_output``
ignored, all zeros.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from grader.judge import checks
from grader.judge.failures import Failure, NotImplementedYet

F64 = torch.float64
NAMES = {
    "LinearFunction": ["x", "weight", "bias"],
    "SiLUFunction": ["x"],
    "LayerNormFunction": ["x", "weight", "bias", "eps"],
    "StraightThroughRound": ["x"],
}
GRAD_RTOL, GRAD_ATOL = 1e-9, 1e-11


def _layer_norm(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, eps: float) -> torch.Tensor:
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


BUILTIN: dict[str, Callable[..., torch.Tensor]] = {
    "LinearFunction": F.linear,
    "SiLUFunction": F.silu,
    "LayerNormFunction": _layer_norm,
    "StraightThroughRound": torch.round,
}


# -- inputs -----------------------------------------------------------------------------------
def _randn(gen: torch.Generator, *shape: int, dtype: torch.dtype = F64) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=F64).to(dtype)


def linear_inputs(seed: int, n: int, d_in: int, d_out: int, dtype: torch.dtype = F64) -> list[Any]:
    gen = torch.Generator().manual_seed(seed)
    return [
        _randn(gen, n, d_in, dtype=dtype),
        _randn(gen, d_out, d_in, dtype=dtype),
        _randn(gen, d_out, dtype=dtype),
    ]


def silu_inputs(seed: int, shape: Sequence[int], scale: float = 2.0) -> list[Any]:
    gen = torch.Generator().manual_seed(seed)
    return [_randn(gen, *shape) * scale]


def layer_norm_inputs(
    seed: int, shape: Sequence[int], eps: float, *, scale: float = 1.0, shift: float = 0.0
) -> list[Any]:
    gen = torch.Generator().manual_seed(seed)
    d = shape[-1]
    x = _randn(gen, *shape) * scale + shift
    return [x, 1.0 + 0.5 * _randn(gen, d), 0.5 * _randn(gen, d), eps]


def round_inputs(seed: int, shape: Sequence[int]) -> list[Any]:
    """Values away from the .5 ties plus exact halves (-2.5 ... 2.5), where rounding is to even."""
    gen = torch.Generator().manual_seed(seed)
    x = _randn(gen, *shape) * 3
    halves = torch.tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5], dtype=F64)
    flat = x.flatten()
    flat[: min(6, flat.numel())] = halves[: min(6, flat.numel())]
    return [flat.reshape(x.shape)]


def grad_output_like(seed: int, out: torch.Tensor) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed + 7919)
    return torch.randn(out.shape, generator=gen, dtype=F64).to(out.device, out.dtype)


def on(device: str, inputs: Sequence[Any]) -> list[Any]:
    """The inputs moved to ``device`` (numbers stay numbers)."""
    return [t.to(device) if isinstance(t, torch.Tensor) else t for t in inputs]


def with_grad(inputs: Sequence[Any]) -> list[Any]:
    """Fresh copies of the tensor inputs that require grad (what the worker receives)."""
    return [
        t.detach().clone().requires_grad_(True) if isinstance(t, torch.Tensor) else t
        for t in inputs
    ]


# -- expectations -----------------------------------------------------------------------------
def expected(
    cls: str, inputs: Sequence[Any], grad_output: torch.Tensor | None
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The built-in's output and its gradients for ``grad_output`` (identity for the STE)."""
    leaves = with_grad(inputs)
    out = BUILTIN[cls](*leaves)
    if grad_output is None:
        return out.detach(), []
    tensors = [t for t in leaves if isinstance(t, torch.Tensor)]
    if cls == "StraightThroughRound":
        return out.detach(), [grad_output.clone()]
    grads = torch.autograd.grad(out, tensors, grad_output)
    return out.detach(), list(grads)


# -- checks -----------------------------------------------------------------------------------
def check_forward(cls: str, got: Any, inputs: Sequence[Any]) -> None:
    exp, _ = expected(cls, inputs, None)
    hints: list[checks.Hint] = []
    if cls == "StraightThroughRound":
        x = inputs[0]

        def half_up(g: torch.Tensor, e: torch.Tensor) -> str | None:
            if torch.equal(g.double(), torch.floor(x + 0.5).double()):
                return "torch.round rounds halves to even (0.5 -> 0, 1.5 -> 2, 2.5 -> 2): use it"
            return None

        hints.append(half_up)
    builtin = {
        "LinearFunction": "F.linear",
        "SiLUFunction": "F.silu",
        "LayerNormFunction": "F.layer_norm",
        "StraightThroughRound": "torch.round",
    }[cls]
    checks.close(got, exp, f"{cls}.apply(...) (compared with {builtin})", hints=hints)


def _ignores_grad_output(
    cls: str, inputs: Sequence[Any], index: int, got: torch.Tensor
) -> str | None:
    out, _ = expected(cls, inputs, None)
    _, with_ones = expected(cls, inputs, torch.ones_like(out))
    alt = with_ones[index]
    if alt is not None and alt.shape == got.shape and torch.allclose(got, alt, 1e-8, 1e-10):
        return "it is the gradient for grad_output = 1: multiply by grad_output (chain rule)"
    return None


def _pattern_hint(failure: Failure, got: torch.Tensor, exp: torch.Tensor) -> str:
    if failure.hint:
        return failure.hint
    if got.shape == exp.shape and torch.count_nonzero(got) == 0:
        return "it is all zeros"
    return ""


def check_grads(
    cls: str,
    got: Any,
    inputs: Sequence[Any],
    grad_output: torch.Tensor,
    *,
    factor_hints: dict[int, dict[float, str]] | None = None,
) -> None:
    """Each input's gradient against the built-in's; a failure names the input and pattern."""
    _, exp = expected(cls, inputs, grad_output)
    names = [n for n, t in zip(NAMES[cls], inputs) if isinstance(t, torch.Tensor)]
    if not isinstance(got, list) or len(got) != len(exp):
        raise Failure(f"{cls}: expected {len(exp)} gradients ({', '.join(names)}), got {got!r}")
    wrong: list[tuple[int, Failure]] = []
    for i, (g, e) in enumerate(zip(got, exp)):
        what = f"{cls}: the gradient for {names[i]} (input {i + 1} of apply)"
        if g is None:
            wrong.append(
                (i, Failure(f"{what} is None, expected a tensor of shape {tuple(e.shape)}"))
            )
            continue

        def grad_output_hint(g_: torch.Tensor, e_: torch.Tensor, i: int = i) -> str | None:
            return _ignores_grad_output(cls, inputs, i, g_)

        try:
            checks.close(
                g,
                e,
                what,
                rtol=GRAD_RTOL if e.dtype == F64 else None,
                atol=GRAD_ATOL * max(1.0, float(e.abs().max())) if e.dtype == F64 else None,
                factor_hints=(factor_hints or {}).get(i),
                hints=[grad_output_hint],
            )
        except Failure as failure:
            if isinstance(g, torch.Tensor):
                failure.hint = _pattern_hint(failure, g, e)
            wrong.append((i, failure))
    if not wrong:
        return
    i, first = wrong[0]
    right = [names[k] for k in range(len(names)) if k not in {j for j, _ in wrong}]
    which = (
        f"only the gradient for {names[i]} is wrong (those for {', '.join(right)} are right)"
        if right
        else f"the gradient for {names[i]} is wrong"
        if len(wrong) == 1
        else f"the gradients for {', '.join(names[j] for j, _ in wrong)} are wrong"
    )
    first.hint = f"{which}: {first.hint}" if first.hint else which
    raise first


def check_gradcheck(cls: str, result: dict[str, Any] | None, inputs: Sequence[Any]) -> None:
    if result is None or result.get("ok"):
        return
    shapes = ", ".join(
        str(tuple(t.shape)) if isinstance(t, torch.Tensor) else repr(t) for t in inputs
    )
    raise Failure(
        f"torch.autograd.gradcheck({cls}.apply) failed for inputs {shapes} (float64, slow mode, "
        f"eps 1e-6, atol 1e-8, rtol 1e-6): {result.get('message', '')}",
        "backward's gradients disagree with finite differences of forward",
    )


def raise_not_implemented(name: str, got: dict[str, Any]) -> None:
    """A scenario reports a stub's NotImplementedError as data; name what is missing."""
    if "not_implemented" in got:
        said = got["not_implemented"]
        raise NotImplementedYet(
            f"{name} is not implemented yet (it raised NotImplementedError"
            f"{': ' + said if said else ''})"
        )


def check_case(
    student: Any,
    cls: str,
    inputs: Sequence[Any],
    seed: int,
    *,
    gradcheck: bool = False,
    factor_hints: dict[int, dict[float, str]] | None = None,
) -> None:
    """Forward, gradients for a random grad_output, and (optionally) gradcheck, in one call."""
    out, _ = expected(cls, inputs, None)
    grad_output = grad_output_like(seed, out)
    got = student.scenario(
        "run", cls=cls, inputs=with_grad(inputs), grad_output=grad_output, gradcheck=gradcheck
    )
    raise_not_implemented(cls, got)
    check_forward(cls, got["output"], inputs)
    check_grads(cls, got["grads"], inputs, grad_output, factor_hints=factor_hints)
    check_gradcheck(cls, got["gradcheck"], inputs)


def check_direct(student: Any, cls: str, inputs: Sequence[Any], seed: int) -> None:
    """forward/backward called directly (no autograd; the guard sees autograd in backward)."""
    out, _ = expected(cls, inputs, None)
    grad_output = grad_output_like(seed, out)
    got = student.scenario("direct", cls=cls, inputs=list(inputs), grad_output=grad_output)
    raise_not_implemented(cls, got)
    check_forward(cls, got["output"], inputs)
    grads = [g for g, t in zip(got["grads"], inputs) if isinstance(t, torch.Tensor)]
    check_grads(cls, grads, inputs, grad_output)


def batch_hints(n: int, what: str) -> dict[float, str]:
    """Factor hints for a gradient that should be summed over ``n`` rows."""
    if n <= 1:
        return {}
    return {
        1 / n: f"did you average over the {what} (mean) instead of summing?",
        float(n): f"is the sum over the {what} counted {n} times?",
    }
