"""exercise-2 end to end: solutions, stubs and the reference graded; one buggy file per hint;
every forbidden name caught, directly and from a helper thread."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from conftest import ROOT, SUBMISSIONS, by_id, failing, grade
from test_ex01_linear_regression import (
    AUTOGRAD_TRIGGERS,
    OPS_TRIGGERS,
    check_forbidden_detected,
    grade_without_forbidden,
    hint_of,
    make_guard,  # noqa: F401 - a fixture
    run_watched,
)

from grader.judge.scorecard import Scorecard
from reference import ex02_mlp_backward as ref

EXERCISE = "exercise-2"
FIGURE_TESTS = [
    "public/test_forward_figure6[cpu]",
    "public/test_softmax_cross_entropy_figure6[cpu]",
    "public/test_backward_figure6[cpu]",
]
# Timing and op counting are about the student's code, not the reference's.
NOT_CORRECTNESS = {"public/test_backward_is_vectorized", "hidden/test_speed_close_to_autograd"}


@pytest.fixture(scope="module")
def solution_card() -> Scorecard:
    return grade(EXERCISE, ROOT / "solutions")


def test_solution_gets_full_marks(solution_card):
    assert failing(solution_card) == []
    assert solution_card.score == solution_card.max_score > 0
    assert {t.visibility for t in solution_card.tests} == {"public", "hidden"}


def test_solution_reproduces_figure6(solution_card):
    tests = by_id(solution_card)
    for test_id in FIGURE_TESTS:
        assert tests[test_id].status == "passed", test_id


@pytest.mark.slow
def test_stub_scores_zero_with_not_implemented():
    card = grade(EXERCISE, ROOT / "exercises", public_only=True)
    assert card.score == 0 and card.max_score > 0
    for result in card.tests:
        assert result.status == "failed", result.id
        assert "is not implemented yet" in result.message, result.message


def test_reference_passes_and_reproduces_figure6():
    card = grade_without_forbidden(EXERCISE, ROOT / "reference" / "ex02_mlp_backward.py")
    assert [t.id for t in failing(card) if t.id not in NOT_CORRECTNESS] == []
    tests = by_id(card)
    for test_id in FIGURE_TESTS:
        assert tests[test_id].status == "passed", test_id


def test_reference_figure6_directly():
    """Figure 6's first batch (COURSE.md §3 item 6) from the reference itself."""
    from grader.suites.support.ex02_mlp_backward import figure6_first_batch

    X, y, W1, b1, W2, b2 = figure6_first_batch()
    logits, cache = ref.mlp_forward(X, W1, b1, W2, b2)
    assert [round(v, 4) for v in cache["z1"][0].tolist()] == [1.1496, -0.3491, 0.0245, 0.0424]
    assert [round(v, 4) for v in torch.softmax(logits, 1)[0].tolist()] == [0.6952, 0.3048]
    loss, _ = ref.softmax_cross_entropy(logits, y)
    assert round(loss.item(), 4) == 0.5258
    grads = ref.mlp_backward(X, y, W1, b1, W2, b2)
    norm = torch.sqrt(sum((g**2).sum() for g in grads.values()))
    assert round(norm.item(), 4) == 0.8864


# -- hints: one buggy submission each -------------------------------------------------------


def test_hint_transposed_w1_gradient():
    card = grade(
        EXERCISE,
        SUBMISSIONS / "ex02" / "grad_w1_transposed.py",
        select="backward_matches_autograd and (N4 or N8)",
    )
    wrong_shape = by_id(card)["public/test_backward_matches_autograd[cpu-N8-D5-H7-C4]"]
    assert wrong_shape.message == "dL/dW1: expected shape (5, 7), got (7, 5)"
    assert wrong_shape.hint == "the result is transposed: check the order of the matrix product"
    square = hint_of(card, "public/test_backward_matches_autograd[cpu-N4-D3-H3-C2]")
    assert square == "the result equals the transpose of the expected one"


def test_hint_relu_mask_missing():
    card = grade(EXERCISE, SUBMISSIONS / "ex02" / "relu_mask_missing.py", select="dead_hidden")
    hint = hint_of(card, "public/test_backward_dead_hidden_units[cpu]")
    assert hint.startswith("the ReLU mask is missing: your gradient flows through hidden units")


