r"""Exercise 6 - The training loop.

Every PyTorch training run, from a two-layer MLP to a large language model, repeats the same
five steps for each batch:

1. **forward** -- run the model on the batch: ``logits = model(x)``;
2. **loss** -- measure how wrong it is: ``loss = loss_fn(logits, y)``;
3. **backward** -- ``loss.backward()`` fills every parameter's ``.grad`` with
   $\partial L / \partial \theta$;
4. **clip** (optional) -- cap the total gradient norm $\|g\|$ at $c$:
   $\hat g = g \cdot \min(1, c / (\|g\| + 10^{-6}))$;
5. **update** -- ``optimizer.step()`` moves every parameter against its gradient, e.g.
   $\theta \leftarrow \theta - \eta\, \hat g$ for plain SGD; then ``scheduler.step()`` sets the
   learning rate $\eta$ for the next update.

The order matters. Clipping before ``backward`` clips gradients that do not exist yet (they
are zero or ``None``), so nothing is clipped; clipping after ``step`` is too late, because the
update has already used the unclipped gradients. Stepping the scheduler before the optimizer
skips the first learning rate.

**Gradients accumulate.** ``backward`` *adds* into ``.grad``; it never overwrites. That is what
lets several batches contribute to one update, and it is why every optimizer step starts with
``optimizer.zero_grad()`` (since PyTorch 2.0 it sets the gradients to ``None`` by default).
Forget it and every update uses the sum of all gradients so far: training still "works", just
worse, which is why nothing crashes to warn you.

**Gradient accumulation** uses that on purpose: with ``accumulation_steps=k`` you call
``backward`` on $L_b / k$ for $k$ batches, then take one optimizer step. The update then uses
the mean gradient over $k$ batches, as if the batch were $k$ times larger (effective batch
$k \cdot B$). If the number of batches is not a multiple of $k$, the last few batches form a
shorter window that still gets its own step at the end of the epoch.

**Train vs eval mode.** ``model.train()`` and ``model.eval()`` switch layers whose behaviour
differs between training and inference: dropout drops units only in train mode, batch norm
uses batch statistics only in train mode. Evaluation also needs no gradients: under
``torch.no_grad()`` autograd records nothing, which saves memory and time. A good ``evaluate``
leaves the model in the mode it found it in, so calling it in the middle of training does not
silently switch dropout off for the rest of the run.

**Losses as floats.** Keep running totals with ``loss.item()``. ``total += loss`` keeps a
tensor whose autograd graph reaches back into every batch of the epoch, so no batch's graph can
be freed.

What the grader checks: your loop's parameters after an epoch against a reference loop on the
same data, weights and batch order (float64); the order of the calls in each step, recorded by
wrapping the model, loss, optimizer and scheduler you receive; modes, ``no_grad`` and the
types of what you return; and ``fit`` reproducing course figure 6 below.

Worked example (course figure 6, the six-point classification loop): X = (0.5, 0.1),
(0.2, 0.8), (0.9, 0.6), (0.1, 0.5), (0.8, 0.2), (0.6, 0.9); y = 0, 0, 0, 1, 1, 1; an MLP
2 -> 4 -> 2 with ReLU whose weights come from NumPy seed 7 ($W_1 = 1.5 \cdot$ ``randn(2, 4)``,
$W_2 = 1.5 \cdot$ ``randn(4, 2)``, zero biases); batches of 2 in the orders [0, 1, 5, 2, 4, 3],
[3, 0, 1, 2, 5, 4], [4, 1, 0, 3, 5, 2]; SGD with lr 0.5, ``StepLR(step_size=1, gamma=0.8)``
stepped once per epoch; clipping at total norm 1.0; mean cross-entropy. Then ``fit`` gives

=====  ===========================  =============================  ==========  =====
epoch  batch losses                 pre-clip gradient norms        train_loss  lr
=====  ===========================  =============================  ==========  =====
0      0.5258, 0.8223, 1.2069       0.8864, 0.9033, **1.8621**     0.8517      0.4
1      0.6255, 0.6803, 1.1863       0.3412, 0.7954, **1.5217**     0.8307      0.32
2      0.8215, 0.6814, 0.6360       0.5781, 0.3145, 0.3816         0.7130      0.256
=====  ===========================  =============================  ==========  =====

Clipping fires exactly twice (epoch 0 batch 2, epoch 1 batch 2); the first batch's forward
gives probabilities [0.6952, 0.3048] for sample 0 and loss 0.5258.

Nothing is forbidden here: use ``torch.nn.utils.clip_grad_norm_`` and the optimizer and
scheduler you are given.

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

from collections.abc import Callable, Iterable
from typing import Literal

import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import LRScheduler


def train_one_epoch(
    model: nn.Module,
    loader: Iterable[tuple[Tensor, Tensor]],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    optimizer: torch.optim.Optimizer,
    *,
    scheduler: LRScheduler | None = None,
    max_grad_norm: float | None = None,
    accumulation_steps: int = 1,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    r"""Train ``model`` for one pass over ``loader``.

    Puts the model in train mode. For every optimizer step: ``optimizer.zero_grad()``, then for
    each batch of the step forward -> loss -> ``backward`` (on the loss divided by
    ``accumulation_steps``), then clip (if ``max_grad_norm`` is given) -> ``optimizer.step()``
    -> ``scheduler.step()`` (if a scheduler is given: once per optimizer step). The optimizer
    steps every ``accumulation_steps`` batches, and once more at the end for a remainder.
    Batches are moved to ``device``.

    Args:
        model: the network; its parameters are the ones ``optimizer`` updates.
        loader: yields ``(inputs, targets)`` batches.
        loss_fn: ``loss_fn(outputs, targets)`` gives a 0-d loss tensor (the batch mean).
        optimizer: updates the model's parameters.
        scheduler: stepped once after every optimizer step, if given.
        max_grad_norm: clip the total gradient norm to this value before each step, if given.
        accumulation_steps: $k$, the number of batches whose gradients make up one step.
        device: where the batches are moved before the forward pass.

    Returns:
        ``{"loss": mean of the per-batch (unscaled) losses, "steps": optimizer steps taken,
        "clipped": steps whose pre-clip total norm was above max_grad_norm}``, the loss as a
        Python float and the counts as ints.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> model = nn.Linear(2, 2)
        >>> data = [(torch.randn(4, 2), torch.tensor([0, 1, 1, 0])) for _ in range(5)]
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> out = train_one_epoch(model, data, nn.functional.cross_entropy, opt,
        ...                       accumulation_steps=2)
        >>> out["steps"], out["clipped"]  # 5 batches in windows of 2: 2 steps + 1 remainder
        (3, 0)
    """
    raise NotImplementedError("exercise-6: write train_one_epoch")


def evaluate(
    model: nn.Module,
    loader: Iterable[tuple[Tensor, Tensor]],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    *,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    r"""Measure ``model`` on ``loader`` without training it.

    Runs in eval mode (dropout off) and without gradient tracking, then puts the model back in
    the mode it was in before the call.

    Returns:
        ``{"loss": mean of the per-batch losses, "accuracy": fraction of samples whose argmax
        over the last dimension equals the integer target}``, both Python floats.

    Example:
        >>> model = nn.Linear(2, 2)
        >>> with torch.no_grad():
        ...     _ = model.weight.copy_(torch.eye(2)), model.bias.zero_()
        >>> data = [(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]))]
        >>> evaluate(model, data, nn.functional.cross_entropy)["accuracy"]
        0.5
        >>> model.training  # the mode it had before
        True
    """
    raise NotImplementedError("exercise-6: write evaluate")


def fit(
    model: nn.Module,
    train_loader: Iterable[tuple[Tensor, Tensor]],
    val_loader: Iterable[tuple[Tensor, Tensor]],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    scheduler: LRScheduler | None = None,
    scheduler_interval: Literal["epoch", "step"] = "epoch",
    max_grad_norm: float | None = None,
    device: str | torch.device = "cpu",
    patience: int | None = None,
) -> list[dict[str, float]]:
    r"""Train for up to ``epochs`` epochs, validating after each one.

    The scheduler is stepped after every optimizer step (``scheduler_interval="step"``) or once
    after each epoch (``"epoch"``). With ``patience``, training stops once ``patience`` epochs in
    a row brought no new best (strictly lower) validation loss, and at the end -- stopped early
    or not -- the model is given back the weights of its best epoch.

    Returns:
        One row per epoch: ``{"epoch": 0, 1, ..., "train_loss", "val_loss", "val_accuracy",
        "lr"}``, where ``lr`` is the first parameter group's learning rate after that epoch's
        scheduler steps (figure 6: 0.4, 0.32, 0.256).
    """
    raise NotImplementedError("exercise-6: write fit")
