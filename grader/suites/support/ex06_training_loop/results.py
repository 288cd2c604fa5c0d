"""The reference loop's results for an exercise-6 run, and the comparisons with a student's.

The reference runs are answers, kept in ``reference/support/ex06_training_loop.py`` and reached
through :func:`grader.judge.expectations.answers`, so a student release replays them. When a
student's number differs, the message cites the first problem :func:`.events.audit` found in
the record, since that is usually why.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from grader.judge import checks
from grader.judge.expectations import answers
from grader.judge.failures import Failure
from grader.suites.support.ex06_training_loop.events import Problem, first_problem

RTOL, ATOL = 1e-9, 1e-11  # float64 after up to 100 steps (notes/torch-reference-semantics §7)

# The reference loop on a spec, in the judge: (ref, spec, kwargs) -> {"result", "params",
# "lr_after"} after one train_one_epoch; (ref, spec, kwargs) -> {"result": history, "params"}
# after fit; (ref, spec) -> evaluate's result on the training data. ``ref`` is the reference
# module (or its answers), which they call.
_answers = answers("support.ex06_training_loop")
reference_epoch = _answers.reference_epoch
reference_fit = _answers.reference_fit
reference_evaluate = _answers.reference_evaluate


def check_params(
    got: dict[str, Tensor], expected: dict[str, Tensor], when: str, problems: list[Problem]
) -> None:
    """Every parameter equals the reference loop's; a mismatch names the first likely cause."""
    for name, exp in expected.items():
        if name not in got:
            raise Failure(f"parameter {name} is missing from the model {when}")
        try:
            checks.close(got[name], exp, f"parameter {name} {when}", rtol=RTOL, atol=ATOL)
        except Failure as failure:
            p = first_problem(problems)
            if p is not None:
                raise Failure(f"{failure.message}; {p.message}", p.hint) from None
            raise


def check_number(got: Any, expected: float, what: str, *, integer: bool = False) -> None:
    if integer:
        if isinstance(got, bool) or not isinstance(got, int):
            raise Failure(
                f"{what}: expected a Python int, got {checks.fmt(got)} ({type(got).__name__})"
            )
        checks.equal(got, int(expected), what)
        return
    if isinstance(got, Tensor):
        raise Failure(
            f"{what}: expected a Python float, got a tensor ({checks.fmt(got)})",
            "return loss.item()-based floats: a tensor keeps its autograd graph alive",
        )
    checks.scalar_close(got, expected, what, rtol=RTOL, atol=ATOL)


def check_epoch_result(got: Any, expected: dict[str, Any], problems: list[Problem]) -> None:
    if not isinstance(got, dict):
        raise Failure(f"train_one_epoch should return a dict, got {checks.fmt(got)}")
    for key in ("loss", "steps", "clipped"):
        if key not in got:
            raise Failure(f"train_one_epoch's result has no {key!r} key (got {sorted(got)})")
    try:
        check_number(got["steps"], expected["steps"], "the returned 'steps'", integer=True)
    except Failure as failure:
        p = first_problem(problems, "steps")
        raise Failure(failure.message, p.hint if p else failure.hint) from None
    check_number(got["clipped"], expected["clipped"], "the returned 'clipped'", integer=True)
    check_number(got["loss"], expected["loss"], "the returned 'loss' (mean batch loss)")


def check_history(
    got: Any, expected: list[dict[str, Any]], problems: list[Problem], *, patience: int | None
) -> None:
    """``fit``'s rows against the reference's: one per epoch run, keys, epoch numbers, values."""
    if not isinstance(got, list) or not all(isinstance(r, dict) for r in got):
        raise Failure(f"fit should return a list of dicts (one per epoch), got {checks.fmt(got)}")
    if len(got) != len(expected):
        hint = ""
        if patience is not None and len(got) > len(expected):
            hint = (
                f"with patience={patience}, stop once {patience} epochs in a row brought no new "
                "best (lowest) validation loss"
            )
        elif patience is not None:
            hint = "an epoch counts as an improvement only if its val_loss is strictly lower "
            hint += "than the best so far; stop after `patience` epochs without one"
        p = first_problem(problems)
        raise Failure(
            f"fit returned {len(got)} history rows, expected {len(expected)} (one per epoch "
            "that ran)" + (f"; {p.message}" if p else ""),
            hint or (p.hint if p else ""),
        )
    for i, (row, exp) in enumerate(zip(got, expected)):
        missing = [k for k in exp if k not in row]
        if missing:
            raise Failure(f"history row {i} has no {missing[0]!r} key (it has {sorted(row)})")
        check_number(row["epoch"], exp["epoch"], f"history row {i}: 'epoch'", integer=True)
        for key in ("train_loss", "val_loss", "val_accuracy", "lr"):
            try:
                check_number(row[key], exp[key], f"epoch {i}: {key!r}")
            except Failure as failure:
                p = first_problem(problems)
                if p is None or failure.hint:
                    raise
                raise Failure(f"{failure.message}; {p.message}", p.hint) from None
