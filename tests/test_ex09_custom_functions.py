"""Exercise 9 (custom autograd Functions): grade real submissions and check the scorecards."""

from __future__ import annotations

import dataclasses

import pytest

from grader.judge import exercises, runner
from tests.conftest import ROOT, SUBMISSIONS, by_id, failing, grade

pytestmark = pytest.mark.slow
EX = "exercise-9"
SUBS = SUBMISSIONS / "ex09"


def test_solution_gets_full_marks():
    card = grade(EX, ROOT / "solutions")
    assert failing(card) == [], [(t.id, t.message) for t in failing(card)]
    assert card.score == card.max_score > 0


def test_stub_scores_zero_with_not_implemented_messages():
    card = grade(EX, ROOT / "exercises" / "ex09_custom_functions.py", public_only=True)
    assert card.score == 0
    for t in card.tests:
        assert "not implemented yet" in t.message, (t.id, t.message)


def test_reference_passes_the_correctness_tests():
    """The reference (built on F.* and autograd, so graded without the forbidden list)."""
    ex = dataclasses.replace(exercises.find(EX), forbidden=())
    opts = runner.Options(device="cpu", seed=7, visibilities=("public",), check_forbidden=False)
    reference = ROOT / "reference" / "ex09_custom_functions.py"
    card = runner.grade(runner.prepare(ex, reference, opts), opts)
    assert failing(card) == [], [(t.id, t.message) for t in failing(card)]


BAD_GRADS_TESTS = (
    "linear_forward_and_gradients or silu_forward_and_gradients"
    " or (layer_norm_forward_and_gradients and 3x5)"
)


def test_wrong_gradients_name_the_input_and_the_pattern():
    card = grade(EX, SUBS / "bad_grads.py", select=BAD_GRADS_TESTS)
    tests = by_id(card)
    linear = tests["public/test_linear_forward_and_gradients[cpu-4x3->2]"]
    assert "the gradient for bias (input 3 of apply)" in linear.message
    assert "only the gradient for bias is wrong (those for x, weight are right)" in linear.hint
    assert "exactly 4x too small" in linear.hint and "mean" in linear.hint
    # one row: a mean is a sum, and the test passes
    assert tests["public/test_linear_forward_and_gradients[cpu-1x5->3]"].status == "passed"
    silu = tests["public/test_silu_forward_and_gradients[cpu-3x4]"]
    assert "the gradient for x is wrong" in silu.hint
    assert "multiply by grad_output" in silu.hint
    norm = tests["public/test_layer_norm_forward_and_gradients[cpu-3x5-eps1e-5]"]
    assert "only the gradient for weight is wrong (those for x, bias are right)" in norm.hint
    assert "opposite sign" in norm.hint


def test_autograd_in_backward_and_builtins_in_forward_are_voided():
    card = grade(EX, SUBS / "cheats.py", select="called_directly or silu_gradcheck", audit=False)
    tests = by_id(card)
    linear = tests["public/test_forward_and_backward_called_directly[LinearFunction]"]
    assert "LinearFunction called torch.autograd.grad" in linear.message
    for key in ("called_directly[SiLUFunction]", "silu_gradcheck[1]"):
        t = next(t for i, t in tests.items() if key in i)
        assert "SiLUFunction called torch.nn.functional.silu" in t.message
    for key in ("LayerNormFunction", "StraightThroughRound"):
        assert tests[f"public/test_forward_and_backward_called_directly[{key}]"].status == "passed"