def test_hint_relu_gradient_at_zero():
    card = grade(
        EXERCISE, SUBMISSIONS / "ex02" / "relu_mask_ge.py", select="dead_hidden or N8-D5-H7"
    )
    hint = hint_of(card, "public/test_backward_dead_hidden_units[cpu]")
    assert hint.startswith("at z1 exactly 0 ReLU passes no gradient")
    assert "(z1 > 0), not (z1 >= 0)" in hint
    # without exact zeros the mistake is invisible, and nothing else is blamed
    failed = {t.id for t in failing(card)}
    assert "public/test_backward_matches_autograd[cpu-N8-D5-H7-C4]" not in failed


def test_hint_bias_gradient_averaged():
    card = grade(
        EXERCISE, SUBMISSIONS / "ex02" / "bias_averaged.py", select="matches_autograd and N8"
    )
    hint = hint_of(card, "public/test_backward_matches_autograd[cpu-N8-D5-H7-C4]")
    assert hint.startswith("every gradient is exactly 8x too small: (8 = batch size) the bias")
    assert "did you average it with .mean(0)?" in hint
    message = by_id(card)["public/test_backward_matches_autograd[cpu-N8-D5-H7-C4]"].message
    assert message.startswith("dL/db2: expected")


def test_hint_softmax_overflow():
    card = grade(EXERCISE, SUBMISSIONS / "ex02" / "softmax_overflow.py", select="softmax")
    result = by_id(card)["public/test_softmax_cross_entropy_is_stable[cpu]"]
    assert result.status == "failed"
    assert "expected finite values, got nan" in result.message
    assert result.hint.startswith("softmax overflowed: the logits reach")
    assert "subtract each row's maximum logit" in result.hint
    # ordinary logits are fine: only the large ones expose the overflow
    assert by_id(card)["public/test_softmax_cross_entropy_figure6[cpu]"].status == "passed"


def test_hint_log_of_softmax_underflow():
    card = grade(EXERCISE, SUBMISSIONS / "ex02" / "log_of_softmax.py", select="is_stable")
    result = by_id(card)["public/test_softmax_cross_entropy_is_stable[cpu]"]
    assert "expected finite values, got inf" in result.message
    assert result.hint.startswith("log(softmax) underflowed")


def test_per_sample_loop_fails_op_count_and_timing():
    card = grade(
        EXERCISE, SUBMISSIONS / "ex02" / "per_sample_loop.py", select="vectorized or speed"
    )
    ops = by_id(card)["public/test_backward_is_vectorized"]
    assert ops.status == "failed" and "it loops over the examples in Python" in ops.message
    speed = by_id(card)["hidden/test_speed_close_to_autograd"]
    assert speed.status == "failed" and "slower (best of" in speed.message
    assert speed.hint.startswith("a Python loop over the examples is the usual cause")


@pytest.mark.slow
def test_forbidden_calls_void_their_function_only():
    """The judge's audit voids exactly the functions that use a forbidden API, naming the use;
    behind it (audit off) the worker's runtime guard does the same from the calls it sees."""
    sub = SUBMISSIONS / "ex02" / "cheat_autograd.py"
    tests = by_id(grade(EXERCISE, sub, select="figure6"))
    softmax = tests["public/test_softmax_cross_entropy_figure6[cpu]"]
    assert softmax.score == 0 and softmax.voided_by == "audit"
    assert softmax.message.startswith("softmax_cross_entropy uses `logits.log_softmax` (line ")
    backward = tests["public/test_backward_figure6[cpu]"]
    assert backward.voided_by == "audit"
    assert backward.message.startswith("mlp_backward uses `torch.autograd.grad` (line ")
    assert tests["public/test_forward_figure6[cpu]"].status == "passed"
    behind = by_id(grade(EXERCISE, sub, select="figure6", audit=False))
    softmax = behind["public/test_softmax_cross_entropy_figure6[cpu]"]
    assert softmax.score == 0 and softmax.voided_by == "runtime guard"
    assert softmax.message.startswith("softmax_cross_entropy called torch.Tensor.log_softmax")
    backward = behind["public/test_backward_figure6[cpu]"]
    assert backward.message.startswith("mlp_backward called torch.autograd.grad")
    assert behind["public/test_forward_figure6[cpu]"].status == "passed"


# -- forbidden-name detection, name by name -------------------------------------------------

F64 = torch.float64


def _logits() -> torch.Tensor:
    return torch.randn(3, 4, dtype=F64, requires_grad=True)


