"""Inputs and diagnoses for exercise-2 (a two-layer MLP by hand), shared by its suites."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from grader.judge import checks
from grader.judge.expectations import answers
from grader.judge.failures import Failure
from grader.judge.gradcheck import min_distance_to_kinks
from grader.suites.support.ex01_linear_regression import factor_hint

ref = answers("ex02_mlp_backward")
# W1 and b1 gradients with the classic ReLU-mask mistakes (a backward pass: never shipped)
_relu_variants = answers("support.ex02_mlp_backward", cpu_results=["relu_variants"]).relu_variants

F64 = torch.float64
PARAMS = ("W1", "b1", "W2", "b2")
BACKPROP_ORDER = ("W2", "b2", "W1", "b1")

# Course figure 6: the six-point classification problem and its first batch (points 0 and 1).
FIGURE6_X = [(0.5, 0.1), (0.2, 0.8), (0.9, 0.6), (0.1, 0.5), (0.8, 0.2), (0.6, 0.9)]
FIGURE6_Y = [0, 0, 0, 1, 1, 1]
FIGURE6_FIRST_BATCH = [0, 1]
FIGURE6_Z1_ROW0 = [1.1496, -0.3491, 0.0245, 0.0424]
FIGURE6_PROBS_ROW0 = [0.6952, 0.3048]
FIGURE6_LOSS = 0.5258
FIGURE6_GRAD_NORM = 0.8864


def figure6_first_batch(device: str = "cpu") -> list[torch.Tensor]:
    """[X, y, W1, b1, W2, b2] of figure 6's first batch: NumPy seed 7, W = 1.5 * randn."""
    rs = np.random.RandomState(7)
    W1 = torch.tensor(1.5 * rs.randn(2, 4), dtype=F64)
    W2 = torch.tensor(1.5 * rs.randn(4, 2), dtype=F64)
    X = torch.tensor([FIGURE6_X[i] for i in FIGURE6_FIRST_BATCH], dtype=F64)
    y = torch.tensor([FIGURE6_Y[i] for i in FIGURE6_FIRST_BATCH], dtype=torch.int64)
    args = [X, y, W1, torch.zeros(4, dtype=F64), W2, torch.zeros(2, dtype=F64)]
    return [t.to(device) for t in args]


