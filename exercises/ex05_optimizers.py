r"""Exercise 5 - Optimizers beyond SGD.

Plain gradient descent takes a step $-\eta g$ against the gradient. Three ideas make it much
better in practice:

- **momentum** remembers a running sum of past gradients, so steps along a consistent
  direction grow and zig-zags across a narrow valley cancel out;
- **per-parameter step sizes** (RMSprop) divide each gradient entry by the root of a running
  average of its squares, so steep and flat directions move at similar speeds;
- **Adam** does both, and corrects the fact that both averages start at zero.

Precisely, for a parameter $\theta$ with gradient $g_t$ at step $t = 1, 2, \dots$ (these are the
exact updates of ``torch.optim``, which the grader follows step for step in float64):

**SGD** (``lr`` $\eta$, ``momentum`` $\mu$, ``dampening`` $\tau$, ``weight_decay`` $\lambda$):
$g \leftarrow g + \lambda\theta$; if $\mu \ne 0$: the buffer is $b_1 = g$ on the first step
(*no* dampening) and $b_t = \mu b_{t-1} + (1 - \tau) g$ afterwards; the step direction is
$g + \mu b_t$ with ``nesterov=True`` and $b_t$ otherwise; $\theta \leftarrow \theta - \eta
\cdot \text{direction}$. Nesterov needs $\mu > 0$ and $\tau = 0$ (``ValueError`` otherwise).

**Adam** (``betas`` $(\beta_1, \beta_2)$, ``eps`` $\epsilon$): $g \leftarrow g +
\lambda\theta$ (L2 decay folded into the gradient); $m_t = \beta_1 m_{t-1} + (1 - \beta_1) g$;
$v_t = \beta_2 v_{t-1} + (1 - \beta_2) g^2$; then with the bias corrections
$\hat m_t = m_t / (1 - \beta_1^t)$ and $\hat v_t = v_t / (1 - \beta_2^t)$:

$$\theta \leftarrow \theta - \eta \, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.$$

$\epsilon$ is added *after* the square root of the bias-corrected $\hat v_t$; the Adam paper's
"efficient" form adds it before the correction, which differs when gradients are tiny, and
the grader uses gradients from $10^{-6}$ to $10^{2}$.

**AdamW** is Adam with *decoupled* weight decay: first $\theta \leftarrow \theta (1 - \eta
\lambda)$, then the Adam step with the raw gradient (no $\lambda\theta$ in $g$). Its default
``weight_decay`` is ``1e-2``.

**RMSprop** (``alpha`` $\alpha$, ``eps`` $\epsilon$, ``momentum`` $\mu$): $v_t = \alpha v_{t-1} +
(1 - \alpha) g^2$; $d = \sqrt{v_t} + \epsilon$ ($\epsilon$ outside the root); without momentum
$\theta \leftarrow \theta - \eta g / d$; with momentum $b_t = \mu b_{t-1} + g / d$ ($b_0 = 0$)
and $\theta \leftarrow \theta - \eta b_t$. No bias correction.

Each class subclasses ``torch.optim.Optimizer``: pass the hyperparameters to
``super().__init__(params, defaults)`` as a dict of defaults and read them back from each
``group`` in ``self.param_groups`` at every step (a scheduler changes ``group["lr"]`` between
steps, and every group may have its own values). Keep per-parameter tensors (momentum buffers,
moment estimates, the step count) in ``self.state[p]``; then ``zero_grad``, ``state_dict()``
and ``load_state_dict()`` work unchanged (what you store is your choice, as long as a fresh
optimizer that loads your ``state_dict()`` continues exactly). Skip parameters whose ``.grad``
is ``None``: they are not updated at all (not even decayed), and their state does not advance.
Update in place under ``torch.no_grad()`` and keep each tensor's dtype and device.

Worked example: one SGD step with ``lr=0.1`` on $\theta = 1$ with $g = -8$ gives $\theta =
1.8$ (course figure 1); with ``momentum=0.9`` the second step with the same gradient moves by
$0.1 \cdot (0.9 \cdot 8 + 8) = 1.52$. Adam's first step is always about $\eta$ in size: $\hat
m_1 = g$ and $\sqrt{\hat v_1} = |g|$, so $\theta$ moves by $\eta\,g / (|g| + \epsilon)$.

Not allowed here: ``torch.optim.SGD``, ``Adam``, ``AdamW`` and ``RMSprop``, everything in
``torch.optim._functional`` (the update functions behind every torch optimizer) with their
private single-tensor/multi-tensor/fused versions, and the fused kernels ``torch._fused_sgd_``,
``torch._fused_adam_``, ``torch._fused_adamw_``. Subclassing ``torch.optim.Optimizer`` is the
point, and ordinary tensor operations are fine (the private ``torch._foreach_*`` are not: loop
over the parameters instead).

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
assigning to torch's attributes; torch's other optimizers (``torch.optim.ASGD``,
``torch.optim.Adadelta``, ``torch.optim.Adafactor``, ``torch.optim.Adagrad``,
``torch.optim.Adamax``, ``torch.optim.LBFGS``, ``torch.optim.NAdam``, ``torch.optim.RAdam``,
``torch.optim.Rprop``, ``torch.optim.SparseAdam``). A function or class that uses any of these,
or a name this exercise does not allow, has its tests voided, with a message saying what to
write instead.
"""

