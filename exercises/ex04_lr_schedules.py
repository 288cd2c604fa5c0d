r"""Exercise 4 - Learning-rate schedules.

A single learning rate is a compromise: large steps make fast progress early, small steps
settle into a minimum late. A *schedule* changes the learning rate as training goes on. Three
schedules cover most of practice:

- **step decay** -- multiply the rate by $\gamma$ every ``step_size`` steps (or epochs):
  $\eta_t = \eta_0 \cdot \gamma^{\lfloor t / \text{step\_size} \rfloor}$;
- **cosine annealing** -- glide from $\eta_0$ down to $\eta_{\min}$ along half a cosine wave
  over $T$ steps: $\eta_t = \eta_{\min} + (\eta_0 - \eta_{\min})\,\frac{1 + \cos(\pi t / T)}{2}$;
- **linear warmup + cosine** (the transformer standard) -- for the first $W$ steps rise
  linearly from $f \cdot \eta_0$ to $\eta_0$,
  $\eta_t = \eta_0 \left(f + (1 - f)\,\frac{t}{W}\right)$, then anneal with the cosine above
  over the remaining $T - W$ steps, counting its steps from the end of the warmup:
  $\eta_t = \eta_{\min} + (\eta_0 - \eta_{\min})\,\frac{1 + \cos(\pi (t - W) / (T - W))}{2}$.
  Warmup keeps the first, badly informed updates small (Adam's second-moment estimate is
  still noisy then).

Steps count from 0: step 0 is the learning rate used by the very first optimizer step. The
pure functions below compute $\eta_t$ for one step; they match PyTorch's
``StepLR``, ``CosineAnnealingLR(T_max=total_steps, eta_min=min_lr)`` and the
``SequentialLR([LinearLR(start_factor=warmup_start_factor, end_factor=1.0,
total_iters=warmup_steps), CosineAnnealingLR(T_max=total_steps - warmup_steps,
eta_min=min_lr)], milestones=[warmup_steps])`` for $0 \le t \le$ ``total_steps``.
``warmup_steps`` must be at least 1 and ``total_steps`` larger than ``warmup_steps``;
otherwise raise ``ValueError``. (PyTorch does not clamp the cosine past ``total_steps``: the
rate rises again with period $2T$. Only $0 \le t \le T$ is graded.)

The three classes drive a real optimizer, the way ``torch.optim.lr_scheduler`` does:

- they are constructed on an optimizer, and construction already sets every param group's
  ``lr`` to its step-0 value (for warmup that is ``warmup_start_factor * base_lr``);
- ``step()`` advances one step (call it after ``optimizer.step()``) and writes the new rate
  into every param group;
- each param group is scheduled from its *own* initial lr (a model with a small lr for its
  backbone and a large one for its head keeps that ratio);
- ``get_last_lr()`` returns a list with the current lr of every param group;
- ``state_dict()`` / ``load_state_dict()`` let a run resume: to resume, build the optimizer
  and the scheduler, load the optimizer's state, then the scheduler's, and the learning rates
  continue exactly as if the run had not stopped.

The easy way is to subclass ``torch.optim.lr_scheduler.LRScheduler``: its constructor records
``base_lrs`` (each group's initial lr) and takes the step-0 step, its ``step()`` increments
``self.last_epoch`` and writes whatever your ``get_lr()`` returns (one lr per group) into the
param groups, and its ``state_dict()`` saves everything in ``self.__dict__`` except the
optimizer. Your ``get_lr()`` can then simply evaluate the pure function at ``self.last_epoch``
for every base lr.

The grader compares every value with PyTorch's over whole schedules, for random
configurations and several param groups, with an absolute tolerance of about
$10^{-12} \cdot \eta_0$ (a closed formula and PyTorch's step-by-step recursion differ only by
rounding).

Worked examples (course figures 8 and 9):

- step decay with $\eta_0 = 0.5$, $\gamma = 0.8$, ``step_size=1``: steps 0, 1, 2, 5, 30 give
  0.5, 0.4, 0.32, 0.16384, 0.000619; with $\eta_0 = 0.1$, $\gamma = 0.1$, ``step_size=30``:
  0.1 for steps 0-29, 0.01 at step 30, 0.001 at step 60;
- warmup + cosine with $\eta_0 = 1$, ``warmup_start_factor=0.01``, ``warmup_steps=5``,
  ``total_steps=15``, ``min_lr=0``: steps 0-15 give 0.01, 0.208, 0.406, 0.604, 0.802, 1.0,
  0.9755, 0.9045, 0.7939, 0.6545, 0.5, 0.3455, 0.2061, 0.0955, 0.0245, 0.0.

Not allowed here: the concrete schedulers of ``torch.optim.lr_scheduler`` (``StepLR``,
``CosineAnnealingLR``, ``LinearLR``, ``SequentialLR``, ``LambdaLR``, ...). Subclassing their
base class ``LRScheduler`` is allowed.

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
assigning to torch's attributes; ``torch.optim.swa_utils`` (its ``SWALR`` anneals along a
cosine too). A function or class that uses any of these, or a name this exercise does not
allow, has its tests voided, with a message saying what to write instead.
"""

from __future__ import annotations

import math  # noqa: F401 (used by the solution bodies)

import torch
from torch.optim.lr_scheduler import LRScheduler


