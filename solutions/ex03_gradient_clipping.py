r"""Exercise 3 - Gradient clipping.

When a loss surface has a steep cliff, one unlucky batch can produce a gradient so large that a
single update throws the weights far away. *Clipping by norm* caps the size of the update while
keeping its direction: treat all gradients of the model as one long vector $g$, measure its
length $\|g\|$, and if that is larger than a threshold $c$, scale every gradient by the same
factor so that the new length is (about) $c$:

$$\hat g = g \cdot \min\left(1, \frac{c}{\|g\| + 10^{-6}}\right),
\qquad \|\hat g\| \approx \min(\|g\|, c).$$

The $10^{-6}$ keeps the division safe when $\|g\| = 0$; PyTorch adds it too, so a clipped
gradient has norm $c \cdot \|g\| / (\|g\| + 10^{-6})$, a hair below $c$.

Precisely (matching ``torch.nn.utils.clip_grad_norm_``):

- the *total* norm is the norm of all gradients together, which equals the norm of the
  per-tensor norms: $\|g\|_p = \big(\sum_i \|g_i\|_p^p\big)^{1/p}$; for ``norm_type=inf`` it is
  the largest absolute value of any gradient entry;
- parameters whose ``.grad`` is ``None`` are skipped; a single tensor is accepted as well as an
  iterable (a list, or a generator such as ``model.parameters()``);
- every gradient is multiplied *in place* by ``min(1, max_norm / (total + 1e-6))``;
- the return value is the total norm *before* clipping, as a 0-d tensor (so you can log it);
  with no gradients at all it is ``torch.tensor(0.0)``.

Worked example (course figure 7): gradients $[3, -4, 0]$ with ``max_norm=1``: the L2 total
norm is 5, the gradient becomes $[0.6, -0.8, 0]$ (times $5/5.000001$); with ``norm_type=inf``
the total norm is 4 and the gradient becomes $[0.75, -1, 0]$. In the course's six-point
classification loop a norm of $\|g\| = 1.8621$ with $c = 1$ gives the scale $0.537$.

Work on whole tensors (``torch.linalg.vector_norm``, ``Tensor.mul_``): a Python loop over
elements is thousands of times slower, and the grader checks for it.

Not allowed here: ``torch.nn.utils.clip_grad_norm_``, ``clip_grad_value_``,
``get_total_norm``, ``clip_grads_with_norm_`` and their private helpers -- writing them is the
exercise.

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
assigning to torch's attributes. A function or class that uses any of these, or a name this
exercise does not allow, has its tests voided, with a message saying what to write instead.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor


def clip_grad_norm(
    parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0
) -> Tensor:
    r"""Scale all gradients in place so their total ``norm_type``-norm is at most ``max_norm``.

    Args:
        parameters: a tensor or an iterable of tensors whose ``.grad`` will be clipped.
        max_norm: the largest allowed total norm $c$.
        norm_type: $p$ of the $p$-norm; ``float("inf")`` for the max-abs norm.

    Returns:
        The total norm of the gradients *before* clipping, as a 0-d tensor.

    Example:
        >>> w = torch.zeros(3, requires_grad=True)
        >>> w.grad = torch.tensor([3.0, -4.0, 0.0])
        >>> clip_grad_norm([w], max_norm=1.0)
        tensor(5.)
        >>> w.grad  # scaled by 1 / (5 + 1e-6)
        tensor([ 0.6000, -0.8000,  0.0000])
    """
    # BEGIN SOLUTION
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    norm_type = float(norm_type)
    first_device = grads[0].device
    with torch.no_grad():
        per_tensor = [torch.linalg.vector_norm(g, norm_type).to(first_device) for g in grads]
        total = torch.linalg.vector_norm(torch.stack(per_tensor), norm_type)
        scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
        for g in grads:
            g.mul_(scale.to(g.device))
    return total
    # END SOLUTION


def clip_grad_value(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    r"""Clamp every gradient entry into $[-\text{clip\_value}, \text{clip\_value}]$, in place.

    Unlike norm clipping this changes the gradient's direction. Parameters whose ``.grad`` is
    ``None`` are skipped; a single tensor is accepted.

    Example:
        >>> w = torch.zeros(3, requires_grad=True)
        >>> w.grad = torch.tensor([3.0, -4.0, 0.5])
        >>> clip_grad_value(w, 1.0)
        >>> w.grad
        tensor([ 1.0000, -1.0000,  0.5000])
    """
    # BEGIN SOLUTION
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    with torch.no_grad():
        for p in parameters:
            if p.grad is not None:
                p.grad.clamp_(min=-clip_value, max=clip_value)
    # END SOLUTION
