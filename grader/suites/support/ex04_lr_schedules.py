"""Torch runs, comparisons and diagnoses for exercise-4 (learning-rate schedules).

The judge never holds the student's scheduler: the worker scenarios in
``grader/worker/scenarios/ex04_lr_schedules.py`` step it and send back the learning rates. The
same schedules run on torch's schedulers (``reference/ex04_lr_schedules.py``, driven by
``reference/support/ex04_lr_schedules.py``), and the two sequences are compared step by step
with the tolerance of COURSE.md (about $10^{-12}$ times the base lr), naming the first step and
param group that differ and -- when the numbers fit -- the classic mistake.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from grader.judge import checks
from grader.judge.expectations import answers
from grader.judge.failures import Failure

REL = 1e-12  # tolerance: REL * base_lr absolute, plus REL relative
FIGURE_REL = 1e-3  # course figures are printed with 3-4 significant digits

# The pure function, the scheduler class that computes the same schedule, and the names of the
# function's positional arguments after ``step`` (the first of them is the base lr).
FUNCTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "step_decay": ("StepDecayLR", ("base_lr", "step_size", "gamma")),
    "cosine_annealing": ("CosineAnnealingLR", ("base_lr", "total_steps")),
    "warmup_cosine": ("WarmupCosineLR", ("base_lr", "warmup_steps", "total_steps")),
}

OFF_BY_ONE_BEHIND = (
    "your schedule runs one step behind torch's: your lr at step t is torch's lr at step t-1. "
    "Steps count from 0 and step 0 is the lr of the first optimizer step: a scheduler's "
    "constructor must already set the step-0 lr, and step() moves to the next step before "
    "computing its lr (LRScheduler increments self.last_epoch, then calls get_lr())"
)
OFF_BY_ONE_AHEAD = (
    "your schedule runs one step ahead of torch's: your lr at step t is torch's lr at step t+1. "
    "Steps count from 0: the first optimizer step uses the step-0 lr (base_lr, or "
    "warmup_start_factor * base_lr with warmup), so don't add 1 to the step"
)
FIRST_GROUP_ONLY = (
    "only the first param group follows the schedule: compute one lr per param group, each "
    "from that group's own initial lr (loop over self.base_lrs / optimizer.param_groups)"
)
LAST_LR_FIRST_ONLY = (
    "get_last_lr() lists only the first param group: return one lr per group, the values the "
    "scheduler last wrote (e.g. [group['lr'] for group in self.optimizer.param_groups])"
)
UNSET_AT_CONSTRUCTION = (
    "the constructor left the lr unchanged: constructing the scheduler must already set the "
    "step-0 lr (LRScheduler.__init__ does it by calling step() once)"
)
RESTARTED = (
    "the resumed scheduler started over from step 0: state_dict() must hold the step count "
    "(LRScheduler keeps it in last_epoch) and load_state_dict() must restore it"
)


# -- torch runs ------------------------------------------------------------------------------
# (cls, kwargs, group_lrs, steps) -> torch's lr of every group after construction and after
# each of ``steps`` steps.
reference_schedule = answers("support.ex04_lr_schedules").reference_schedule


def reference_curve(
    name: str, args: Sequence[Any], kwargs: dict[str, Any], last: int
) -> list[float]:
    """torch's value of the pure function ``name`` at steps 0 ... ``last``."""
    cls, arg_names = FUNCTIONS[name]
    named = dict(zip(arg_names, args))
    base_lr = named.pop("base_lr")
    lrs = reference_schedule(cls, {**named, **kwargs}, [base_lr], last)
    return [row[0] for row in lrs]


# -- calling the student ---------------------------------------------------------------------
def run(student: Any, scenario: str, **data: Any) -> Any:
    """``student.scenario(...)`` with this exercise's time limit (the judge's own messages
    name the student's function or class)."""
    return student.scenario(scenario, timeout=20, **data)


def student_curve(
    student: Any, name: str, steps: Sequence[int], args: Sequence[Any], kwargs: dict[str, Any]
) -> list[float]:
    got = run(student, f"curve_{name}", steps=list(steps), args=list(args), kwargs=kwargs)
    return [number(v, f"{name}({call_text(s, args, kwargs)})") for s, v in zip(steps, got)]