def step_decay(step: int, base_lr: float, step_size: int, gamma: float) -> float:
    r"""The learning rate $\eta_0 \cdot \gamma^{\lfloor t / \text{step\_size} \rfloor}$ at ``step``.

    Matches ``torch.optim.lr_scheduler.StepLR(optimizer, step_size, gamma)``.

    Example:
        >>> [round(step_decay(t, 0.5, step_size=1, gamma=0.8), 6) for t in (0, 1, 2, 5, 30)]
        [0.5, 0.4, 0.32, 0.16384, 0.000619]
    """
    raise NotImplementedError("exercise-4: write step_decay")


def cosine_annealing(step: int, base_lr: float, total_steps: int, min_lr: float = 0.0) -> float:
    r"""Cosine annealing from ``base_lr`` at step 0 to ``min_lr`` at ``total_steps``.

    $\eta_t = \eta_{\min} + (\eta_0 - \eta_{\min})\,\frac{1 + \cos(\pi t / T)}{2}$, matching
    ``torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps, eta_min=min_lr)``.

    Example:
        >>> cosine_annealing(0, 1.0, total_steps=10), cosine_annealing(10, 1.0, total_steps=10)
        (1.0, 0.0)
        >>> round(cosine_annealing(5, 1.0, total_steps=10), 12)
        0.5
    """
    raise NotImplementedError("exercise-4: write cosine_annealing")


def warmup_cosine(
    step: int,
    base_lr: float,
    warmup_steps: int,
    total_steps: int,
    min_lr: float = 0.0,
    warmup_start_factor: float = 0.01,
) -> float:
    r"""Linear warmup from ``warmup_start_factor * base_lr`` to ``base_lr``, then cosine.

    Steps $0 \le t < W$ rise linearly, $\eta_t = \eta_0 (f + (1 - f)\,t / W)$; from $t = W$
    on, cosine annealing over the remaining ``total_steps - warmup_steps`` steps, with its
    own step count starting at 0 at $t = W$ (so $\eta_W = \eta_0$).

    Raises:
        ValueError: if ``warmup_steps < 1`` or ``total_steps <= warmup_steps``.

    Example:
        >>> [round(warmup_cosine(t, 1.0, warmup_steps=5, total_steps=15), 4) for t in range(7)]
        [0.01, 0.208, 0.406, 0.604, 0.802, 1.0, 0.9755]
    """
    raise NotImplementedError("exercise-4: write warmup_cosine")


class StepDecayLR(LRScheduler):
    r"""Step decay for every param group of ``optimizer``; matches ``StepLR``.

    Example:
        >>> w = torch.nn.Parameter(torch.zeros(1))
        >>> opt = torch.optim.SGD([w], lr=0.5)
        >>> sched = StepDecayLR(opt, step_size=1, gamma=0.8)
        >>> opt.step(); sched.step()
        >>> [round(lr, 6) for lr in sched.get_last_lr()]
        [0.4]
    """

    def __init__(self, optimizer: torch.optim.Optimizer, step_size: int, gamma: float) -> None:
        raise NotImplementedError("exercise-4: write StepDecayLR.__init__")

    def get_lr(self) -> list[float]:
        """The learning rate of every param group at step ``self.last_epoch``."""
        raise NotImplementedError("exercise-4: write StepDecayLR.get_lr")


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing over ``total_steps`` steps; matches torch's ``CosineAnnealingLR``.

    Example:
        >>> w = torch.nn.Parameter(torch.zeros(1))
        >>> opt = torch.optim.SGD([w], lr=1.0)
        >>> sched = CosineAnnealingLR(opt, total_steps=10)
        >>> for _ in range(5):
        ...     opt.step(); sched.step()
        >>> round(opt.param_groups[0]["lr"], 12)
        0.5
    """

    def __init__(
        self, optimizer: torch.optim.Optimizer, total_steps: int, min_lr: float = 0.0
    ) -> None:
        raise NotImplementedError("exercise-4: write CosineAnnealingLR.__init__")

    def get_lr(self) -> list[float]:
        """The learning rate of every param group at step ``self.last_epoch``."""
        raise NotImplementedError("exercise-4: write CosineAnnealingLR.get_lr")


class WarmupCosineLR(LRScheduler):
    r"""Linear warmup then cosine annealing; matches the ``SequentialLR`` in the module text.

    Construction already sets every group's lr to ``warmup_start_factor`` times its initial lr.

    Example:
        >>> w = torch.nn.Parameter(torch.zeros(1))
        >>> opt = torch.optim.SGD([w], lr=1.0)
        >>> sched = WarmupCosineLR(opt, warmup_steps=5, total_steps=15)
        >>> opt.param_groups[0]["lr"]
        0.01
        >>> opt.step(); sched.step()
        >>> round(sched.get_last_lr()[0], 6)
        0.208
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        warmup_steps: int,
        total_steps: int,
        min_lr: float = 0.0,
        warmup_start_factor: float = 0.01,
    ) -> None:
        raise NotImplementedError("exercise-4: write WarmupCosineLR.__init__")

    def get_lr(self) -> list[float]:
        """The learning rate of every param group at step ``self.last_epoch``."""
        raise NotImplementedError("exercise-4: write WarmupCosineLR.get_lr")
