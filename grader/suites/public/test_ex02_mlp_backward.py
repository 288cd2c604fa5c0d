"""Exercise 2 - a two-layer MLP by hand: public tests (these ship to students)."""

import pytest
import torch

from grader.judge import checks
from grader.judge.expectations import answers
from grader.judge.failures import Failure
from grader.judge.gradcheck import check_gradients
from grader.suites.support.ex02_mlp_backward import (
    F64,
    FIGURE6_GRAD_NORM,
    FIGURE6_LOSS,
    FIGURE6_PROBS_ROW0,
    FIGURE6_Z1_ROW0,
    PARAMS,
    check_forward,
    check_grads,
    check_softmax_ce,
    figure6_first_batch,
    kink_free_inputs,
    mlp_inputs,
    one_hot,
    with_dead_units,
)

ref = answers("ex02_mlp_backward")  # the reference, or its recorded answers in a release

# (N, D, H, C): a single example, one feature, one hidden unit, two classes, and bigger ones.
# D = H = 3 makes dL/dW1 square, so a transposed result has the right shape.
SHAPES = [(1, 3, 4, 2), (5, 1, 3, 3), (6, 4, 1, 2), (4, 3, 3, 2), (8, 5, 7, 4), (32, 10, 16, 5)]
SHAPE_IDS = ["N{}-D{}-H{}-C{}".format(*s) for s in SHAPES]


@pytest.mark.points(2)
def test_forward_figure6(student, device):
    """Figure 6, first batch: z1 row 0 = [1.1496, -0.3491, 0.0245, 0.0424]"""
    args = figure6_first_batch(device)
    logits, cache = check_forward(student, args)
    z1_row0 = torch.tensor(FIGURE6_Z1_ROW0, dtype=F64, device=device)
    checks.close(cache["z1"][0], z1_row0, "z1 row 0 (figure 6)", rtol=0, atol=5e-5)
    checks.expect_tensor(logits, "the logits")


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_forward(student, device, seed, shape):
    """mlp_forward returns the logits and a cache with z1 and h1"""
    check_forward(student, mlp_inputs(seed, *shape, device=device))


@pytest.mark.points(2)
def test_softmax_cross_entropy_figure6(student, device):
    """Figure 6, first batch: probabilities row 0 = [0.6952, 0.3048] and loss 0.5258"""
    X, y, W1, b1, W2, b2 = figure6_first_batch(device)
    logits, _ = ref.mlp_forward(X, W1, b1, W2, b2)
    loss, dlogits = check_softmax_ce(student, logits, y)
    checks.scalar_close(loss, FIGURE6_LOSS, "the loss of figure 6's first batch", atol=5e-5)
    probs = dlogits * logits.shape[0] + one_hot(y, 2, F64)  # dL/dlogits = (P - Y) / N
    expected = torch.tensor(FIGURE6_PROBS_ROW0, dtype=F64, device=device)
    checks.close(probs[0], expected, "probabilities row 0 (N dL/dlogits + Y)", rtol=0, atol=5e-5)


@pytest.mark.points(2)
@pytest.mark.parametrize(
    "shape", [(1, 2), (1, 5), (4, 3), (16, 10)], ids=lambda s: f"N{s[0]}-C{s[1]}"
)
def test_softmax_cross_entropy(student, device, seed, shape):
    """softmax_cross_entropy returns the mean loss and dL/dlogits = (P - Y) / N"""
    gen = torch.Generator().manual_seed(seed)
    logits = (torch.randn(shape, generator=gen, dtype=F64) * 3).to(device)
    y = torch.randint(0, shape[1], (shape[0],), generator=gen).to(device)
    check_softmax_ce(student, logits, y)


@pytest.mark.points(2)
def test_softmax_cross_entropy_is_stable(student, device, seed):
    """Logits of magnitude 1e4 give finite results equal to the reference"""
    gen = torch.Generator().manual_seed(seed)
    logits = (torch.randn(6, 4, generator=gen, dtype=F64) * 1e4).to(device)
    logits[0] = torch.tensor([1e4, -1e4, 0.0, 5e3], dtype=F64, device=device)
    y = torch.tensor([1, 0, 3, 2, 1, 0], device=device)
    check_softmax_ce(student, logits, y)


@pytest.mark.points(3)
def test_backward_figure6(student, device):
    """Figure 6, first batch: the gradients match autograd and their total norm is 0.8864"""
    got = check_grads(student, figure6_first_batch(device))
    total = sum((got[k].double() ** 2).sum() for k in PARAMS)
    assert isinstance(total, torch.Tensor)  # a sum of tensors: PARAMS is not empty
    norm = torch.sqrt(total)
    checks.scalar_close(norm, FIGURE6_GRAD_NORM, "total gradient norm (figure 6)", atol=5e-5)


@pytest.mark.points(2)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_backward_matches_autograd(student, device, seed, shape):
    """mlp_backward equals autograd's gradients of the mean cross-entropy"""
    check_grads(student, mlp_inputs(seed, *shape, device=device))


@pytest.mark.points(3)
def test_backward_dead_hidden_units(student, device, seed):
    """Hidden units with z1 <= 0 everywhere (one exactly 0) get zero W1 and b1 gradients"""
    args, _ = with_dead_units(mlp_inputs(seed, 10, 4, 6, 3, device=device))
    check_grads(student, args)


@pytest.mark.points(2)
def test_backward_agrees_with_finite_differences(student, seed):
    """mlp_backward agrees with central differences of the loss (away from ReLU's kink)"""
    X, y, *params = kink_free_inputs(seed, 5, 3, 4, 3)
    got = student.mlp_backward(X, y, *params)
    if not isinstance(got, dict) or any(k not in got for k in PARAMS):
        raise Failure(f"mlp_backward should return a dict with keys {list(PARAMS)}")
    check_gradients(
        [got[k] for k in PARAMS],
        lambda *p: ref.mlp_loss(X, y, *p),
        params,
        [f"dL/d{k}" for k in PARAMS],
    )


@pytest.mark.points(2)
def test_backward_is_vectorized(student):
    """mlp_backward's number of tensor operations does not grow with the batch size"""
    small, large = student.scenario("op_counts", sizes=[8, 64], d=5, h=6, c=3, seed=0)
    if large > small:
        raise Failure(
            f"mlp_backward made {small} torch calls for a batch of 8 but {large} for a batch "
            "of 64: it loops over the examples in Python",
            "use matrix products over the whole batch (h1.T @ dlogits, dlogits.sum(0)) "
            "instead of a loop over examples",
        )
