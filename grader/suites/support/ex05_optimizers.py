"""Inputs, torch runs, comparisons and diagnoses for exercise-5 (optimizers).

A *case* is everything an optimizer run needs, as data: the param groups (initial values and
per-group hyperparameters), the constructor's keyword arguments, and every gradient of every
step. The worker replays it through the student's class (``grader/worker/scenarios/
ex05_optimizers.py``), the judge through ``torch.optim`` (``reference/ex05_optimizers.py``),
and the two trajectories are compared step by step in float64.

When they differ, :data:`simulate` replays the case through a textbook implementation with one
known mistake switched on at a time (Adam's eps-hat, missing bias corrections, AdamW's coupled
decay, SGD's dampened first momentum step, wrong Nesterov forms); a variant that reproduces the
student's whole trajectory names the mistake. The torch run and the textbook implementation
are answers, kept in ``reference/support/ex05_optimizers.py`` (see
:mod:`grader.judge.expectations`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from grader.judge import checks
from grader.judge.expectations import ahead, answers, recording_hints
from grader.judge.failures import Failure

_answers = answers("support.ex05_optimizers", cpu_results=["simulate"])
# torch.optim's trajectory for a case: per parameter, its values after every step.
run_reference = _answers.run_reference

OPTIMIZERS = ["SGD", "Adam", "AdamW", "RMSprop"]
DEFAULTS: dict[str, dict[str, Any]] = {
    "SGD": {"momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
    "Adam": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0},
    "AdamW": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2},
    "RMSprop": {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "momentum": 0.0},
}
TOLERANCE = {torch.float64: (1e-9, 1e-11), torch.float32: (1e-4, 1e-5)}
VARIANT_TOLERANCE = (1e-8, 1e-10)

EPS_HAT = (
    "this is Adam with eps added before the bias correction of sqrt(v) (the paper's 'eps-hat' "
    "form, step = lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)); torch adds eps "
    "after it: denominator sqrt(v) / sqrt(1 - beta2^t) + eps"
)
NO_BIAS_CORRECTION = {
    (False, False): "Adam without bias correction: divide m by (1 - beta1^t) and sqrt(v) by "
    "sqrt(1 - beta2^t) (t counts this parameter's steps from 1); without them the first steps "
    "are off by about (1 - beta1) / sqrt(1 - beta2)",
    (False, True): "the bias correction of m is missing: use m / (1 - beta1^t) (t counts this "
    "parameter's steps from 1); without it the first steps are (1 - beta1) times too small",
    (True, False): "the bias correction of v is missing: use sqrt(v) / sqrt(1 - beta2^t) (t "
    "counts this parameter's steps from 1); without it the first steps are about "
    "1 / sqrt(1 - beta2) times too large",
}
COUPLED = (
    "this is AdamW with coupled (L2) weight decay -- Adam with weight_decay added to the "
    "gradient. AdamW decouples it: p *= 1 - lr * weight_decay before the Adam step, and the "
    "moments see the raw gradient"
)
DAMPENED_FIRST = (
    "the first momentum step was dampened: torch starts the buffer as b_1 = g (no "
    "(1 - dampening) factor) and applies dampening only from the second step on"
)
LOST_STATE = (
    "the resumed optimizer started with empty state, as if state_dict() did not hold the "
    "momentum buffers / moment estimates / step counts: keep them in self.state[p] (then "
    "Optimizer.state_dict() and load_state_dict() save and restore them)"
)
NESTEROV = {
    "ignored": "wrong Nesterov step: torch steps along g + momentum * b_t, with b_t the buffer "
    "*after* this step's update; yours steps along b_t = g + momentum * b_(t-1) -- plain "
    "momentum (the same as a look-ahead with the buffer from before the update)",
    "buffer_only": "wrong Nesterov step: torch uses g + momentum * b_t; yours leaves out the "
    "gradient g and steps along momentum * b_t only",
}


@dataclass
class Case:
    """One optimizer run as data (all tensors on one device and dtype)."""

    optimizer: str
    groups: list[dict[str, Any]]  # {"params": [initial values], **hyperparameter overrides}
    kwargs: dict[str, Any]
    grads: list[torch.Tensor | None]  # per parameter: (steps, *shape), or None: never a grad
    present: list[list[bool] | None]  # per parameter: which steps have a grad (None: all)
    steps: int
    lrs: list[list[float]] | None = None  # lrs[t][g] set on group g before step t
    as_iterator: bool = False
    group_of: list[int] = field(default_factory=list)  # param index -> group index

    def __post_init__(self) -> None:
        self.group_of = [g for g, group in enumerate(self.groups) for _ in group["params"]]

    def hyper(self, g: int) -> dict[str, Any]:
        """Group g's hyperparameters: defaults, then constructor kwargs, then its overrides."""
        overrides = {k: v for k, v in self.groups[g].items() if k != "params"}
        return {**DEFAULTS[self.optimizer], **self.kwargs, **overrides}