from __future__ import annotations

import math  # noqa: F401 (used by the solution bodies)
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> opt = SGD([w], lr=0.1)
        >>> w.grad = torch.tensor([-8.0])
        >>> opt.step()
        >>> w
        Parameter containing:
        tensor([1.8000], requires_grad=True)
    """

    def __init__(
        self,
        params: Params,
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        raise NotImplementedError("exercise-5: write SGD.__init__")

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Update every parameter that has a gradient; returns ``closure()`` if given."""
        raise NotImplementedError("exercise-5: write SGD.step")


class Adam(Optimizer):
    """Adam with bias-corrected moments and L2 weight decay added to the gradient.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0, 1.0]))
        >>> opt = Adam([w], lr=0.1)
        >>> w.grad = torch.tensor([3.0, -0.001])
        >>> opt.step()  # the first step moves every entry by about lr
        >>> w
        Parameter containing:
        tensor([0.9000, 1.1000], requires_grad=True)
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        raise NotImplementedError("exercise-5: write Adam.__init__")

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """One Adam step for every parameter that has a gradient; returns ``closure()``."""
        raise NotImplementedError("exercise-5: write Adam.step")


class AdamW(Optimizer):
    """Adam with decoupled weight decay: $\\theta \\leftarrow \\theta(1 - \\eta\\lambda)$ first.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
        >>> w.grad = torch.tensor([2.0])
        >>> opt.step()  # 1 * (1 - 0.1 * 0.5) - 0.1
        >>> w
        Parameter containing:
        tensor([0.8500], requires_grad=True)
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        raise NotImplementedError("exercise-5: write AdamW.__init__")

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """One AdamW step for every parameter that has a gradient; returns ``closure()``."""
        raise NotImplementedError("exercise-5: write AdamW.step")


def adam_update(state: dict[str, Any], p: Tensor, g: Tensor, group: dict[str, Any]) -> None:
    """The Adam moment updates and parameter step shared by :class:`Adam` and :class:`AdamW`."""
    raise NotImplementedError("exercise-5: write adam_update")


class RMSprop(Optimizer):
    """RMSprop (not centered), with optional momentum on the scaled gradient.

    Example:
        >>> w = torch.nn.Parameter(torch.tensor([1.0]))
        >>> opt = RMSprop([w], lr=0.01, alpha=0.99)
        >>> w.grad = torch.tensor([4.0])
        >>> opt.step()  # v = 0.01 * 16, so the step is 0.01 * 4 / 0.4 = 0.1
        >>> w
        Parameter containing:
        tensor([0.9000], requires_grad=True)
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
    ) -> None:
        raise NotImplementedError("exercise-5: write RMSprop.__init__")

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """One RMSprop step for every parameter that has a gradient; returns ``closure()``."""
        raise NotImplementedError("exercise-5: write RMSprop.step")
