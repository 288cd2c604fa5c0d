"""Exercise 8 (scalar autograd engine): grade real submissions and check the scorecards."""

from __future__ import annotations

import dataclasses

import pytest

from grader.judge import exercises, runner
from tests.conftest import ROOT, SUBMISSIONS, by_id, failing, grade

pytestmark = pytest.mark.slow
EX = "exercise-8"
SUBS = SUBMISSIONS / "ex08"


def test_solution_gets_full_marks():
    card = grade(EX, ROOT / "solutions")
    assert failing(card) == []
    assert card.score == card.max_score > 0


def test_stub_scores_zero_with_not_implemented_messages():
    card = grade(EX, ROOT / "exercises" / "ex08_autograd_engine.py", public_only=True)
    assert card.score == 0
    for t in card.tests:
        assert "not implemented yet" in t.message, (t.id, t.message)


def test_reference_passes_the_correctness_tests():
    """The torch-backed reference agrees with the suites (graded without forbidden checks)."""
    ex = dataclasses.replace(exercises.find(EX), forbidden=())
    opts = runner.Options(device="cpu", seed=7, visibilities=("public",), check_forbidden=False)
    card = runner.grade(
        runner.prepare(ex, ROOT / "reference" / "ex08_autograd_engine.py", opts), opts
    )
    assert failing(card) == [], [(t.id, t.message) for t in failing(card)]


MICROGRAD_OPS = (
    "figure_10",
    "add_values",
    "mul_values",
    "value+number",
    "value*number",
    "integer_powers",
    "float_powers",
    "relu",
    "backward_on_a_leaf",
    "shared_subexpression",
    "add_mul_pow_relu",
    "wide_fan_out",
    "deep_diamonds",
    "same_value_on_both_sides[add]",
    "same_value_on_both_sides[mul]",
)


def test_micrograd_core_gets_every_test_of_its_operations():
    """Only +, *, ** and relu (recursive topo sort): those tests all pass, the rest say why."""
    card = grade(EX, SUBS / "micrograd_subset.py")
    for t in card.tests:
        if any(key in t.id for key in MICROGRAD_OPS):
            assert t.status == "passed", (t.id, t.message)
        elif "ten_thousand" in t.id:
            assert "RecursionError" in t.message
            assert "iteratively" in t.hint
        else:
            assert t.status == "failed", t.id
            assert "Value has no method" in t.message, (t.id, t.message)
    messages = " ".join(t.message for t in card.tests)
    for method in ("tanh", "__sub__", "__rsub__", "__truediv__", "__neg__", "log"):
        assert f"Value has no method {method}," in messages


def test_assign_instead_of_accumulate_is_diagnosed():
    card = grade(EX, SUBS / "assign_grad.py", select="figure_10 or shared_subexpression")
    tests = by_id(card)
    assert len(tests) == 3
    for t in tests.values():
        assert t.status == "failed"
        assert "assign instead of accumulate (use +=" in t.hint, t.id
    assert "should be 6, got 3" in tests["public/test_figure_10_a_times_a"].message


def test_wrong_topological_order_is_diagnosed():
    card = grade(
        EX, SUBS / "wrong_topo.py", select="shared_subexpression or random_graph_of_arithmetic"
    )
    assert len(card.tests) == 2
    for t in card.tests:
        assert t.status == "failed"
        assert "wrong topological order" in t.hint, t.id


def test_engine_using_torch_is_voided():
    card = grade(EX, SUBS / "uses_torch.py", select="figure_10 or smooth_functions", audit=False)
    assert card.score == 0 and len(card.tests) == 5
    for t in card.tests:
        assert "called torch.tensor" in t.message and "not allowed" in t.message