def make_case(
    optimizer: str,
    kwargs: dict[str, Any],
    *,
    seed: int,
    shapes: Sequence[Sequence[tuple[int, ...]]] = (((3, 2), (4,)),),
    overrides: Sequence[dict[str, Any]] | None = None,
    steps: int = 50,
    dtype: torch.dtype = torch.float64,
    device: str = "cpu",
    no_grad: Sequence[int] = (),
    sometimes: Sequence[int] = (),
    lrs: list[list[float]] | None = None,
    as_iterator: bool = False,
) -> Case:
    """Random parameters and gradients whose entries span 1e-6 ... 1e2 in size.

    ``shapes[g]`` are group g's parameter shapes; parameters (flat index) in ``no_grad`` never
    get a gradient, those in ``sometimes`` miss it on about a third of the steps.
    """
    gen = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    groups, grads, present = [], [], []
    index = 0
    for g, group_shapes in enumerate(shapes):
        values = []
        for shape in group_shapes:
            values.append(torch.randn(shape, generator=gen, dtype=torch.float64))
            size = 10 ** (torch.rand(shape, generator=gen, dtype=torch.float64) * 8 - 6)
            noise = torch.randn((steps, *shape), generator=gen, dtype=torch.float64)
            grad = (noise * size).to(device, dtype)
            grads.append(None if index in no_grad else grad)
            present.append(
                [rng.random() > 0.35 for _ in range(steps)] if index in sometimes else None
            )
            index += 1
        group = {"params": [v.to(device, dtype) for v in values]}
        if overrides is not None:
            group.update(overrides[g])
        groups.append(group)
    return Case(optimizer, groups, kwargs, grads, present, steps, lrs, as_iterator)


# -- running ---------------------------------------------------------------------------------
def in_worker(student: Any, scenario: str, **data: Any) -> Any:
    """``student.scenario(...)`` with this exercise's time limit (the judge's own messages
    name the student's class)."""
    return student.scenario(scenario, timeout=30, **data)


def run_student(student: Any, case: Case, resume_at: int | None = None) -> dict[str, Any]:
    """The student's trajectory (and resumed trajectory) for ``case``, from the worker."""
    result: dict[str, Any] = in_worker(  # the scenario's dict (see the worker's trajectory())
        student,
        f"trajectory_{case.optimizer}",
        groups=case.groups,
        kwargs=case.kwargs,
        grads=case.grads,
        present=case.present,
        steps=case.steps,
        lrs=case.lrs,
        resume_at=resume_at,
        as_iterator=case.as_iterator,
    )
    return result


def grad_at(case: Case, i: int, t: int) -> torch.Tensor | None:
    g, mask = case.grads[i], case.present[i]
    return None if g is None or (mask is not None and not mask[t]) else g[t].clone()


# -- textbook implementations, correct and with classic mistakes ----------------------------
# simulate(case, *, start=0, values=None, **mistake): ``case`` through a from-scratch float64
# implementation with at most one mistake (SGD: damp_first=True, nesterov="ignored" |
# "buffer_only"; Adam/AdamW: eps_hat=True, bias1=False / bias2=False; AdamW: coupled=True).
# With ``start`` the run begins at that step from ``values`` with empty optimizer state (a
# resume that lost the state); the result, on the CPU, covers steps ``start ...`` only.
simulate = _answers.simulate


def mistakes_for(case: Case) -> list[tuple[dict[str, Any], str]]:
    """The known mistakes that would change this case's result, with their hints."""
    hps = [case.hyper(g) for g in range(len(case.groups))]
    out: list[tuple[dict[str, Any], str]] = []
    if case.optimizer == "SGD":
        if any(h["momentum"] and h["dampening"] for h in hps):
            out.append(({"damp_first": True}, DAMPENED_FIRST))
        if any(h["nesterov"] for h in hps):
            out += [({"nesterov": k}, text) for k, text in NESTEROV.items()]
    elif case.optimizer in ("Adam", "AdamW"):
        out.append(({"eps_hat": True}, EPS_HAT))
        for (b1, b2), text in NO_BIAS_CORRECTION.items():
            out.append(({"bias1": b1, "bias2": b2}, text))
        if case.optimizer == "AdamW" and any(h["weight_decay"] for h in hps):
            out.append(({"coupled": True}, COUPLED))
    return out


def matches(got: Sequence[torch.Tensor], expected: Sequence[torch.Tensor]) -> bool:
    rtol, atol = VARIANT_TOLERANCE
    return all(
        g.shape == e.shape
        and torch.allclose(g.detach().to("cpu", torch.float64), e, rtol=rtol, atol=atol)
        for g, e in zip(got, expected)
    )


def diagnose(case: Case, got: Sequence[torch.Tensor]) -> str:
    """The hint of the first known mistake that reproduces the whole trajectory, or ""."""
    if len(got) != len(case.grads):
        return ""
    for mistake, text in mistakes_for(case):
        if matches(got, simulate(case, **mistake)):
            return text
    return ""


