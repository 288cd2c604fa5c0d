"""Exercise 9 - custom autograd Functions: public tests (these ship to students).

Forward values are compared with the built-ins in float64; gradients with autograd of the
built-ins for a random ``grad_output``; ``torch.autograd.gradcheck`` runs in slow mode with
eps 1e-6, atol 1e-8, rtol 1e-6.
"""

import pytest

from grader.suites.support.ex09_custom_functions import (
    batch_hints,
    check_case,
    check_direct,
    layer_norm_inputs,
    linear_inputs,
    on,
    round_inputs,
    silu_inputs,
)

LINEAR_SHAPES = [(4, 3, 2), (1, 5, 3), (6, 2, 4)]


@pytest.mark.parametrize("n,d_in,d_out", LINEAR_SHAPES, ids=["4x3->2", "1x5->3", "6x2->4"])
def test_linear_forward_and_gradients(student, device, n, d_in, d_out):
    """LinearFunction: output and gradients match F.linear and autograd"""
    inputs = on(device, linear_inputs(n * 100 + d_in, n, d_in, d_out))
    hints = {2: batch_hints(n, "batch")}
    check_case(student, "LinearFunction", inputs, seed=n, factor_hints=hints)


@pytest.mark.points(2)
@pytest.mark.parametrize("seed_", [1, 2, 3])
def test_linear_gradcheck(student, seed_):
    """LinearFunction passes gradcheck (float64, slow mode, tight tolerances)"""
    inputs = linear_inputs(seed_, 3, 4, 2)
    check_case(student, "LinearFunction", inputs, seed=seed_, gradcheck=True)


@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 2)], ids=["7", "3x4", "2x3x2"])
def test_silu_forward_and_gradients(student, device, shape):
    """SiLUFunction: output and gradient match F.silu and autograd"""
    inputs = on(device, silu_inputs(len(shape), shape))
    check_case(student, "SiLUFunction", inputs, seed=len(shape))


@pytest.mark.points(2)
@pytest.mark.parametrize("seed_", [1, 2, 3])
def test_silu_gradcheck(student, seed_):
    """SiLUFunction passes gradcheck"""
    check_case(student, "SiLUFunction", silu_inputs(seed_, (3, 4)), seed=seed_, gradcheck=True)


@pytest.mark.parametrize(
    "shape,eps",
    [((3, 5), 1e-5), ((2, 3, 4), 1e-3), ((6,), 0.1), ((2, 1, 8), 1e-5)],
    ids=["3x5-eps1e-5", "2x3x4-eps1e-3", "6-eps0.1", "2x1x8-eps1e-5"],
)
def test_layer_norm_forward_and_gradients(student, device, shape, eps):
    """LayerNormFunction: output and gradients match F.layer_norm and autograd"""
    inputs = on(device, layer_norm_inputs(sum(shape), shape, eps))
    rows = 1
    for s in shape[:-1]:
        rows *= s
    hints = {1: batch_hints(rows, "leading dimensions"), 2: batch_hints(rows, "leading dimensions")}
    check_case(student, "LayerNormFunction", inputs, seed=sum(shape), factor_hints=hints)


@pytest.mark.points(2)
@pytest.mark.parametrize("shape,eps", [((3, 5), 1e-5), ((2, 2, 4), 0.01)], ids=["3x5", "2x2x4"])
def test_layer_norm_gradcheck(student, shape, eps):
    """LayerNormFunction passes gradcheck"""
    inputs = layer_norm_inputs(len(shape), shape, eps)
    check_case(student, "LayerNormFunction", inputs, seed=len(shape), gradcheck=True)


def test_round_forward_rounds_halves_to_even(student, device):
    """StraightThroughRound: forward is torch.round (halves to even)"""
    check_case(student, "StraightThroughRound", on(device, round_inputs(5, (4, 4))), seed=5)


@pytest.mark.points(2)
def test_round_backward_is_the_identity(student):
    """StraightThroughRound: backward passes grad_output through unchanged"""
    check_case(student, "StraightThroughRound", round_inputs(6, (3, 5)), seed=6)


@pytest.mark.parametrize(
    "cls",
    ["LinearFunction", "SiLUFunction", "LayerNormFunction", "StraightThroughRound"],
)
def test_forward_and_backward_called_directly(student, cls):
    """forward() and backward() work called directly, without autograd (none inside backward)"""
    inputs = {
        "LinearFunction": linear_inputs(11, 3, 4, 2),
        "SiLUFunction": silu_inputs(12, (2, 3)),
        "LayerNormFunction": layer_norm_inputs(13, (2, 5), 1e-5),
        "StraightThroughRound": round_inputs(14, (2, 4)),
    }[cls]
    check_direct(student, cls, inputs, seed=15)
