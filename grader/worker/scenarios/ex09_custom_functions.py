"""Worker-side harness for exercise-9: run the student's autograd Functions and report tensors.

``Function`` classes cannot leave the worker, so each scenario takes the class *name* and plain
input tensors, runs the student's class and returns plain tensors and flags; the judge compares
them with autograd of the built-ins.

Forbidden calls (autograd inside ``backward``; ``F.linear``/``F.silu``/``F.layer_norm``) are
caught by the worker's guard, which watches every student call. ``torch.autograd.grad`` is
itself one of them, and both ``gradcheck`` and the harness's own gradient computation call it,
so those run unguarded (the student's ``forward`` has run guarded in :func:`run` first), and
:func:`direct` calls ``forward`` and ``backward`` directly, under the guard, with a stand-in
``ctx`` -- that is where autograd inside ``backward`` shows.
"""

from __future__ import annotations

from typing import Any, TypedDict

import torch
from torch.autograd.gradcheck import GradcheckError

from grader.worker.harness import Student, scenario


class _GradcheckOptions(TypedDict):
    eps: float
    atol: float
    rtol: float
    nondet_tol: float
    fast_mode: bool


GRADCHECK: _GradcheckOptions = {
    "eps": 1e-6,
    "atol": 1e-8,
    "rtol": 1e-6,
    "nondet_tol": 0.0,
    "fast_mode": False,
}


def _cls(student: Student, name: str) -> Any:
    if name not in ("LinearFunction", "SiLUFunction", "LayerNormFunction", "StraightThroughRound"):
        raise ValueError(f"unknown Function {name!r}")
    return getattr(student, name)


def _plain(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return out.detach().clone()
    if isinstance(out, tuple | list):
        return [_plain(o) for o in out]
    return out


def _grads(out: Any, inputs: list[Any], grad_output: torch.Tensor) -> list[Any]:
    """d(sum(out * grad_output)) / d(input) for every tensor input that requires grad."""
    wanted = [t for t in inputs if isinstance(t, torch.Tensor) and t.requires_grad]
    if not isinstance(out, torch.Tensor) or out.grad_fn is None:
        return [None] * len(wanted)
    return [_plain(g) for g in torch.autograd.grad(out, wanted, grad_output, allow_unused=True)]


def _not_implemented(exc: NotImplementedError) -> dict[str, Any]:
    """A stub's NotImplementedError as data, so the judge can name the method."""
    return {"not_implemented": str(exc)[:300]}


@scenario
def run(
    student: Student,
    *,
    cls: str,
    inputs: list[Any],
    grad_output: torch.Tensor | None = None,
    gradcheck: bool = False,
) -> dict[str, Any]:
    """``cls.apply(*inputs)`` (guarded); its gradients for ``grad_output`` and ``gradcheck``."""
    fn = _cls(student, cls)
    try:
        out = fn.apply(*inputs)
    except NotImplementedError as exc:
        return _not_implemented(exc)
    result: dict[str, Any] = {"output": _plain(out), "grads": None, "gradcheck": None}
    with student.unguarded():
        if grad_output is not None:
            try:
                result["grads"] = _grads(out, inputs, grad_output)
            except NotImplementedError as exc:
                return _not_implemented(exc)
        if gradcheck:
            try:
                torch.autograd.gradcheck(fn.apply, tuple(inputs), **GRADCHECK)
                result["gradcheck"] = {"ok": True, "message": ""}
            except GradcheckError as exc:
                result["gradcheck"] = {"ok": False, "message": str(exc)[:1500]}
    return result


class Ctx:
    """A stand-in for autograd's ``ctx`` when ``forward``/``backward`` are called directly."""

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple[torch.Tensor, ...] = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors: Any) -> None:
        self.saved_tensors = tuple(tensors)

    def mark_non_differentiable(self, *args: Any) -> None:
        pass

    def mark_dirty(self, *args: Any) -> None:
        pass

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = value


def _overrides_setup_context(fn: Any) -> bool:
    base = torch.autograd.function._SingleLevelFunction.setup_context
    return getattr(fn, "setup_context", base) is not base


@scenario
def direct(
    student: Student, *, cls: str, inputs: list[Any], grad_output: torch.Tensor
) -> dict[str, Any]:
    """Call ``forward`` then ``backward`` directly, no autograd involved, all under the guard."""
    fn = _cls(student, cls)
    ctx = Ctx(tuple(isinstance(t, torch.Tensor) and t.is_floating_point() for t in inputs))
    plain = [t.detach() if isinstance(t, torch.Tensor) else t for t in inputs]
    try:
        with torch.no_grad():
            if _overrides_setup_context(fn):
                out = fn.forward(*plain)
                fn.setup_context(ctx, tuple(plain), out)
            else:
                out = fn.forward(ctx, *plain)
            grads = fn.backward(ctx, grad_output)
    except NotImplementedError as exc:
        return _not_implemented(exc)
    if not isinstance(grads, tuple | list):
        grads = [grads]
    return {"output": _plain(out), "grads": _plain(list(grads))}