# -- comparing -------------------------------------------------------------------------------
def check_trajectory(
    case: Case,
    got: Any,
    expected: Sequence[torch.Tensor],
    what: str,
    *,
    first_step: int = 0,
    hint: bool = True,
) -> None:
    """Every parameter after every step against torch; reports the earliest divergence."""
    if not isinstance(got, list) or len(got) != len(expected):
        raise Failure(
            f"{what}: expected {len(expected)} parameter trajectories, got {checks.fmt(got)}"
        )
    rtol, atol = TOLERANCE.get(expected[0].dtype, (1e-9, 1e-11))
    first: tuple[int, int] | None = None
    for i, (g, e) in enumerate(zip(got, expected)):
        checks.expect_tensor(g, f"{what}: parameter {i}")
        if g.shape != e.shape or g.dtype != e.dtype or g.device.type != e.device.type:
            checks.close(g, e, f"{what}: parameter {i}")  # explains shape / dtype / device
        bad = ~torch.isclose(g, e, rtol=rtol, atol=atol, equal_nan=False)
        if bad.any():
            t = int(bad.reshape(bad.shape[0], -1).any(dim=1).nonzero()[0])
            if first is None or t < first[0]:
                first = (t, i)
    if first is None:
        return
    moved_without_grad(case, got, what, first_step)
    t, i = first
    group = case.group_of[i]
    where = f"parameter {i} (param group {group}, shape {tuple(expected[i].shape[1:])})"
    when = f"after step {first_step + t + 1}"
    try:
        checks.close(
            got[i][t],
            expected[i][t],
            f"{what}: {where} {when}",
            rtol=rtol,
            atol=atol,
            hints=[nonfinite_hint],
        )
    except Failure as failure:
        if hint and not failure.hint:
            failure.hint = diagnose(case, got) if first_step == 0 else ""
        raise
    raise Failure(f"{what}: {where} {when} differs from torch")  # pragma: no cover


def moved_without_grad(case: Case, got: Sequence[torch.Tensor], what: str, first_step: int) -> None:
    """Fail on the earliest step where a parameter without a gradient changed at all."""
    initial = [p for group in case.groups for p in group["params"]]
    found: tuple[int, int] | None = None
    for i, traj in enumerate(got):
        prev = initial[i] if first_step == 0 else traj[0]
        for t in range(0 if first_step == 0 else 1, traj.shape[0]):
            if grad_at(case, i, first_step + t) is None and not torch.equal(traj[t], prev):
                if found is None or t < found[0]:
                    found = (t, i)
                break
            prev = traj[t]
    if found is None:
        return
    t, i = found
    before = (initial[i] if first_step == 0 and t == 0 else got[i][t - 1]).double().cpu().flatten()
    after = got[i][t].double().cpu().flatten()
    k = int((after - before).abs().nan_to_num(nan=math.inf).argmax())
    at = checks.index_str(k, tuple(got[i].shape[1:]))
    raise Failure(
        f"{what}: parameter {i} (param group {case.group_of[i]}) had no gradient (.grad is None) "
        f"in step {first_step + t + 1} but changed: {at} went from {checks.fmt(before[k].item())} "
        f"to {checks.fmt(after[k].item())}",
        "skip parameters whose .grad is None: no update at all, not even weight decay",
    )


def nonfinite_hint(got: torch.Tensor, expected: torch.Tensor) -> str | None:
    if torch.isfinite(got).all():
        return None
    return (
        "a parameter became NaN or inf: is something divided by zero? Count steps from 1 "
        "(1 - beta^t is 0 when t = 0), and eps belongs in the denominator (sqrt(v_hat) + eps)"
    )


def hints_ahead(case: Case, resume_at: int | None = None) -> None:
    """The simulations the hints of ``case`` may need, recorded ahead (see ``ahead``)."""
    if not recording_hints():
        return
    for mistake, _ in mistakes_for(case):
        ahead(simulate, case, **mistake)
    if resume_at:
        expected = run_reference(case)
        ahead(simulate, case, start=resume_at, values=[e[resume_at - 1] for e in expected])


def check_against_torch(student: Any, case: Case, what: str | None = None) -> None:
    """The student's run of ``case`` against torch.optim's."""
    hints_ahead(case)
    result = run_student(student, case)
    expected = run_reference(case)
    check_trajectory(case, result["params"], expected, what or case.optimizer)


def check_resume(student: Any, case: Case, resume_at: int) -> None:
    """A fresh optimizer loading ``state_dict()`` after ``resume_at`` steps continues exactly."""
    hints_ahead(case, resume_at)
    result = run_student(student, case, resume_at)
    expected = run_reference(case)
    check_trajectory(case, result["params"], expected, case.optimizer)
    resumed = result.get("resumed")
    tail = [e[resume_at:] for e in expected]
    try:
        check_trajectory(
            case,
            resumed,
            tail,
            f"{case.optimizer} resumed from the state_dict() saved after step {resume_at}",
            first_step=resume_at,
        )
    except Failure as failure:
        if not failure.hint and resume_at > 0 and isinstance(resumed, list):
            at = [e[resume_at - 1] for e in expected]
            if matches(resumed, simulate(case, start=resume_at, values=at)):
                failure.hint = LOST_STATE
        raise


def describe(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in kwargs.items()) or "defaults"