def call_text(step: int, args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    parts = [str(step), *(checks.fmt(a) for a in args)]
    parts += [f"{k}={checks.fmt(v)}" for k, v in kwargs.items()]
    return ", ".join(parts)


def number(value: Any, what: str) -> float:
    """A learning rate as a float: Python numbers and one-element tensors are accepted."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.item())
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Failure(
            f"{what}: expected a learning rate (a Python float), got {checks.fmt(value)}",
            "return a plain float (math.cos works on floats; use .item() on a tensor)",
        )
    return float(value)


# -- comparisons -----------------------------------------------------------------------------
def shown(expected: float, got: float) -> tuple[str, str]:
    """Both numbers, with enough digits to see that they differ."""
    e, g = checks.fmt(expected), checks.fmt(got)
    digits = 7
    while e == g and expected != got and digits <= 17:
        e, g = f"{expected:.{digits}g}", f"{got:.{digits}g}"
        digits += 1
    return e, g


def _close(got: float, expected: float, base: float) -> bool:
    if math.isnan(got) or math.isnan(expected):
        return False
    return abs(got - expected) <= REL * abs(base) + REL * abs(expected)


def shift_hint(got: Sequence[float], expected: Sequence[float], base: float, first: float) -> str:
    """The off-by-one hint when every wrong value is torch's value one step away.

    ``expected`` covers one step more than ``got``; ``first`` is the lr before any schedule
    (what a lagging scheduler still shows right after construction; NaN: anything goes).
    """
    wrong = [t for t, g in enumerate(got) if not _close(g, expected[t], base)]
    if not wrong:
        return ""
    if all(t + 1 < len(expected) and _close(got[t], expected[t + 1], base) for t in wrong):
        return OFF_BY_ONE_AHEAD
    behind = all(
        _close(got[t], expected[t - 1], base)
        if t > 0
        else math.isnan(first) or _close(got[t], first, base)
        for t in wrong
    )
    return OFF_BY_ONE_BEHIND if behind and wrong[-1] > 0 else ""


def check_curve(
    got: Sequence[float],
    expected: Sequence[float],
    steps: Sequence[int],
    what: str,
    base: float,
    hint: str = "",
) -> None:
    """Every value within the schedule tolerance; the first wrong step is reported."""
    for s, g, e in zip(steps, got, expected):
        if not _close(g, e, base):
            raise Failure(
                f"{what} at step {s}: expected {shown(e, g)[0]}, got {shown(e, g)[1]} "
                f"(difference {abs(g - e):.3g}, tolerance {REL * (abs(base) + abs(e)):.3g})",
                hint,
            )


def check_function(
    student: Any, name: str, args: Sequence[Any], kwargs: dict[str, Any], last: int
) -> list[float]:
    """The pure function ``name`` over steps 0 ... ``last`` against torch."""
    steps = list(range(last + 1))
    got = student_curve(student, name, steps, args, kwargs)
    expected = reference_curve(name, args, kwargs, last + 1)
    base = float(args[0])
    hint = shift_hint(got, expected, base, first=math.nan)
    check_curve(got, expected, steps, f"{name}(step, {call_text(0, args, kwargs)[3:]})", base, hint)
    return got


def check_figure(
    got: Sequence[float], figure: Sequence[float], steps: Sequence[int], what: str
) -> None:
    """Values printed in COURSE.md section 3, to their printed precision."""
    for s, g, f in zip(steps, got, figure):
        if not math.isclose(g, f, rel_tol=FIGURE_REL, abs_tol=5e-5):
            raise Failure(f"{what} at step {s}: the course figure says {f:g}, got {checks.fmt(g)}")


def run_schedule(
    student: Any,
    cls: str,
    kwargs: dict[str, Any],
    group_lrs: Sequence[float],
    steps: int,
    resume_at: int | None = None,
) -> dict[str, Any]:
    """Drive the student's ``cls`` in the worker; lrs come back as floats, checked per group."""
    n = len(group_lrs)
    result: dict[str, Any] = run(  # the scenario's dict (see the worker's schedule())
        student,
        f"schedule_{cls}",
        kwargs=kwargs,
        group_lrs=list(group_lrs),
        steps=steps,
        resume_at=resume_at,
    )
    result["lrs"] = [
        [number(v, f"{cls}: param group {g}'s lr at step {t}") for g, v in enumerate(row)]
        for t, row in enumerate(result["lrs"])
    ]
    if result.get("resumed") is not None:
        result["resumed"] = [
            [number(v, f"{cls} (resumed): param group {g}'s lr") for g, v in enumerate(row)]
            for row in result["resumed"]
        ]
    for row in [*result["lrs"], *(result.get("resumed") or [])]:
        if len(row) != n:  # the harness reads the optimizer's groups: only a broken one differs
            raise Failure(f"{cls}: the optimizer has {len(row)} param groups, expected {n}")
    return result


def group_hint(
    got: list[list[float]], expected: list[list[float]], group_lrs: Sequence[float]
) -> str:
    """The first-group-only hint: group 0 right, every other group frozen or copying group 0."""
    n = len(group_lrs)
    if n < 2:
        return ""
    column = [[row[g] for row in got] for g in range(n)]
    truth = [[row[g] for row in expected] for g in range(n)]

    def same(a: Sequence[float], b: Sequence[float], base: float) -> bool:
        return all(_close(x, y, base) for x, y in zip(a, b))

    if not same(column[0], truth[0], group_lrs[0]):
        return ""
    others_wrong = [g for g in range(1, n) if not same(column[g], truth[g], group_lrs[g])]
    if others_wrong and all(
        same(column[g], [group_lrs[g]] * len(column[g]), group_lrs[g])
        or same(column[g], column[0], group_lrs[g])
        for g in others_wrong
    ):
        return FIRST_GROUP_ONLY
    return ""


def check_schedule(
    got: list[list[float]], expected: list[list[float]], cls: str, group_lrs: Sequence[float]
) -> None:
    """Each param group's lrs against torch's (``expected`` has one step more), first wrong
    step first."""
    hint = group_hint(got, expected[: len(got)], group_lrs)
    for t, (row, truth) in enumerate(zip(got, expected)):
        for g, (v, e) in enumerate(zip(row, truth)):
            if _close(v, e, group_lrs[g]):
                continue
            if not hint:
                mine, theirs = [r[g] for r in got], [r[g] for r in expected]
                hint = shift_hint(mine, theirs, group_lrs[g], group_lrs[g])
            if not hint and t == 0 and _close(v, group_lrs[g], group_lrs[g]):
                hint = UNSET_AT_CONSTRUCTION
            raise Failure(
                f"{cls}: param group {g} (initial lr {checks.fmt(group_lrs[g])}) {when(t)}: "
                f"expected lr {shown(e, v)[0]}, got {shown(e, v)[1]}",
                hint,
            )


def when(t: int) -> str:
    return (
        "right after construction (step 0)" if t == 0 else f"at step {t} (after {t} step() calls)"
    )


def check_last_lr(result: dict[str, Any], cls: str, group_lrs: Sequence[float]) -> None:
    """get_last_lr() returns one lr per group: the lrs the groups actually have."""
    n = len(group_lrs)
    for t, (last, lrs) in enumerate(zip(result["last"], result["lrs"])):
        if not isinstance(last, list):
            raise Failure(
                f"{cls}.get_last_lr() {when(t)}: expected a list of {n} learning rates, "
                f"got {checks.fmt(last)}"
            )
        if len(last) != n:
            raise Failure(
                f"{cls}.get_last_lr() {when(t)}: expected {n} learning rates (one per param "
                f"group), got {len(last)}",
                LAST_LR_FIRST_ONLY if len(last) == 1 else "",
            )
        for g, (v, e) in enumerate(zip(last, lrs)):
            v = number(v, f"{cls}.get_last_lr()[{g}] {when(t)}")
            if not _close(v, e, group_lrs[g]):
                raise Failure(
                    f"{cls}.get_last_lr()[{g}] {when(t)}: expected {shown(e, v)[0]} (the lr "
                    f"param group {g} has), got {shown(e, v)[1]}",
                    "get_last_lr() reports the lrs the scheduler last wrote into the groups",
                )


def schedule_against_torch(
    student: Any,
    cls: str,
    kwargs: dict[str, Any],
    group_lrs: Sequence[float],
    steps: int,
    *,
    last_lr: bool = False,
) -> dict[str, Any]:
    """Run ``cls`` in the worker and in torch; compare the lrs (and ``get_last_lr``)."""
    result = run_schedule(student, cls, kwargs, group_lrs, steps)
    expected = reference_schedule(cls, kwargs, group_lrs, steps + 1)
    check_schedule(result["lrs"], expected, cls, group_lrs)
    if last_lr:
        check_last_lr(result, cls, group_lrs)
    return result


def check_resume(
    student: Any,
    cls: str,
    kwargs: dict[str, Any],
    group_lrs: Sequence[float],
    steps: int,
    resume_at: int,
) -> None:
    """A fresh scheduler that loads the state dicts of step ``resume_at`` continues like torch."""
    result = run_schedule(student, cls, kwargs, group_lrs, steps, resume_at)
    expected = reference_schedule(cls, kwargs, group_lrs, steps + 1)
    check_schedule(result["lrs"], expected, cls, group_lrs)
    resumed: list[list[float]] = result["resumed"] or []
    if len(resumed) != steps - resume_at:
        raise Failure(f"{cls}: the resumed run made {len(resumed)} steps")
    fresh = expected[1:]  # what a scheduler that forgot its step count would give
    for k, row in enumerate(resumed):
        t = resume_at + 1 + k
        for g, v in enumerate(row):
            e = expected[t][g]
            if _close(v, e, group_lrs[g]):
                continue
            restarted = all(
                _close(r[h], fresh[j][h], group_lrs[h])
                for j, r in enumerate(resumed)
                for h in range(len(r))
            )
            raise Failure(
                f"{cls}: after loading the state dicts saved at step {resume_at} into a fresh "
                f"optimizer and scheduler, param group {g} at step {t}: expected lr "
                f"{shown(e, v)[0]} (as without the interruption), got {shown(e, v)[1]}",
                RESTARTED if restarted else "",
            )
