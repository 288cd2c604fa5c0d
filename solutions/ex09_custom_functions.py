r"""Exercise 9 - Custom autograd functions.

PyTorch's autograd knows the derivative of every built-in operation. When you invent a new
operation -- or want a faster or more stable backward than autograd would derive, or a
*different* gradient on purpose -- you write a ``torch.autograd.Function``: a ``forward`` that
computes the result from plain tensors, and a ``backward`` that receives $\bar y = \partial L /
\partial y$ (``grad_output``, same shape as the output) and returns $\partial L / \partial x$
for every input, in order (``None`` for inputs that need no gradient, like a float ``eps``).

.. code-block:: python

    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)      # keep what backward needs
            return x * x

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * 2 * x    # chain rule: dL/dx = dL/dy * dy/dx

    y = Square.apply(x)                   # never call forward() directly

Inside ``forward`` autograd is switched off: you compute with ordinary tensor operations.
``backward`` must compute the gradient *by hand*, from saved tensors -- calling autograd
there (``torch.autograd.grad``, ``.backward()``) is not allowed.

The four functions (shapes: N batch, D features):

- ``LinearFunction.apply(x, weight, bias)``: $y = x W^\top + b$ with x (N, in), weight
  (out, in), bias (out,), like ``nn.Linear``. Backward: $\bar x = \bar y W$,
  $\bar W = \bar y^\top x$, $\bar b = \sum_n \bar y_n$ (a *sum* over the batch, not a mean).
- ``SiLUFunction.apply(x)``: $y = x\,\sigma(x)$; $y' = \sigma(x)\,(1 + x (1 - \sigma(x)))$.
- ``LayerNormFunction.apply(x, weight, bias, eps)``: over the last dimension (size D),
  $\mu = \frac1D \sum_i x_i$, $\sigma^2 = \frac1D \sum_i (x_i - \mu)^2$ (biased),
  $\hat x = (x - \mu) / \sqrt{\sigma^2 + \epsilon}$, $y = \hat x \odot w + b$; x may have any
  number of leading dimensions. With $g = \bar y \odot w$: $\bar x = \frac{1}{\sqrt{\sigma^2 +
  \epsilon}} \big(g - \operatorname{mean}(g) - \hat x \operatorname{mean}(g \odot \hat x)\big)$
  (means over the last dimension), $\bar w = \sum \bar y \odot \hat x$ and $\bar b = \sum \bar
  y$ over all leading dimensions; ``eps`` gets ``None``. Matches
  ``torch.nn.functional.layer_norm(x, (D,), weight, bias, eps)``.
- ``StraightThroughRound.apply(x)``: forward ``torch.round(x)`` (halves round to even: 0.5 ->
  0, 1.5 -> 2, 2.5 -> 2); backward passes ``grad_output`` through unchanged. Rounding has
  derivative 0 almost everywhere, which would stop all learning; the *straight-through
  estimator* pretends it is the identity (used for quantization).

The grader checks the forward values against the built-ins in float64, runs
``torch.autograd.gradcheck`` (slow mode, tight tolerances) on several shapes and seeds,
compares the gradients with autograd of the built-ins, and calls ``forward``/``backward``
directly to check that ``backward`` does not call autograd.

Not allowed here: calling autograd inside ``backward``; ``F.linear``, ``F.silu`` and
``F.layer_norm`` in ``forward`` (``torch.sigmoid``, ``@``, ``mean``, ``sum``... are fine).

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
assigning to torch's attributes; the modules that call the forbidden functions
(``torch.nn.Linear``, ``torch.nn.SiLU``, ``torch.nn.LayerNorm``) and the other normalizations
that give layer norm's result on a reshaped input (``torch.nn.GroupNorm``,
``torch.nn.functional.group_norm``, ``torch.nn.functional.batch_norm``,
``torch.nn.functional.instance_norm``, ``torch.group_norm``, ``torch.batch_norm``,
``torch.instance_norm``, ``torch.native_batch_norm``). A function or class that uses any of
these, or a name this exercise does not allow, has its tests voided, with a message saying what
to write instead.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class LinearFunction(torch.autograd.Function):
    """$y = x W^\\top + b$, like ``nn.Linear``: x (N, in), weight (out, in), bias (out,)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        # BEGIN SOLUTION
        ctx.save_for_backward(x, weight)
        return x @ weight.T + bias
        # END SOLUTION

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        # BEGIN SOLUTION
        x, weight = ctx.saved_tensors
        return grad_output @ weight, grad_output.T @ x, grad_output.sum(0)
        # END SOLUTION


class SiLUFunction(torch.autograd.Function):
    """$y = x \\, \\sigma(x)$ (also called swish)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        # BEGIN SOLUTION
        ctx.save_for_backward(x)
        return x * torch.sigmoid(x)
        # END SOLUTION

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:
        # BEGIN SOLUTION
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        return grad_output * s * (1 + x * (1 - s))
        # END SOLUTION


class LayerNormFunction(torch.autograd.Function):
    """Layer normalization over the last dimension, with weight and bias of shape (D,)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
        # BEGIN SOLUTION
        mean = x.mean(dim=-1, keepdim=True)
        var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
        rstd = 1.0 / torch.sqrt(var + eps)
        x_hat = (x - mean) * rstd
        ctx.save_for_backward(x_hat, rstd, weight)
        return x_hat * weight + bias
        # END SOLUTION

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, Tensor, Tensor, None]:
        # BEGIN SOLUTION
        x_hat, rstd, weight = ctx.saved_tensors
        g = grad_output * weight
        grad_x = rstd * (
            g - g.mean(dim=-1, keepdim=True) - x_hat * (g * x_hat).mean(dim=-1, keepdim=True)
        )
        d = x_hat.shape[-1]  # sum over every leading dimension (there may be none)
        grad_weight = (grad_output * x_hat).reshape(-1, d).sum(0)
        grad_bias = grad_output.reshape(-1, d).sum(0)
        return grad_x, grad_weight, grad_bias, None
        # END SOLUTION


class StraightThroughRound(torch.autograd.Function):
    """Forward: ``torch.round``; backward: the identity (the straight-through estimator)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        # BEGIN SOLUTION
        return torch.round(x)
        # END SOLUTION

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:
        # BEGIN SOLUTION
        return grad_output
        # END SOLUTION
