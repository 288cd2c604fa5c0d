r"""Statistical checks and diagnoses for exercise-10 (weight initialization).

An initializer's output is random, so it is judged by statistics whose acceptance limits come
from the sample size $N$ (the tensor's number of elements). Every limit below is set so that a
*correct* implementation violates it with probability at most $\alpha = 10^{-9}$, using bounds
that hold for every $N$ (not asymptotic approximations):

- **uniform bound, nothing beyond**: $\max_i |x_i| \le a (1 + 10^{-6})$. Never violated by a
  correct draw from $\mathcal U(-a, a)$; the $10^{-6}$ is float32 rounding of the bound.
- **uniform bound, samples near it**: $\max_i |x_i| \ge a (1 - \delta)$ with
  $\delta = \ln(1/\alpha)/N$, since $P(\max_i |x_i| < a(1-\delta)) = (1-\delta)^N \le
  e^{-N\delta} = \alpha$. ($N = 16384$: within 0.13 % of the bound.)
- **mean**: normal: $\bar x \sim \mathcal N(0, \sigma^2/N)$ exactly, so $|\bar x| \le z
  \sigma/\sqrt N$ with $z = \Phi^{-1}(1 - \alpha/2) = 6.11$; uniform (bounded in $[-a, a]$):
  Hoeffding, $P(|\bar x| \ge t) \le 2 e^{-N t^2 / (2a^2)}$, so $t = a\sqrt{2 L/N}$ with
  $L = \ln(2/\alpha) = 21.4$.
- **variance** $s^2 = \frac1N \sum_i x_i^2$ (about the known mean 0): normal: $N s^2/\sigma^2
  \sim \chi^2_N$ and Laurent & Massart (2000) give $P(\chi^2_N \ge N + 2\sqrt{NL} + 2L) \le
  e^{-L}$ and $P(\chi^2_N \le N - 2\sqrt{NL}) \le e^{-L}$, so $s^2/\sigma^2 \in [1 -
  2\sqrt{L/N},\ 1 + 2\sqrt{L/N} + 2L/N]$ (two sides together: $2e^{-L} = \alpha$); uniform
  ($x_i^2 \in [0, a^2]$, $\sigma^2 = a^2/3$): Hoeffding gives $|s^2/\sigma^2 - 1| \le
  3\sqrt{L/(2N)}$. ($N = 16384$: the std within about 3.7 % (normal) or 3.9 % (uniform).)
- **normal tails** (a normal initializer must not be uniform): the fraction of samples beyond
  $\sqrt3\sigma$ is $p_0 = 2(1 - \Phi(\sqrt 3)) = 0.0833$ for a normal and exactly 0 for the
  uniform with the same std; Hoeffding, $P(\hat p \le p_0 - t) \le e^{-2Nt^2}$, so
  $\hat p \ge p_0 - \sqrt{\ln(1/\alpha)/(2N)}$ (0.058 at $N = 16384$).

**False-failure rate.** A full grading run (public + hidden suites) makes at most
:data:`MAX_CHECKS_PER_RUN` such checks, so by the union bound a correct implementation fails
a run with probability at most ``MAX_CHECKS_PER_RUN * 1e-9`` $= 10^{-7} < 10^{-6}$ (a run
makes about 60: 20 tensors, three random checks each).

**Power.** The shapes used make fan_in and fan_out differ by a factor $\ge 2$ and every gain
differs from 1 by a factor of at least $\sqrt{2/1.09} = 1.35$ (leaky_relu, slope 0.3), so a
swap or a missing gain changes the variance by a factor $\ge 1.8$ or $\le 0.55$.
:func:`distinguishable` checks that the variance limits of the right and of the wrong std do
not overlap, so a wrong implementation passes the variance check with probability at most
$\alpha$ -- it fails every time in practice (the uniform bound checks are sharper still: a
bound off by more than $\ln(1/\alpha)/N$, 0.5 % at $N = 4096$, fails with the same
certainty). Normal-for-uniform puts 8.3 % of the samples beyond the bound (all within it:
probability $0.917^N$) and uniform-for-normal puts none beyond $\sqrt3\sigma$ (caught by
"normal tails").
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

import torch

from grader.judge import checks
from grader.judge.expectations import answers
from grader.judge.failures import Failure, NotImplementedYet

ALPHA = 1e-9  # per check
L2 = math.log(2 / ALPHA)  # two-sided
L1 = math.log(1 / ALPHA)  # one-sided
Z = 6.109410204869398  # Phi^-1(1 - ALPHA / 2)
P_TAIL = 0.08326451666355039  # P(|N(0,1)| > sqrt(3))
MAX_CHECKS_PER_RUN = 100
CHECKS_MADE = [0]  # random checks made in this process (the grader's tests compare it)

SWAP_HINT = "fan_in and fan_out are swapped: fan_in = shape[1] * receptive field (the inputs)"
GAIN_HINT = "the gain is missing: multiply the std (or bound) by gain"
NORMAL_FOR_UNIFORM = (
    "the samples look normally distributed, but a uniform initializer was asked for: draw "
    "from U(-bound, bound) with tensor.uniform_(-bound, bound)"
)
UNIFORM_FOR_NORMAL = (
    "the samples look uniformly distributed, but a normal initializer was asked for: draw "
    "from N(0, std^2) with tensor.normal_(0, std)"
)
SQRT3_HINT = "the bound of U(-a, a) with standard deviation std is a = sqrt(3) * std"


@dataclass(frozen=True)
class Limits:
    """Acceptance limits for N samples of a zero-mean distribution with std ``sigma``."""

    n: int
    sigma: float
    uniform: bool

    @property
    def bound(self) -> float:
        return math.sqrt(3.0) * self.sigma

    @property
    def mean_tol(self) -> float:
        if self.uniform:
            return self.bound * math.sqrt(2 * L2 / self.n)
        return Z * self.sigma / math.sqrt(self.n)

    @property
    def var_ratio(self) -> tuple[float, float]:
        if self.uniform:
            t = 3 * math.sqrt(L2 / (2 * self.n))
            return 1 - t, 1 + t
        r = math.sqrt(L2 / self.n)
        return 1 - 2 * r, 1 + 2 * r + 2 * L2 / self.n

    @property
    def near_bound(self) -> float:
        return self.bound * (1 - L1 / self.n)

    @property
    def min_tail_fraction(self) -> float:
        return P_TAIL - math.sqrt(L1 / (2 * self.n))


def distinguishable(n: int, sigma: float, wrong_sigma: float, uniform: bool) -> bool:
    """The variance limits for ``sigma`` and those for ``wrong_sigma`` do not overlap.

    Then an implementation whose std is ``wrong_sigma`` passes the variance check only if its
    statistic leaves its own limits, which happens with probability at most ``ALPHA``.
    """
    lo, hi = Limits(n, sigma, uniform).var_ratio
    r = (wrong_sigma / sigma) ** 2
    return r * lo > hi or r * hi < lo


def _kurtosis(x: torch.Tensor) -> float:
    m2 = float((x**2).mean())
    return float((x**4).mean()) / (m2 * m2) if m2 > 0 else 0.0


def _std_hint(std: float, n: int, alternatives: dict[str, float], uniform: bool) -> str:
    for hint, alt in alternatives.items():
        if alt <= 0:
            continue
        lo, hi = Limits(n, alt, uniform).var_ratio
        if lo <= (std / alt) ** 2 <= hi:
            return hint
    return ""


def check_distribution(
    got: torch.Tensor,
    sigma: float,
    *,
    uniform: bool,
    what: str,
    alternatives: dict[str, float] | None = None,
) -> None:
    """All the statistical checks of one initialized tensor (see the module docstring).

    ``alternatives`` maps a hint to the std a classic mistake would give (fans swapped, gain
    missing); a failure whose statistics fit one of them gets that hint.
    """
    got = checks.expect_tensor(got, what)
    if not torch.isfinite(got).all():
        raise Failure(f"{what}: contains NaN or inf")
    x = got.detach().double().flatten()
    n = x.numel()
    lim = Limits(n, sigma, uniform)
    CHECKS_MADE[0] += 3  # uniform: near-bound, mean, variance; normal: mean, variance, tails
    alternatives = dict(alternatives or {})
    std = float(x.pow(2).mean().sqrt())
    kind = "U(-a, a)" if uniform else "N(0, std^2)"

    def hint_for(observed_std: float) -> str:
        shape_hint = ""
        k = _kurtosis(x)
        if uniform and k > 2.4:
            shape_hint = NORMAL_FOR_UNIFORM
        elif not uniform and k < 2.4:
            shape_hint = UNIFORM_FOR_NORMAL
        return shape_hint or _std_hint(observed_std, n, alternatives, uniform)

    if uniform:
        biggest = float(x.abs().max())
        if biggest > lim.bound * (1 + 1e-6):
            alt = {h: s for h, s in alternatives.items()}
            raise Failure(
                f"{what}: expected samples of {kind} with bound a = {lim.bound:.6g}, but one "
                f"sample is {biggest:.6g} (outside [-a, a])",
                hint_for(std) or _bound_hint(biggest, n, alt, lim),
            )
        if biggest < lim.near_bound:
            alternatives[SQRT3_HINT] = sigma / math.sqrt(3)
            raise Failure(
                f"{what}: expected samples of {kind} with bound a = {lim.bound:.6g}; with "
                f"{n} samples the largest |x| is above {lim.near_bound:.6g} (all but certainly),"
                f" but it is {biggest:.6g}",
                hint_for(std) or _bound_hint(biggest, n, alternatives, lim),
            )
    mean = float(x.mean())
    if abs(mean) > lim.mean_tol:
        raise Failure(
            f"{what}: expected mean 0 (|mean| <= {lim.mean_tol:.3g} for {n} samples), got "
            f"{mean:.4g}",
            "the weights must be centred on 0: U(-a, a), not U(0, a)" if uniform else "",
        )
    lo, hi = lim.var_ratio
    if not lo <= (std / sigma) ** 2 <= hi:
        raise Failure(
            f"{what}: expected std {sigma:.6g} (between {sigma * math.sqrt(lo):.6g} and "
            f"{sigma * math.sqrt(hi):.6g} for {n} samples), got {std:.6g}",
            hint_for(std),
        )
    if not uniform:
        tail = float((x.abs() > lim.bound).double().mean())
        if tail < lim.min_tail_fraction:
            raise Failure(
                f"{what}: a normal distribution puts {P_TAIL:.1%} of its samples beyond "
                f"sqrt(3) * std = {lim.bound:.4g}; expected at least "
                f"{lim.min_tail_fraction:.1%} for {n} samples, got {tail:.1%}",
                UNIFORM_FOR_NORMAL,
            )


def _bound_hint(biggest: float, n: int, alternatives: dict[str, float], lim: Limits) -> str:
    """A hint when the largest sample sits at the bound a wrong std would give."""
    for hint, alt in alternatives.items():
        a = math.sqrt(3.0) * alt
        if a * (1 - L1 / n) <= biggest <= a * (1 + 1e-6):
            return hint
    return ""


def random_shape(rng: random.Random) -> tuple[int, ...]:
    """A Linear or ConvNd weight with fan_in and fan_out a factor 2-4 apart, >= 4096 elements."""
    small = rng.choice([16, 24, 32, 48])
    big = small * rng.choice([2, 3, 4])
    out, inp = (big, small) if rng.random() < 0.5 else (small, big)
    kernel = tuple(rng.choice([1, 3]) for _ in range(rng.randint(0, 3)))
    shape = (out, inp, *kernel)
    while math.prod(shape) < 4096:
        shape = (shape[0] * 2, shape[1] * 2, *kernel)
    return shape


# What a correct initializer's std is -- exercise 10's formulas, so kept in reference/support/:
# fans(shape) -> (fan_in, fan_out); gain(nonlinearity, param=None) -> float;
# xavier_std(shape, gain) -> float; kaiming_std(shape, a, mode, nonlinearity) -> (the std,
# {hint: the std of that classic mistake}).
_answers = answers("support.ex10_weight_init")
fans = _answers.fans
gain = _answers.gain
xavier_std = _answers.xavier_std
kaiming_std = _answers.kaiming_std


def init_and_check(
    student: object,
    fn: str,
    shape: tuple[int, ...],
    kwargs: dict[str, object],
    sigma: float,
    alternatives: dict[str, float],
    device: str = "cpu",
) -> None:
    """Run the student's initializer on a zero tensor (in the worker) and check the result."""
    tensor = torch.zeros(shape, device=device)
    returned = getattr(student, fn)(tensor, **kwargs)
    args = ", ".join([f"tensor of shape {shape}"] + [f"{k}={v!r}" for k, v in kwargs.items()])
    what = f"{fn}({args})"
    if not bool((tensor != 0).any()):
        filled = isinstance(returned, torch.Tensor) and bool((returned != 0).any())
        raise Failure(
            f"{what} left the tensor all zeros",
            "fill the given tensor in place (tensor.uniform_ / tensor.normal_) instead of "
            "returning a new one"
            if filled
            else "",
        )
    check_distribution(tensor, sigma, uniform="uniform" in fn, what=what, alternatives=alternatives)


def check_init_mlp(got: dict[str, Any]) -> None:
    """The parameters ``init_mlp_`` left (from the ``init_mlp`` scenario)."""
    raise_not_implemented("init_mlp_", got)
    if not got["returned_model"]:
        raise Failure("init_mlp_ should return the model it was given")
    params = got["params"]
    for layer in got["linear"]:
        weight = params[f"{layer}.weight"]
        shape = tuple(weight.shape)
        sigma, alternatives = kaiming_std(shape, 0.0, "fan_in", "relu")
        check_distribution(
            weight, sigma, uniform=False, what=f"init_mlp_: {layer}.weight of shape {shape}",
            alternatives=alternatives,
        )  # fmt: skip
        bias = params.get(f"{layer}.bias")
        if bias is not None:
            checks.close(bias, torch.zeros_like(bias), f"init_mlp_: {layer}.bias", rtol=0, atol=0)


def raise_not_implemented(name: str, got: object) -> None:
    """A scenario reports a stub's NotImplementedError as data; name what is missing."""
    if isinstance(got, dict) and "not_implemented" in got:
        said = got["not_implemented"]
        raise NotImplementedYet(
            f"{name} is not implemented yet (it raised NotImplementedError"
            f"{': ' + said if said else ''})"
        )