def mlp_inputs(
    seed: int,
    n: int,
    d: int,
    h: int,
    c: int,
    *,
    dtype: torch.dtype = F64,
    device: str = "cpu",
    scale: float = 1.0,
) -> list[torch.Tensor]:
    """Random [X, y, W1, b1, W2, b2]; ``scale`` multiplies the output layer (logit size)."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=gen, dtype=F64)
    y = torch.randint(0, c, (n,), generator=gen)
    W1 = torch.randn(d, h, generator=gen, dtype=F64) / d**0.5
    b1 = torch.randn(h, generator=gen, dtype=F64) * 0.3
    W2 = torch.randn(h, c, generator=gen, dtype=F64) / h**0.5 * scale
    b2 = torch.randn(c, generator=gen, dtype=F64) * 0.3 * scale
    floats = [t.to(dtype) for t in (X, W1, b1, W2, b2)]
    return [t.to(device) for t in (floats[0], y, *floats[1:])]


def with_dead_units(args: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[int]]:
    """Make hidden unit 0 exactly 0 for every example (z1 = 0: autograd's subgradient is 0)
    and the last unit negative everywhere; returns the new inputs and the dead units."""
    X, y, W1, b1, W2, b2 = (t.clone() for t in args)
    h = W1.shape[1]
    W1[:, 0] = 0.0
    b1[0] = 0.0
    W1[:, h - 1] = 0.0
    b1[h - 1] = -1.0
    return [X, y, W1, b1, W2, b2], [0, h - 1]


def kink_free_inputs(
    seed: int, n: int, d: int, h: int, c: int, margin: float = 1e-3
) -> list[torch.Tensor]:
    """Random inputs whose pre-activations all keep ``margin`` away from ReLU's kink at 0,
    so that finite differences (which step 1e-6) see a differentiable function."""
    for attempt in range(100):
        args = mlp_inputs(seed + 7919 * attempt, n, d, h, c)
        z1 = args[0] @ args[2] + args[3]
        if min_distance_to_kinks(z1) > margin:
            return args
    raise RuntimeError("no kink-free sample found")  # pragma: no cover - 1e-3 is rarely hit


def one_hot(y: torch.Tensor, c: int, dtype: torch.dtype) -> torch.Tensor:
    return torch.nn.functional.one_hot(y, c).to(dtype)


# -- diagnoses -----------------------------------------------------------------------------


def softmax_hint(logits: torch.Tensor) -> checks.Hint:
    """Overflow (inf/nan from exp of large logits) and log(softmax) underflow (-inf)."""
    big = float(logits.detach().abs().max())

    def hint(got: torch.Tensor, expected: torch.Tensor) -> str | None:
        g = got.detach()
        if torch.isfinite(g).all() or not torch.isfinite(expected).all():
            return None
        if torch.isnan(g).any() and big > 80:
            return (
                f"softmax overflowed: the logits reach {big:.3g} and exp() of anything above "
                "~709 is inf in float64 (inf / inf = nan); subtract each row's maximum logit "
                "before exp -- softmax does not change"
            )
        if torch.isinf(g).any():
            return (
                "log(softmax) underflowed: a probability that rounds to 0 gives log 0 = -inf; "
                "compute log-probabilities as logits - logsumexp(logits) (torch.logsumexp), "
                "after subtracting the row maximum"
            )
        return None

    return hint


def dlogits_hints(n: int) -> checks.Hint:
    table: dict[float, str] = {
        -1.0: "dL/dlogits is P - Y (probabilities minus one-hot labels), not Y - P",
    }
    if n > 1:
        table[float(n)] = (
            f"({n} = batch size) did you average the loss over the batch? For the mean loss "
            "dL/dlogits = (P - Y) / N"
        )
        table[1.0 / n] = f"({n} = batch size) did you divide by N twice?"
    return factor_hint(table)


def grad_hints(name: str, n: int) -> dict[float, str]:
    table: dict[float, str] = {
        -1.0: "dL/dlogits is P - Y (probabilities minus one-hot labels), not Y - P",
    }
    if n > 1:
        table[float(n)] = (
            f"({n} = batch size) did you average the loss over the batch (divide dL/dlogits by N)?"
        )
        if name.startswith("b"):
            table[1.0 / n] = (
                f"({n} = batch size) the bias gradient is the *sum* over the batch of dL/dz "
                "(the 1/N is already in dL/dlogits): did you average it with .mean(0)?"
            )
        else:
            table[1.0 / n] = f"({n} = batch size) did you divide by N twice?"
    return table


def relu_hint(args: list[torch.Tensor], name: str) -> checks.Hint:
    variants = _relu_variants(args)

    def fits(got: torch.Tensor, want: torch.Tensor) -> bool:
        return got.shape == want.shape and torch.allclose(
            got.detach().to("cpu", F64), want, rtol=1e-8, atol=1e-12
        )

    def hint(got: torch.Tensor, expected: torch.Tensor) -> str | None:
        if fits(got, variants["none"][name]):
            return (
                "the ReLU mask is missing: your gradient flows through hidden units where "
                "h1 = 0 (z1 <= 0); multiply dL/dh1 by (z1 > 0)"
            )
        if fits(got, variants["ge"][name]):
            return (
                "at z1 exactly 0 ReLU passes no gradient (PyTorch's subgradient there is 0): "
                "mask with (z1 > 0), not (z1 >= 0)"
            )
        h1 = variants["dead"]["h1"]
        dead = [j for j in range(h1.shape[1]) if not h1[:, j].any()]
        live = [j for j in range(h1.shape[1]) if j not in dead]
        g, e = got.detach().to("cpu", F64), expected.detach().to("cpu", F64)
        if g.shape == e.shape and dead:
            two_d = g.ndim == 2

            def pick(t: torch.Tensor, cols: list[int]) -> torch.Tensor:
                return t[:, cols] if two_d else t[cols]

            live_ok = torch.allclose(pick(g, live), pick(e, live), rtol=1e-8, atol=1e-12)
            if live_ok and pick(g, dead).abs().max() > 0:
                return (
                    f"hidden unit(s) {dead} are inactive (h1 = 0) for every example, so their "
                    f"{name} gradient must be 0, but yours is not: is the ReLU mask missing?"
                )
        return None

    return hint


def check_grads(student: Any, args: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """The student's mlp_backward equals autograd's gradients, with a diagnosis if not."""
    got = student.mlp_backward(*args)
    if not isinstance(got, dict):
        raise Failure(f"mlp_backward should return a dict of gradients, got {checks.fmt(got)}")
    missing = [k for k in PARAMS if k not in got]
    if missing:
        raise Failure(
            f"mlp_backward's result has no key(s) {missing}: expected the keys {list(PARAMS)}"
        )
    expected = ref.mlp_backward(*args)
    n = args[0].shape[0]
    for name in BACKPROP_ORDER:
        hints = [relu_hint(args, name)] if name in ("W1", "b1") else []
        hints.append(factor_hint(grad_hints(name, n)))
        checks.close(got[name], expected[name], f"dL/d{name}", hints=hints)
    return got


def check_softmax_ce(
    student: Any, logits: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    got = student.softmax_cross_entropy(logits, y)
    if not isinstance(got, tuple | list) or len(got) != 2:
        raise Failure(f"softmax_cross_entropy should return (loss, dlogits), got {checks.fmt(got)}")
    loss, dlogits = got
    exp_loss, exp_dlogits = ref.softmax_cross_entropy(logits, y)
    checks.expect_tensor(loss, "the loss", ndim=0)
    n = logits.shape[0]
    ce_hint = factor_hint({float(n): f"({n} = batch size) take the mean over the batch"}, "loss")
    checks.close(
        loss, exp_loss, "the mean cross-entropy loss", hints=[softmax_hint(logits), ce_hint]
    )
    checks.close(dlogits, exp_dlogits, "dL/dlogits", hints=[softmax_hint(logits), dlogits_hints(n)])
    return loss, dlogits


def check_forward(student: Any, args: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, Any]]:
    X, _, W1, b1, W2, b2 = args
    got = student.mlp_forward(X, W1, b1, W2, b2)
    if not isinstance(got, tuple | list) or len(got) != 2:
        raise Failure(f"mlp_forward should return (logits, cache), got {checks.fmt(got)}")
    logits, cache = got
    exp_logits, exp_cache = ref.mlp_forward(X, W1, b1, W2, b2)
    if not isinstance(cache, dict):
        raise Failure(f"the cache should be a dict, got {checks.fmt(cache)}")
    for key in ("z1", "h1"):
        if key not in cache:
            raise Failure(f"the cache has no {key!r}: it needs at least 'z1' and 'h1'")
        checks.close(cache[key], exp_cache[key], f"cache[{key!r}]")
    checks.close(logits, exp_logits, "the logits")
    return logits, cache
