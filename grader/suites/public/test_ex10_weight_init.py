"""Exercise 10 - weight initialization: public tests (these ship to students).

Initializers are random, so their output is checked statistically: uniform bounds, mean, std
and the shape of the distribution, with limits derived from the number of samples so that a
correct implementation fails less than once in a billion checks (see
``grader/suites/support/ex10_weight_init.py`` for the derivation).
"""

import math

import pytest
import torch

from grader.judge import checks
from grader.judge.expectations import answers
from grader.judge.failures import Failure, StudentError
from grader.suites.support.ex10_weight_init import (
    GAIN_HINT,
    check_init_mlp,
    init_and_check,
    kaiming_std,
    raise_not_implemented,
    xavier_std,
)

ref = answers("ex10_weight_init")  # the reference, or its recorded answers in a release

SHAPES = [(10, 20), (256, 64), (32, 16, 5), (32, 16, 3, 3), (8, 4, 3, 3, 3), (1, 1)]


@pytest.mark.parametrize(
    "shape", SHAPES, ids=["linear", "linear-tall", "conv1d", "conv2d", "conv3d", "1x1"]
)
def test_fans(student, shape):
    """calculate_fans gives (fan_in, fan_out) as torch does for Linear and ConvNd weights"""
    got = student.calculate_fans(shape)
    expected = ref.calculate_fans(shape)
    hint = ""
    if got == expected[::-1]:
        hint = "fan_in and fan_out are swapped: fan_in = shape[1] * receptive field"
    elif isinstance(got, tuple) and len(got) == 2 and got == (shape[1], shape[0]):
        hint = "multiply both by the receptive field size (the product of shape[2:])"
    checks.equal(got, expected, f"calculate_fans({shape})", hint)


GAINS = [
    ("linear", None),
    ("conv1d", None),
    ("conv2d", None),
    ("conv3d", None),
    ("conv_transpose1d", None),
    ("conv_transpose2d", None),
    ("conv_transpose3d", None),
    ("sigmoid", None),
    ("tanh", None),
    ("relu", None),
    ("selu", None),
    ("leaky_relu", None),
    ("leaky_relu", 0.2),
    ("leaky_relu", 0),
    ("leaky_relu", 1),
]


@pytest.mark.parametrize("name,param", GAINS, ids=[f"{n}-{p}" for n, p in GAINS])
def test_gain(student, name, param):
    """calculate_gain matches torch.nn.init.calculate_gain"""
    got = student.calculate_gain(name, param)
    hint = "with param None the negative slope is 0.01" if name == "leaky_relu" else ""
    checks.scalar_close(got, ref.calculate_gain(name, param), f"calculate_gain({name!r}, {param})",
                        rtol=1e-12, atol=0.0, hint=hint)  # fmt: skip


def test_gain_rejects_unknown_nonlinearity(student):
    """calculate_gain raises ValueError for a nonlinearity torch does not know"""
    try:
        got = student.calculate_gain("softplus")
    except StudentError as err:
        if "raised ValueError" in err.message:
            return
        raise
    raise Failure(f"calculate_gain('softplus') returned {checks.fmt(got)}; expected ValueError")


TANH = 5 / 3


@pytest.mark.points(2)
def test_xavier_uniform(student):
    """xavier_uniform_: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))"""
    shape = (256, 64)
    init_and_check(
        student, "xavier_uniform_", shape, {"gain": TANH}, xavier_std(shape, TANH),
        {GAIN_HINT: xavier_std(shape, 1.0)},
    )  # fmt: skip


@pytest.mark.points(2)
def test_xavier_normal(student):
    """xavier_normal_: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))"""
    shape, g = (128, 512), math.sqrt(2)
    init_and_check(
        student, "xavier_normal_", shape, {"gain": g}, xavier_std(shape, g),
        {GAIN_HINT: xavier_std(shape, 1.0)},
    )  # fmt: skip


KAIMING = [
    ((256, 64), {}),
    ((32, 16, 3, 3), {"mode": "fan_out", "nonlinearity": "relu"}),
    ((64, 256), {"a": 0.2, "mode": "fan_in", "nonlinearity": "leaky_relu"}),
]
KAIMING_IDS = ["defaults", "conv-fan_out-relu", "leaky0.2"]


@pytest.mark.points(2)
@pytest.mark.parametrize("shape,kwargs", KAIMING, ids=KAIMING_IDS)
def test_kaiming_uniform(student, device, shape, kwargs):
    """kaiming_uniform_: U(-sqrt(3) std, sqrt(3) std) with std = gain / sqrt(fan)"""
    args = {"a": 0.0, "mode": "fan_in", "nonlinearity": "leaky_relu", **kwargs}
    sigma, alternatives = kaiming_std(shape, args["a"], args["mode"], args["nonlinearity"])
    init_and_check(student, "kaiming_uniform_", shape, kwargs, sigma, alternatives, device)


@pytest.mark.points(2)
@pytest.mark.parametrize("shape,kwargs", KAIMING, ids=KAIMING_IDS)
def test_kaiming_normal(student, device, shape, kwargs):
    """kaiming_normal_: N(0, std^2) with std = gain / sqrt(fan)"""
    args = {"a": 0.0, "mode": "fan_in", "nonlinearity": "leaky_relu", **kwargs}
    sigma, alternatives = kaiming_std(shape, args["a"], args["mode"], args["nonlinearity"])
    init_and_check(student, "kaiming_normal_", shape, kwargs, sigma, alternatives, device)


INITS = ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]


@pytest.mark.parametrize("fn", INITS)
def test_fills_in_place_and_returns_the_tensor(student, fn):
    """The initializers fill the tensor in place (parameters too) and return that tensor"""
    got = student.scenario("in_place", fn=fn, shape=[64, 32], kwargs={})
    raise_not_implemented(fn, got)
    for label, r in got.items():
        where = f"{fn} on a {label}"
        if not r["changed"]:
            raise Failure(f"{where}: the tensor was not filled (still all zeros)")
        if not r["same_storage"]:
            raise Failure(f"{where}: the tensor's storage was replaced; fill it in place")
        if not r["returned_same_object"]:
            raise Failure(f"{where}: return the tensor you were given (return tensor)")
        if label == "parameter" and not (r["is_leaf"] and r["requires_grad"]):
            raise Failure(
                f"{where}: the parameter is no longer a leaf that requires grad",
                "fill it under torch.no_grad()",
            )


@pytest.mark.parametrize("fn", INITS)
def test_draws_from_the_global_rng(student, fn):
    """Same torch.manual_seed, same tensor; another seed, another tensor"""
    got = student.scenario("seeded", fn=fn, shape=[32, 16], kwargs={}, seeds=[3, 3, 4])
    raise_not_implemented(fn, got)
    a, b, c = got
    if not torch.equal(a, b):
        raise Failure(
            f"{fn}: two calls after torch.manual_seed(3) gave different tensors",
            "draw from torch's global generator (tensor.uniform_/normal_ without generator=)",
        )
    if torch.equal(a, c):
        raise Failure(
            f"{fn}: torch.manual_seed(3) and torch.manual_seed(4) gave the same tensor",
            "do not seed or create your own generator: use torch's global one",
        )


@pytest.mark.points(3)
def test_init_mlp(student):
    """init_mlp_: Kaiming-normal (fan_in, relu) weights and zero biases in every nn.Linear"""
    got = student.scenario("init_mlp", kind="mlp", seed=0)
    check_init_mlp(got)
