"""exercise-1 end to end: solutions, stubs and the reference graded; one buggy file per hint;
every forbidden name caught, directly and from a helper thread."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator

import pytest
import torch
import torch.autograd.forward_ad as fwAD
import torch.nn.functional as F
from conftest import ROOT, SUBMISSIONS, by_id, failing, grade
from torch.autograd.variable import Variable

from grader.judge import exercises, runner
from grader.judge.scorecard import Scorecard
from grader.worker import guards
from reference import ex01_linear_regression as ref

EXERCISE = "exercise-1"
FIGURE_TESTS = [
    "public/test_predict_figure1[cpu]",
    "public/test_mse_loss_figure1[cpu]",
    "public/test_mse_gradients_figure1[cpu]",
    "public/test_numerical_gradient_figure4",
    "public/test_gradient_descent_figure1",
    "public/test_gradient_descent_figure2",
    "public/test_gradient_descent_learning_rates",
]


def grade_without_forbidden(exercise: str, path) -> Scorecard:
    """Grade ``path`` with the exercise's forbidden list emptied: the reference is built on
    exactly the functions students may not call, and its correctness is what is checked."""
    ex = dataclasses.replace(exercises.find(exercise), forbidden=())
    opts = runner.Options(device="cpu", seed=1234, isolation="auto", check_forbidden=False)
    return runner.grade(runner.prepare(ex, path, opts), opts)


def hint_of(card: Scorecard, test_id: str) -> str:
    result = by_id(card)[test_id]
    assert result.status == "failed", (test_id, result.status, result.message)
    return result.hint


# -- solutions, stubs, reference ----------------------------------------------------------


@pytest.fixture(scope="module")
def solution_card() -> Scorecard:
    return grade(EXERCISE, ROOT / "solutions")


def test_solution_gets_full_marks(solution_card):
    assert failing(solution_card) == []
    assert solution_card.score == solution_card.max_score > 0
    visibilities = {t.visibility for t in solution_card.tests}
    assert visibilities == {"public", "hidden"}


def test_solution_reproduces_the_figures(solution_card):
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


def test_reference_passes_and_reproduces_the_figures():
    card = grade_without_forbidden(EXERCISE, ROOT / "reference" / "ex01_linear_regression.py")
    assert [t.id for t in failing(card)] == []
    tests = by_id(card)
    for test_id in FIGURE_TESTS:
        assert tests[test_id].status == "passed", test_id


def test_reference_figures_directly():
    """The figures of COURSE.md §3 items 1, 2 and 4, from the reference itself."""
    X, y = torch.tensor([[2.0]], dtype=torch.float64), torch.tensor([6.0], dtype=torch.float64)
    w, b = torch.tensor([1.0], dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64)
    grad_w, grad_b = ref.mse_gradients(X, y, w, b)
    assert (0.5 * grad_w.item(), 0.5 * grad_b.item()) == (-8.0, -4.0)  # figure 1, with 1/2
    w5, b5, losses = ref.gradient_descent(X, y, w, b, lr=0.05, steps=5)
    assert [round(v / 2, 3) for v in losses] == [8, 2, 0.5, 0.125, 0.031]
    assert round(w5.item(), 2) == 2.55
    X = torch.tensor([[1.0], [2.0], [3.0]], dtype=torch.float64)
    y = torch.tensor([3.0, 5.0, 7.0], dtype=torch.float64)
    zero_w, zero_b = torch.zeros(1, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64)
    w20, b20, losses = ref.gradient_descent(X, y, zero_w, zero_b, lr=0.04, steps=20)
    assert round(losses[0] / 2, 4) == 13.8333 and round(losses[1] / 2, 4) == 4.2812
    assert (round(w20.item(), 3), round(b20.item(), 3)) == (2.037, 0.917)

    def half_loss(p):
        return 0.5 * (p[0] * 2.0 + p[1] - 6.0) ** 2

    numeric = ref.numerical_gradient(half_loss, torch.tensor([1.0, 0.0], dtype=torch.float64))
    assert torch.allclose(numeric, torch.tensor([-8.0, -4.0], dtype=torch.float64), atol=1e-8)


# -- hints: one buggy submission each -------------------------------------------------------


def test_hint_gradient_n_times_too_large():
    card = grade(EXERCISE, SUBMISSIONS / "ex01" / "grad_sum_over_batch.py", select="match_autograd")
    hint = hint_of(card, "public/test_mse_gradients_match_autograd[cpu-N8-D3]")
    assert hint.startswith("every gradient is exactly 8x too large: (8 = batch size)"), hint
    assert "did you average the loss over the batch?" in hint
    # N = 1: no factor to see, so no batch-size hint (the answer is right)
    assert by_id(card)["public/test_mse_gradients_match_autograd[cpu-N1-D4]"].status == "passed"


def test_hint_gradient_sign_flipped():
    card = grade(
        EXERCISE, SUBMISSIONS / "ex01" / "grad_sign_flipped.py", select="gradients_figure1"
    )
    hint = hint_of(card, "public/test_mse_gradients_figure1[cpu]")
    assert hint.startswith("every gradient has the opposite sign: the residual is y_hat - y")
    message = by_id(card)["public/test_mse_gradients_figure1[cpu]"].message
    assert "expected -16" in message and "got 16" in message


def test_hint_numerical_gradient_one_sided():
    card = grade(
        EXERCISE,
        SUBMISSIONS / "ex01" / "numerical_one_sided.py",
        select="matches_autograd and reciprocal or uses_eps or figure4",
    )
    for test_id in (
        "public/test_numerical_gradient_matches_autograd[reciprocal]",
        "public/test_numerical_gradient_uses_eps",
    ):
        hint = hint_of(card, test_id)
        assert hint.startswith("this is the one-sided difference (f(x+eps) - f(x)) / eps"), hint
        assert "proportional to eps" in hint
    # figure 4 is a quadratic: the error is just eps/2 * f'', no hint beyond the numbers
    assert hint_of(card, "public/test_numerical_gradient_figure4") == ""


def test_hint_numerical_gradient_modifies_input():
    card = grade(
        EXERCISE,
        SUBMISSIONS / "ex01" / "numerical_modifies_input.py",
        select="leaves_x_unchanged or matches_autograd and wavy",
    )
    result = by_id(card)["public/test_numerical_gradient_leaves_x_unchanged"]
    assert result.status == "failed"
    assert result.message.startswith("x was modified, but must be left unchanged")
    assert result.hint.startswith("numerical_gradient modifies its input: adding eps")
    # the values themselves are right: only the test that looks at x fails
    assert by_id(card)["public/test_numerical_gradient_matches_autograd[wavy]"].status == "passed"


def test_forbidden_calls_void_their_function_only():
    card = grade(EXERCISE, SUBMISSIONS / "ex01" / "cheat_autograd.py", select="figure", audit=False)
    tests = by_id(card)
    backward = tests["public/test_mse_gradients_figure1[cpu]"]
    assert backward.status == "failed" and backward.score == 0
    assert backward.message.startswith("mse_gradients called torch.Tensor.backward")
    descent = tests["public/test_gradient_descent_figure2"]
    assert descent.message.startswith("gradient_descent called torch.nn.functional.mse_loss")
    assert tests["public/test_numerical_gradient_figure4"].status == "passed"
    assert tests["public/test_predict_figure1[cpu]"].status == "passed"


# -- forbidden-name detection, name by name -------------------------------------------------

F64 = torch.float64


def _x() -> torch.Tensor:
    return torch.randn(3, 4, dtype=F64, requires_grad=True)


def _sq(a: torch.Tensor) -> torch.Tensor:
    return (a**2).sum()


def _dual(fn: Callable[[torch.Tensor], object]) -> object:
    with fwAD.dual_level():
        return fn(fwAD.make_dual(_x().detach(), torch.ones(3, 4, dtype=F64)))


def _engine(call: Callable[..., object]) -> object:
    x = _x()
    return call((_sq(x),), (torch.ones((), dtype=F64),), False, False, (x,), True, True)


AUTOGRAD_TRIGGERS: dict[str, Callable[[], object]] = {
    "torch.Tensor.backward": lambda: _sq(_x()).backward(),
    "torch.autograd.backward": lambda: torch.autograd.backward(_sq(_x())),
    "torch.autograd.grad": lambda: (lambda x: torch.autograd.grad(_sq(x), x))(_x()),
    "torch.autograd.graph._engine_run_backward": lambda: _engine(
        torch.autograd.graph._engine_run_backward
    ),
    "torch._C._ImperativeEngine.run_backward": lambda: _engine(
        Variable._execution_engine.run_backward
    ),
    "torch.autograd.functional.jacobian": lambda: torch.autograd.functional.jacobian(
        _sq, _x().detach()
    ),
    "torch.autograd.functional.vjp": lambda: torch.autograd.functional.vjp(_sq, _x().detach()),
    "torch.autograd.functional.jvp": lambda: torch.autograd.functional.jvp(
        _sq, _x().detach(), torch.ones(3, 4, dtype=F64)
    ),
    "torch.autograd.forward_ad.make_dual": lambda: _dual(lambda d: d),
    "torch.autograd.forward_ad.unpack_dual": lambda: _dual(fwAD.unpack_dual),
    "torch._make_dual": lambda: _dual(
        lambda d: torch._make_dual(torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64), level=0)
    ),
    "torch._unpack_dual": lambda: _dual(lambda d: torch._unpack_dual(d, level=0)),
    "torch.func.grad": lambda: torch.func.grad(_sq)(_x().detach()),
    "torch.func.grad_and_value": lambda: torch.func.grad_and_value(_sq)(_x().detach()),
    "torch.func.vjp": lambda: torch.func.vjp(_sq, _x().detach()),
    "torch.func.jacrev": lambda: torch.func.jacrev(_sq)(_x().detach()),
    "torch.func.jacfwd": lambda: torch.func.jacfwd(_sq)(_x().detach()),
}
OPS_TRIGGERS: dict[str, Callable[[], object]] = {
    "torch._ops.OpOverloadPacket.__call__": lambda: torch.ops.aten.mul(_x(), 2.0),
    "torch._ops.OpOverload.__call__": lambda: torch.ops.aten.mul.Tensor(_x(), _x()),
}
MSE_TRIGGERS: dict[str, Callable[[], object]] = {
    "torch.nn.functional.mse_loss": lambda: F.mse_loss(_x(), _x()),
    "torch._C._nn.mse_loss": lambda: torch._C._nn.mse_loss(_x(), _x()),
    "torch.nn.MSELoss": lambda: torch.nn.MSELoss()(_x(), _x()),
}


@pytest.fixture
def make_guard() -> Iterator[Callable[[list[str]], guards.Guard]]:
    """Guards for this process; the thread-start patches they install are undone afterwards."""
    import _thread

    saved = [
        (module, attr, getattr(module, attr))
        for module, attr in (
            (_thread, "start_new_thread"),
            (_thread, "start_joinable_thread"),
            (threading, "_start_new_thread"),
            (threading, "_start_joinable_thread"),
        )
        if hasattr(module, attr)
    ]
    yield guards.Guard
    for module, attr, original in saved:
        setattr(module, attr, original)


def run_watched(guard: guards.Guard, trigger: Callable[[], object], threaded: bool) -> list[str]:
    errors: list[BaseException] = []

    def body() -> None:
        try:
            trigger()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    with guard.watching() as found:
        if threaded:
            thread = threading.Thread(target=body)
            thread.start()
            thread.join()
        else:
            body()
    assert not errors, errors
    return list(found)


def check_forbidden_detected(forbidden, triggers, make_guard) -> None:
    assert sorted(triggers) == sorted(forbidden), "every forbidden name needs a trigger"
    guard = make_guard(list(forbidden))
    for name in forbidden:
        triggers[name]()  # once unwatched: lazy imports (torch.func...) are slow when traced
        for threaded in (False, True):
            found = run_watched(guard, triggers[name], threaded)
            where = "in a helper thread" if threaded else "directly"
            assert f"called {name}" in found, (name, where, found)
            assert not any("switched off" in f for f in found), (name, where, found)


@pytest.mark.slow
def test_every_forbidden_name_is_detected(make_guard):
    triggers = AUTOGRAD_TRIGGERS | OPS_TRIGGERS | MSE_TRIGGERS
    check_forbidden_detected(ref.FORBIDDEN, triggers, make_guard)


def test_allowed_operations_are_not_flagged(make_guard):
    guard = make_guard(list(ref.FORBIDDEN))
    x = torch.randn(5, 3, dtype=F64)
    w, b = torch.randn(3, dtype=F64), torch.tensor(0.5, dtype=F64)
    found = run_watched(guard, lambda: ((x @ w + b - 1.0) ** 2).mean(), threaded=True)
    assert found == []


# -- the diagnoses themselves, on constructed numbers (no worker) ---------------------------


def test_gradient_hints_fit_only_their_factor():
    from grader.suites.support.ex01_linear_regression import gradient_hints

    expected = torch.tensor([1.5, -2.0, 0.25], dtype=F64)
    hint = gradient_hints(8)
    assert "is the factor 2 missing?" in hint(0.5 * expected, expected)
    assert hint(8 * expected, expected).startswith("every gradient is exactly 8x too large")
    assert "divide by N twice" in hint(expected / 8, expected)
    assert hint(-expected, expected).startswith("every gradient has the opposite sign")
    assert hint(3 * expected, expected) is None  # no classic mistake explains 3x
    assert hint(expected + 0.1, expected) is None
    both = gradient_hints(2)(0.5 * expected, expected)  # N = 2: 1/N and a missing 2 coincide
    assert "factor 2 missing" in both and "divide by N twice" in both


def test_losses_hint_recognises_shifted_and_halved_losses():
    from grader.suites.support.ex01_linear_regression import losses_hint

    expected = [16.0, 4.0, 1.0, 0.25]
    hint = losses_hint(expected)
    assert hint([4.0, 1.0, 0.25, 0.0625]).startswith("record the loss *before* each update")
    assert hint([8.0, 2.0, 0.5, 0.125]).startswith("every loss is exactly half")
    assert hint([16.0, 4.0, 1.5, 0.25]) == ""


def test_numerical_hint_backward_difference_and_ignored_eps():
    from grader.judge.gradcheck import central_difference, one_sided_difference
    from grader.suites.support.ex01_linear_regression import SMOOTH, numerical_hint, sample_point

    f = SMOOTH["wavy"][0]
    x = sample_point("wavy", (4,), 0)
    exact = central_difference(f, x, 1e-3)
    hint = numerical_hint(f, x, 1e-3)
    backward = one_sided_difference(f, x, 1e-3, forward=False)
    assert hint(backward, exact).startswith("this is the one-sided difference (f(x) - f(x-eps))")
    ignored = central_difference(f, x, 1e-6)
    assert hint(ignored, exact).endswith("use the eps argument")
    assert hint(exact * 1.01, exact) is None


def test_input_check_tells_drift_from_a_left_over_perturbation():
    from grader.judge.failures import Failure
    from grader.suites.support.ex01_linear_regression import check_input_unchanged

    x = torch.tensor([0.1, 0.7, -0.3], dtype=F64)
    check_input_unchanged(x, x.clone())
    drifted = x.clone()
    drifted[1] = torch.nextafter(drifted[1], torch.tensor(2.0, dtype=F64))
    with pytest.raises(Failure) as info:
        check_input_unchanged(x, drifted)
    assert "does not round-trip exactly" in info.value.hint
    assert "x[1] was 0.69999999999999996" in info.value.message
    with pytest.raises(Failure) as info:
        check_input_unchanged(x, x + torch.tensor([0.0, 0.0, 1e-6], dtype=F64))
    assert "still holds a perturbation" in info.value.hint
