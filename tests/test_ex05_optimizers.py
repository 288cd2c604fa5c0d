"""exercise-5 graded end to end: solution, stub, reference, buggy and cheating submissions;
and the judge's textbook simulator checked against torch.optim (the hints rest on it)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from conftest import ROOT, SUBMISSIONS, by_id, failing, grade

from grader.judge import exercises, runner
from grader.judge.scorecard import Scorecard
from grader.suites.support import ex05_optimizers as support

EX = "exercise-5"
BUGGY = SUBMISSIONS / "ex05"


def grade_without_forbidden(path: Path) -> Scorecard:
    """Grade with no forbidden names: the reference *is* torch.optim."""
    ex = dataclasses.replace(exercises.find(EX), forbidden=())
    opts = runner.Options(device="cpu", seed=1234, isolation="auto")
    return runner.grade(runner.prepare(ex, path, opts), opts)


def hinted(card: Scorecard, test_id: str, text: str) -> None:
    t = by_id(card)[test_id]
    assert t.status == "failed", (t.status, t.message)
    assert text in t.hint, (t.message, t.hint)


# -- the simulator behind the hints ----------------------------------------------------------
@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("SGD", {"lr": 0.01, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.1}),
        ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True}),
        ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
        ("AdamW", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}),
        ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ],
)
def test_simulator_without_mistakes_is_torch_and_every_mistake_differs(name, kwargs):
    shapes = [[(3, 2), (4,)], [(2,)]]
    overrides = [{}, {"lr": 0.003}]
    case = support.make_case(
        name, kwargs, seed=5, shapes=shapes, overrides=overrides, steps=30, sometimes=[1]
    )
    expected = support.run_reference(case)
    assert support.matches(support.simulate(case), expected)
    for mistake, _ in support.mistakes_for(case):
        assert not support.matches(support.simulate(case, **mistake), expected), mistake


# -- grading real files ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def solution() -> Scorecard:
    return grade(EX, ROOT / "solutions")


@pytest.mark.slow
def test_solution_gets_full_marks(solution):
    assert failing(solution) == []
    assert solution.score == solution.max_score > 0
    assert any(t.visibility == "hidden" for t in solution.tests)


@pytest.mark.slow
def test_stub_gets_zero_with_not_implemented(root):
    card = grade(EX, root / "exercises" / "ex05_optimizers.py", public_only=True)
    assert card.score == 0 and card.max_score > 0
    assert all("not implemented yet" in t.message for t in failing(card))
    assert "SGD is not implemented yet" in by_id(card)["public/test_zero_grad[SGD]"].message


@pytest.mark.slow
def test_reference_passes_the_correctness_tests(root, solution):
    card = grade_without_forbidden(root / "reference" / "ex05_optimizers.py")
    assert failing(card) == []
    assert card.max_score == solution.max_score


@pytest.mark.slow
def test_adam_eps_hat_gets_its_hint():
    card = grade(EX, BUGGY / "adam_eps_hat.py", select="adam_matches_torch", public_only=True)
    hinted(card, "public/test_adam_matches_torch[cpu-defaults]", "eps-hat")
    assert "Adam: parameter 0 (param group 0, shape (3, 2)) after step 1: expected" in (
        by_id(card)["public/test_adam_matches_torch[cpu-defaults]"].message
    )


@pytest.mark.slow
def test_adam_without_bias_correction_gets_its_hint():
    card = grade(
        EX, BUGGY / "adam_no_bias_correction.py", select="adam_matches_torch", public_only=True
    )
    for case in ("defaults", "lr=0.01, betas=(0.8, 0.99)"):
        hinted(card, f"public/test_adam_matches_torch[cpu-{case}]", "Adam without bias correction")


@pytest.mark.slow
def test_adamw_with_coupled_decay_gets_its_hint():
    card = grade(EX, BUGGY / "adamw_coupled.py", select="adamw_matches_torch", public_only=True)
    hinted(card, "public/test_adamw_matches_torch[cpu-defaults]", "coupled (L2) weight decay")
    hinted(
        card,
        "public/test_adamw_matches_torch[cpu-lr=0.01, weight_decay=0.3]",
        "coupled (L2) weight decay",
    )


@pytest.mark.slow
def test_sgd_dampening_the_first_momentum_step_gets_its_hint():
    card = grade(EX, BUGGY / "sgd_dampening_first.py", select="sgd_matches_torch", public_only=True)
    hinted(
        card,
        "public/test_sgd_matches_torch[cpu-lr=0.01, momentum=0.9, dampening=0.5]",
        "first momentum step was dampened",
    )
    passed = by_id(card)["public/test_sgd_matches_torch[cpu-lr=0.01, momentum=0.9]"]
    assert passed.status == "passed"  # without dampening the bug is invisible


@pytest.mark.slow
def test_wrong_nesterov_gets_its_hint():
    card = grade(EX, BUGGY / "sgd_wrong_nesterov.py", select="nesterov", public_only=True)
    for case in ("momentum=0.8, nesterov=True", "momentum=0.9, nesterov=True, weight_decay=0.01"):
        hinted(card, f"public/test_sgd_matches_torch[cpu-lr=0.01, {case}]", "wrong Nesterov step")


@pytest.mark.slow
def test_torch_optimizers_in_disguise_void_only_the_classes_that_used_them():
    card = grade(EX, BUGGY / "cheat_torch_optimizers.py", select="matches_torch", public_only=True)
    voided = {
        "SGD": "SGD called torch.optim._functional.sgd",
        "Adam": "Adam called torch.optim.Adam",
        "AdamW": "AdamW called torch._fused_adamw_",
    }
    for t in card.tests:
        name = next((n for n in voided if f"test_{n.lower()}_matches" in t.id), None)
        if t.status == "skipped":
            continue
        if name is None:
            assert "rmsprop" in t.id and t.status == "passed", (t.id, t.message)
        else:
            assert t.status == "failed" and voided[name] in t.message, (t.id, t.message)


def test_forbidden_names_exist_in_this_torch():
    """Every forbidden dotted name resolves, so the worker really watches it."""
    from grader.worker.guards import resolve

    for dotted in exercises.find(EX).forbidden:
        assert resolve(dotted) is not None, dotted
    assert torch.optim.Optimizer not in [resolve(d) for d in exercises.find(EX).forbidden]


@pytest.mark.slow
def test_state_kept_outside_self_state_gets_the_lost_state_hint():
    card = grade(
        EX, BUGGY / "state_outside_self_state.py", select="state_dict_resumes", public_only=True
    )
    tests = by_id(card)
    hinted(card, "public/test_state_dict_resumes_exactly[SGD]", "started with empty state")
    assert "resumed from the state_dict() saved after step 12" in (
        tests["public/test_state_dict_resumes_exactly[SGD]"].message
    )
    for name in ("Adam", "AdamW", "RMSprop"):
        assert tests[f"public/test_state_dict_resumes_exactly[{name}]"].status == "passed"


@pytest.mark.slow
def test_nan_parameters_get_the_division_hint():
    card = grade(EX, BUGGY / "adam_step_from_zero.py", select="adam_matches", public_only=True)
    hinted(card, "public/test_adam_matches_torch[cpu-defaults]", "divided by zero")
    assert "expected finite values, got nan" in (
        by_id(card)["public/test_adam_matches_torch[cpu-defaults]"].message
    )


@pytest.mark.slow
def test_decaying_parameters_without_grad_gets_the_skip_hint():
    card = grade(
        EX, BUGGY / "adamw_decays_params_without_grad.py", select="without_grad", public_only=True
    )
    tests = by_id(card)
    t = tests["public/test_parameters_without_grad_are_left_alone[AdamW]"]
    assert t.status == "failed" and "had no gradient (.grad is None) in step 1" in t.message
    assert "skip parameters whose .grad is None" in t.hint
    for name in ("SGD", "Adam", "RMSprop"):
        assert tests[f"public/test_parameters_without_grad_are_left_alone[{name}]"].status == (
            "passed"
        )