def _labels() -> torch.Tensor:
    return torch.tensor([0, 1, 2])


CLASSIFICATION_TRIGGERS: dict[str, Callable[[], object]] = {
    "torch.nn.functional.cross_entropy": lambda: F.cross_entropy(_logits(), _labels()),
    "torch.nn.functional.nll_loss": lambda: F.nll_loss(_logits(), _labels()),
    "torch.nn.functional.log_softmax": lambda: F.log_softmax(_logits(), dim=1),
    "torch.Tensor.log_softmax": lambda: _logits().log_softmax(1),
    "torch.log_softmax": lambda: torch.log_softmax(_logits(), 1),
    "torch._log_softmax": lambda: torch._log_softmax(_logits(), 1, False),
    "torch.special.log_softmax": lambda: torch.special.log_softmax(_logits(), 1),
    "torch._C._nn.cross_entropy_loss": lambda: torch._C._nn.cross_entropy_loss(
        _logits(), _labels()
    ),
    "torch._C._nn.nll_loss": lambda: torch._C._nn.nll_loss(_logits(), _labels()),
    "torch._C._nn.nll_loss_nd": lambda: torch._C._nn.nll_loss_nd(_logits(), _labels()),
    "torch._C._nn.nll_loss2d": lambda: torch._C._nn.nll_loss2d(
        torch.randn(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.int64)
    ),
    "torch.nn.CrossEntropyLoss": lambda: torch.nn.CrossEntropyLoss()(_logits(), _labels()),
    "torch.nn.NLLLoss": lambda: torch.nn.NLLLoss()(_logits(), _labels()),
    "torch.nn.LogSoftmax": lambda: torch.nn.LogSoftmax(dim=1)(_logits()),
}


def test_every_forbidden_name_is_detected(make_guard):  # noqa: F811 - the fixture
    triggers = AUTOGRAD_TRIGGERS | OPS_TRIGGERS | CLASSIFICATION_TRIGGERS
    check_forbidden_detected(ref.FORBIDDEN, triggers, make_guard)


def test_allowed_operations_are_not_flagged(make_guard):  # noqa: F811 - the fixture
    """logsumexp, softmax and one_hot are allowed (COURSE.md §2, exercise-2)."""
    guard = make_guard(list(ref.FORBIDDEN))
    z = torch.randn(4, 3, dtype=F64)

    def allowed() -> object:
        log_probs = z - torch.logsumexp(z, dim=1, keepdim=True)
        return torch.softmax(z, 1), F.softmax(z, 1), F.one_hot(_labels(), 3), log_probs

    assert run_watched(guard, allowed, threaded=True) == []


# -- the diagnoses themselves, on constructed numbers (no worker) ---------------------------


def test_relu_hint_blames_dead_units_only_when_the_live_ones_are_right():
    from grader.suites.support.ex02_mlp_backward import mlp_inputs, relu_hint, with_dead_units

    args, dead = with_dead_units(mlp_inputs(5, 6, 3, 4, 2))
    expected = ref.mlp_backward(*args)["W1"]
    hint = relu_hint(args, "W1")
    leaky = expected.clone()
    leaky[:, dead[0]] = 0.5
    assert hint(leaky, expected).startswith(f"hidden unit(s) {dead} are inactive")
    wrong_everywhere = leaky * 1.5
    assert hint(wrong_everywhere, expected) is None
    assert hint(expected.T.contiguous(), expected) is None  # (D, H) vs (H, D): not ReLU's fault


def test_dlogits_and_softmax_hints():
    from grader.suites.support.ex02_mlp_backward import dlogits_hints, softmax_hint

    expected = torch.tensor([[0.2, -0.2], [-0.3, 0.3], [0.1, -0.1]], dtype=F64)
    assert dlogits_hints(3)(-expected, expected).startswith("every gradient has the opposite")
    assert "(P - Y) / N" in dlogits_hints(3)(3 * expected, expected)
    logits = torch.tensor([[1e4, 0.0]], dtype=F64)
    hint = softmax_hint(logits)
    finite = torch.tensor(1.0, dtype=F64)
    assert hint(finite, finite) is None
    assert hint(torch.tensor(float("nan"), dtype=F64), finite).startswith("softmax overflowed")
    assert hint(torch.tensor(float("inf"), dtype=F64), finite).startswith("log(softmax)")
