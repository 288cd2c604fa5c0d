r"""Exercise 10 - Weight initialization.

Why not start from all zeros? Every hidden unit of a layer would compute the same thing and
receive the same gradient, so they would stay identical forever. Random weights break that
symmetry -- but their *scale* matters. A layer computes $y_j = \sum_{i=1}^{n} w_{ji} x_i$: with
independent zero-mean weights of variance $\sigma^2$, $\operatorname{Var}(y_j) = n \sigma^2
\operatorname{Var}(x)$. If $n\sigma^2 > 1$ the signal grows layer after layer (exploding
activations and gradients); if $n\sigma^2 < 1$ it fades away (vanishing). So choose
$\sigma^2 \propto 1/n$.

**Fans.** For a ``Linear`` weight of shape (out, in), *fan_in* = in (inputs summed by each
output) and *fan_out* = out. A convolution weight (out, in, k1, k2, ...) sums over its kernel
too: with the receptive field $r = k_1 k_2 \cdots$, fan_in = in $\cdot r$ and fan_out = out
$\cdot r$. Example: Conv2d(16 -> 32, kernel 3x3) has weight (32, 16, 3, 3), fan_in 144 and
fan_out 288.

**Gain.** Nonlinearities shrink the signal: ReLU zeroes half of it, so its variance is halved
and the weights must make up a factor 2 in variance, gain $\sqrt 2$. ``calculate_gain`` gives
(as torch): linear, the conv/conv_transpose names and sigmoid 1; tanh 5/3; relu $\sqrt 2$;
leaky_relu $\sqrt{2 / (1 + a^2)}$ with negative slope $a$ (``param``; 0.01 when None); selu
3/4. Any other name raises ``ValueError``.

**Xavier/Glorot** balances the forward and the backward pass:
$\operatorname{std} = \text{gain}\sqrt{2 / (\text{fan\_in} + \text{fan\_out})}$;
``xavier_normal_`` draws $\mathcal N(0, \operatorname{std}^2)$ and ``xavier_uniform_`` draws
$\mathcal U(-a, a)$ with the same std, i.e. $a = \sqrt 3 \cdot \operatorname{std} =
\text{gain}\sqrt{6 / (\text{fan\_in} + \text{fan\_out})}$ (a uniform on $[-a, a]$ has variance
$a^2/3$).

**Kaiming/He** keeps the forward signal (``mode="fan_in"``, the default) or the backward
signal (``mode="fan_out"``) at a constant scale through ReLU-like layers:
$\operatorname{std} = \text{gain} / \sqrt{\text{fan}}$ with ``gain =
calculate_gain(nonlinearity, a)``; ``kaiming_normal_`` draws $\mathcal N(0,
\operatorname{std}^2)$ and ``kaiming_uniform_`` draws $\mathcal U(-\sqrt 3\operatorname{std},
\sqrt 3\operatorname{std})$. Worked example: a (256, 64) weight with mode fan_in and relu has
std $\sqrt 2 / 8 \approx 0.177$ and uniform bound $\approx 0.306$.

All four fill the tensor **in place** without recording autograd history (``torch.no_grad()``,
so they work on parameters), draw from torch's global random generator (so ``torch.manual_seed``
makes them reproducible) and **return the tensor**.

``init_mlp_(model)`` re-initializes every ``nn.Linear`` in ``model``: Kaiming-normal weights
(fan_in, relu) and zero biases; it returns the model.

The grader checks the distributions statistically -- uniform bounds, mean and std within
limits derived from the number of samples -- and ``calculate_fans``/``calculate_gain`` exactly.

Not allowed here: ``torch.nn.init`` (every function in it -- writing them is the exercise). Use
``Tensor.uniform_``, ``Tensor.normal_`` and ``Tensor.zero_``.

**What your file may use.** The grader reads your file before running any of it. You may import
``torch`` and ``numpy`` (with their public submodules) and, from Python's standard library,
``math``, ``cmath``, ``random``, ``functools``, ``itertools``, ``operator``, ``collections``,
``dataclasses``, ``typing``, ``typing_extensions``, ``copy``, ``numbers``, ``abc``, ``enum``,
``warnings``, ``time``, ``contextlib``, ``json``, ``re``, ``string``, ``statistics``,
``fractions``, ``decimal``, ``heapq``, ``bisect``, ``array``, ``textwrap``, ``pprint``,
``__future__`` and, of ``sys``, only its streams, limits and version (``sys.stdout``,
``sys.maxsize``, ``sys.float_info``, ``sys.setrecursionlimit``, ...). Not: any other module
(``threading``, ``subprocess``, ``pickle``, ``importlib``, ...); private or dunder attributes
of objects that are not your own (``torch._C``, ``torch._foreach_norm``,
``x.__class__.__mro__``); attribute names computed at run time (``getattr(obj, name)`` with a
built ``name`` -- a literal name is fine), ``eval``, ``exec``, ``vars()`` of a module;
assigning to torch's attributes; anything in ``torch.nn.init``. A function or class that uses
any of these, or a name this exercise does not allow, has its tests voided, with a message
saying what to write instead.
"""

from __future__ import annotations

import math  # noqa: F401 (used by the solution bodies)

import torch  # noqa: F401 (used by the solution bodies)
from torch import Tensor, nn


def calculate_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of this shape, as torch computes them.

    Example:
        >>> calculate_fans((32, 16, 3, 3))
        (144, 288)
    """
    raise NotImplementedError("exercise-10: write calculate_fans")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    Example:
        >>> calculate_gain("tanh")
        1.6666666666666667
    """
    raise NotImplementedError("exercise-10: write calculate_gain")


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Fill ``tensor`` in place from $\\mathcal U(-a, a)$, $a = $ gain $\\sqrt{6/(\\text{fan\\_in}
    + \\text{fan\\_out})}$, and return it."""
    raise NotImplementedError("exercise-10: write xavier_uniform_")


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Fill ``tensor`` in place from $\\mathcal N(0, \\text{std}^2)$, std $=$ gain
    $\\sqrt{2/(\\text{fan\\_in} + \\text{fan\\_out})}$, and return it."""
    raise NotImplementedError("exercise-10: write xavier_normal_")


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    """gain / sqrt(fan) for the Kaiming initializers."""
    raise NotImplementedError("exercise-10: write _kaiming_std")


def kaiming_uniform_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """Fill ``tensor`` in place from $\\mathcal U(-\\sqrt 3\\,\\text{std}, \\sqrt 3\\,\\text{std})$,
    std $=$ gain / $\\sqrt{\\text{fan}}$, and return it."""
    raise NotImplementedError("exercise-10: write kaiming_uniform_")


def kaiming_normal_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """Fill ``tensor`` in place from $\\mathcal N(0, \\text{std}^2)$, std $=$ gain /
    $\\sqrt{\\text{fan}}$, and return it."""
    raise NotImplementedError("exercise-10: write kaiming_normal_")


def init_mlp_(model: nn.Module) -> nn.Module:
    """Kaiming-normal (fan_in, relu) weights and zero biases for every ``nn.Linear``; returns
    ``model``."""
    raise NotImplementedError("exercise-10: write init_mlp_")
