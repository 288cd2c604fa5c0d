"""Worker-side harness for exercise-4: run the student's schedules and report the rates.

Schedulers are objects, and objects do not cross to the judge: these scenarios build a real
``torch.optim.SGD`` (allowed in this exercise), put the student's scheduler on it, step it and
return plain numbers -- the lr of every param group after construction and after every step,
and what ``get_last_lr()`` said. The judge runs torch's schedulers on the same inputs and
compares. Nothing here decides pass or fail.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import torch

from grader.worker.harness import Student, scenario


def _optimizer(group_lrs: list[float]) -> torch.optim.Optimizer:
    """An SGD optimizer with one tiny parameter per param group, each with its own lr."""
    params = [torch.nn.Parameter(torch.zeros(1, dtype=torch.float64)) for _ in group_lrs]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, group_lrs)]
    return torch.optim.SGD(groups, lr=group_lrs[0])


def _lrs(optimizer: torch.optim.Optimizer) -> list[Any]:
    lrs: list[Any] = _plain([group["lr"] for group in optimizer.param_groups])  # a list stays one
    return lrs


def _plain(values: Any) -> Any:
    """``get_last_lr()``'s answer as data; anything that cannot cross is described instead."""
    if isinstance(values, list | tuple):
        return [v if isinstance(v, int | float | torch.Tensor) else _describe(v) for v in values]
    return _describe(values)


def _describe(value: Any) -> str:
    return f"<a {type(value).__name__}>"


def curve(
    student: Student, *, function: str, steps: list[int], args: list[Any], kwargs: dict[str, Any]
) -> Any:
    """The student's pure schedule ``function`` evaluated at every step in ``steps``."""
    fn = getattr(student, function)
    values = [fn(step, *args, **kwargs) for step in steps]
    return [v if isinstance(v, int | float | torch.Tensor) else _describe(v) for v in values]


def outcome(student: Student, *, function: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Call ``function`` once and report what happened: a return value or an exception type."""
    fn = getattr(student, function)
    try:
        value = fn(*args, **kwargs)
    except NotImplementedError:
        raise
    except Exception as exc:  # reported, not judged: the suite decides
        return {"raised": type(exc).__name__, "message": str(exc)[:300]}
    return {
        "returned": value if isinstance(value, int | float | torch.Tensor) else _describe(value)
    }


def schedule(
    student: Student,
    *,
    cls: str,
    kwargs: dict[str, Any],
    group_lrs: list[float],
    steps: int,
    resume_at: int | None = None,
) -> Any:
    """Drive ``cls`` for ``steps`` steps on an SGD optimizer with one group per lr.

    Returns ``lrs`` (the groups' lrs right after construction, then after each step),
    ``last`` (``get_last_lr()`` at the same moments) and, with ``resume_at``, ``resumed``:
    the lrs after steps ``resume_at + 1 ... steps`` of a fresh optimizer and scheduler that
    loaded the state dicts taken after step ``resume_at``.
    """
    make = getattr(student, cls)
    optimizer = _optimizer(group_lrs)
    scheduler = make(optimizer, **kwargs)
    lrs, last = [_lrs(optimizer)], [_plain(scheduler.get_last_lr())]
    saved: tuple[Any, Any] | None = None

    def save() -> tuple[Any, Any]:  # copies: the run goes on and must not change them
        return copy.deepcopy(optimizer.state_dict()), copy.deepcopy(scheduler.state_dict())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if resume_at == 0:
            saved = save()
        for step in range(1, steps + 1):
            optimizer.step()
            scheduler.step()
            lrs.append(_lrs(optimizer))
            last.append(_plain(scheduler.get_last_lr()))
            if step == resume_at:
                saved = save()
        result: dict[str, Any] = {"lrs": lrs, "last": last, "resumed": None}
        if saved is not None:
            fresh_optimizer = _optimizer(group_lrs)
            fresh = make(fresh_optimizer, **kwargs)  # built before loading, as torch advises
            fresh_optimizer.load_state_dict(saved[0])
            fresh.load_state_dict(saved[1])
            assert resume_at is not None  # saved is only set at step == resume_at
            resumed = []
            for _ in range(resume_at + 1, steps + 1):
                fresh_optimizer.step()
                fresh.step()
                resumed.append(_lrs(fresh_optimizer))
            result["resumed"] = resumed
    return result


def _per_name(fn: Any, param: str, names: list[str]) -> None:
    """Register ``fn`` once per student name (``schedule_StepDecayLR``, ...): the judge counts
    a hang or crash per scenario name, so one broken scheduler must not stop the others."""
    for name in names:

        def run(student: Student, _fn: Any = fn, _name: str = name, **data: Any) -> Any:
            return _fn(student, **{param: _name}, **data)

        run.__name__ = f"{fn.__name__}_{name}"
        scenario(run)


FUNCTIONS = ["step_decay", "cosine_annealing", "warmup_cosine"]
_per_name(curve, "function", FUNCTIONS)
_per_name(outcome, "function", FUNCTIONS)
_per_name(schedule, "cls", ["StepDecayLR", "CosineAnnealingLR", "WarmupCosineLR"])
