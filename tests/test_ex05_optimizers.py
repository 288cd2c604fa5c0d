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
    opts = runner.Options(device="cpu", seed=1234, isolation="auto", check_forbidden=False)
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
def test_sgd_momentum_mistakes_and_nan_get_their_hints():
    """SGD's dampened first step and wrong Nesterov; Adam's NaN from counting steps from 0."""
    card = grade(
        EX,
        BUGGY / "sgd_momentum_mistakes.py",
        select="sgd_matches_torch or adam_matches_torch",
        public_only=True,
    )
    sgd = "public/test_sgd_matches_torch[cpu-lr=0.01, "
    hinted(card, sgd + "momentum=0.9, dampening=0.5]", "first momentum step was dampened")
    for case in ("momentum=0.8, nesterov=True", "momentum=0.9, nesterov=True, weight_decay=0.01"):
        hinted(card, f"{sgd}{case}]", "wrong Nesterov step")
    assert by_id(card)[sgd + "momentum=0.9]"].status == "passed"  # the bugs need their configs
    hinted(card, "public/test_adam_matches_torch[cpu-defaults]", "divided by zero")
    assert "expected finite values, got nan" in (
        by_id(card)["public/test_adam_matches_torch[cpu-defaults]"].message
    )


@pytest.mark.slow
def test_adam_eps_hat_and_adamw_coupled_decay_get_their_hints():
    """...and a crashing SGD, graded first, does not stop the Adam and AdamW tests."""
    card = grade(
        EX,
        BUGGY / "adam_eps_hat_adamw_coupled.py",
        select="sgd_matches_torch or adam_matches_torch or adamw_matches_torch",
        public_only=True,
        audit=False,  # its SGD crashes the worker on purpose (os._exit), which the audit voids
    )
    crashed = [t for t in card.tests if "test_sgd_matches_torch" in t.id]
    assert crashed and all("SGD exited with code 3" in t.message for t in crashed[:2])
    for case in ("defaults", "lr=0.01, betas=(0.8, 0.99)", "lr=0.01, eps=0.001"):
        hinted(card, f"public/test_adam_matches_torch[cpu-{case}]", "eps-hat")
    message = by_id(card)["public/test_adam_matches_torch[cpu-defaults]"].message
    assert message.startswith("Adam: parameter 0 (param group 0, shape (3, 2)) after step 1:")
    for case in ("defaults", "lr=0.01, weight_decay=0.3"):
        hinted(card, f"public/test_adamw_matches_torch[cpu-{case}]", "coupled (L2) weight decay")


@pytest.mark.slow
def test_missing_bias_correction_lost_state_and_decayed_params_get_their_hints():
    card = grade(
        EX,
        BUGGY / "adam_no_bias_correction_and_lost_state.py",
        select="adam_matches_torch or state_dict_resumes or without_grad",
        public_only=True,
    )
    tests = by_id(card)
    for case in ("defaults", "lr=0.01, betas=(0.8, 0.99)"):
        hinted(card, f"public/test_adam_matches_torch[cpu-{case}]", "Adam without bias correction")
    hinted(card, "public/test_state_dict_resumes_exactly[SGD]", "started with empty state")
    assert "resumed from the state_dict() saved after step 12" in (
        tests["public/test_state_dict_resumes_exactly[SGD]"].message
    )
    assert tests["public/test_state_dict_resumes_exactly[RMSprop]"].status == "passed"
    hinted(
        card,
        "public/test_parameters_without_grad_are_left_alone[AdamW]",
        "skip parameters whose .grad is None",
    )
    t = tests["public/test_parameters_without_grad_are_left_alone[AdamW]"]
    assert "had no gradient (.grad is None) in step 1" in t.message
    for name in ("SGD", "RMSprop"):
        assert tests[f"public/test_parameters_without_grad_are_left_alone[{name}]"].status == (
            "passed"
        )


@pytest.mark.slow
def test_torch_optimizers_in_disguise_void_only_the_classes_that_used_them():
    card = grade(
        EX,
        BUGGY / "cheat_torch_optimizers.py",
        select="matches_torch",
        public_only=True,
        audit=False,
    )
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
