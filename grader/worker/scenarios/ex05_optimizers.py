"""Worker-side harness for exercise-5: run the student's optimizers and report the parameters.

An optimizer is an object, and objects do not cross to the judge. These scenarios build the
student's optimizer on fresh parameters from the judge's data, feed it the judge's gradients
step by step and return the parameter values after every step (plus, for a resume, the values
of a fresh optimizer that loaded ``state_dict()`` mid-run). The judge replays the same inputs
through ``torch.optim`` and compares. Nothing here decides pass or fail.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from grader.worker.harness import Student, scenario


def _build(
    student: Student,
    optimizer: str,
    groups: list[dict[str, Any]],
    values: list[torch.Tensor],
    kwargs: dict[str, Any],
    as_iterator: bool,
) -> tuple[Any, list[torch.nn.Parameter]]:
    """The student's ``optimizer`` on new parameters holding ``values`` (in group order)."""
    flat = [torch.nn.Parameter(v.detach().clone()) for v in values]
    it = iter(flat)
    spec = []
    for group in groups:
        params = [next(it) for _ in group["params"]]
        spec.append({**{k: v for k, v in group.items() if k != "params"}, "params": params})
    if len(spec) == 1 and len(spec[0]) == 1:  # a plain list (or model.parameters()-like)
        arg: Any = iter(spec[0]["params"]) if as_iterator else spec[0]["params"]
    else:
        arg = spec
    return getattr(student, optimizer)(arg, **kwargs), flat


def _set_grads(
    params: list[torch.nn.Parameter],
    grads: list[torch.Tensor | None],
    present: list[list[bool] | None],
    t: int,
) -> None:
    for p, g, mask in zip(params, grads, present):
        p.grad = g[t].clone() if g is not None and (mask is None or mask[t]) else None


def trajectory(
    student: Student,
    *,
    optimizer: str,
    groups: list[dict[str, Any]],
    kwargs: dict[str, Any],
    grads: list[torch.Tensor | None],
    present: list[list[bool] | None],
    steps: int,
    lrs: list[list[float]] | None = None,
    resume_at: int | None = None,
    as_iterator: bool = False,
) -> Any:
    """Run ``steps`` optimizer steps with the given gradients.

    ``grads[i]`` holds parameter i's gradient for every step (shape ``(steps, *shape)``) or
    is None (never a gradient); ``present[i][t]`` False means no gradient at step t. With
    ``lrs``, every group's ``lr`` is set to ``lrs[t][g]`` before step t. Returns ``params``:
    per parameter its values after every step, stacked; with ``resume_at``, ``resumed``: the
    same for steps ``resume_at ...`` of a fresh optimizer that loaded the ``state_dict()``
    taken after ``resume_at`` steps (the parameters restored to their values then).
    """
    values = [p for group in groups for p in group["params"]]
    opt, params = _build(student, optimizer, groups, values, kwargs, as_iterator)
    history: list[list[torch.Tensor]] = [[] for _ in params]
    saved: tuple[Any, list[torch.Tensor]] | None = None
    for t in range(steps):
        if t == resume_at:  # a copy: the run goes on and must not change it
            saved = copy.deepcopy(opt.state_dict()), [p.detach().clone() for p in params]
        if lrs is not None:
            for group, lr in zip(opt.param_groups, lrs[t]):
                group["lr"] = lr
        _set_grads(params, grads, present, t)
        opt.step()
        for h, p in zip(history, params):
            h.append(p.detach().clone())
    result: dict[str, Any] = {"params": [torch.stack(h) for h in history], "resumed": None}
    if saved is not None:
        state, at = saved
        fresh, fresh_params = _build(student, optimizer, groups, at, kwargs, as_iterator)
        fresh.load_state_dict(state)
        resumed: list[list[torch.Tensor]] = [[] for _ in fresh_params]
        assert resume_at is not None  # saved is only set at t == resume_at
        for t in range(resume_at, steps):
            if lrs is not None:
                for group, lr in zip(fresh.param_groups, lrs[t]):
                    group["lr"] = lr
            _set_grads(fresh_params, grads, present, t)
            fresh.step()
            for h, p in zip(resumed, fresh_params):
                h.append(p.detach().clone())
        result["resumed"] = [torch.stack(h) for h in resumed]
    return result


def zero_grad(
    student: Student,
    *,
    optimizer: str,
    values: list[torch.Tensor],
    grads: list[torch.Tensor],
    kwargs: dict[str, Any],
) -> Any:
    """Gradients after ``zero_grad()`` and after ``zero_grad(set_to_none=False)``."""
    opt, params = _build(student, optimizer, [{"params": values}], values, kwargs, False)
    for p, g in zip(params, grads):
        p.grad = g.clone()
    opt.step()
    opt.zero_grad()
    after_default = [p.grad for p in params]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    opt.zero_grad(set_to_none=False)
    return {"default": after_default, "keep": [p.grad for p in params]}


def _per_class(fn: Any, names: list[str]) -> None:
    """Register ``fn`` once per student class (``trajectory_Adam``, ...): the judge counts a
    hang or crash per scenario name, so one broken class must not stop the others' tests."""
    for name in names:

        def run(student: Student, _fn: Any = fn, _name: str = name, **data: Any) -> Any:
            return _fn(student, optimizer=_name, **data)

        run.__name__ = f"{fn.__name__}_{name}"
        scenario(run)


_per_class(trajectory, ["SGD", "Adam", "AdamW", "RMSprop"])
_per_class(zero_grad, ["SGD", "Adam", "AdamW", "RMSprop"])
