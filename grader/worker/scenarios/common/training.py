"""A training run built from plain data: the course's MLP, its losses, optimizers and schedulers,
and a loader that replays the batch orders it is given.

Exercises 6 and 7 describe a run as a *spec*: layer sizes and initial weights, data tensors,
optimizer and scheduler settings, and (exercise 6) the batch order of every epoch, the loss and
the seed for dropout. The worker builds from it the objects a student's code is handed; the
judge builds the same objects for its own reference run. Both build them here, so the two runs
see identical weights, batches and dropout masks, and how a run is built is written once.

Nothing here records or judges. Exercise 6's scenario module passes recording classes and an
observer to :func:`build`; the judge passes nothing and gets plain torch objects.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

import torch
from torch import Tensor, nn

LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "cross_entropy": nn.functional.cross_entropy,
    "mse": nn.functional.mse_loss,
}
OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
}
SCHEDULERS: dict[str, type[torch.optim.lr_scheduler.LRScheduler]] = {
    "step": torch.optim.lr_scheduler.StepLR,
    "exponential": torch.optim.lr_scheduler.ExponentialLR,
    "cosine": torch.optim.lr_scheduler.CosineAnnealingLR,
}


def _as_is(cls: type) -> type:
    return cls


# -- the model -----------------------------------------------------------------------------------
def mlp(
    sizes: Sequence[int], dropout: float = 0.0, container: type[nn.Sequential] = nn.Sequential
) -> nn.Sequential:
    """Linear -> ReLU -> (Dropout) -> ... -> Linear in float64, as a ``container``.

    The layer list fixes the state_dict's keys (``0.weight``, ``3.weight`` with dropout), which
    a student's checkpoint and every message about a parameter use.
    """
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b, dtype=torch.float64))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(float(dropout)))
    return container(*layers)


def initial_state(sizes: Sequence[int], dropout: float, seed: int) -> dict[str, Tensor]:
    """The weights :func:`mlp` starts with after ``torch.manual_seed(seed)``: a spec's "state"."""
    torch.manual_seed(seed)
    return {k: v.detach().clone() for k, v in mlp(sizes, dropout).state_dict().items()}


def params_of(model: nn.Module) -> dict[str, Tensor]:
    """A CPU copy of every entry of the model's state_dict: what a run's result is compared by."""
    return {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}


# -- optimizer and scheduler ---------------------------------------------------------------------
def optimizer_for(
    settings: dict[str, Any],
    params: Iterable[nn.Parameter],
    wrap: Callable[[type], type] = _as_is,
) -> torch.optim.Optimizer:
    """``{"name": "sgd", "lr": 0.1, ...}`` as an optimizer; ``wrap`` may subclass its class."""
    kwargs = dict(settings)
    # wrap returns its class or a subclass of it: still an optimizer class.
    optimizer: torch.optim.Optimizer = wrap(OPTIMIZERS[kwargs.pop("name")])(params, **kwargs)
    return optimizer


def scheduler_for(
    settings: dict[str, Any] | None,
    optimizer: torch.optim.Optimizer,
    wrap: Callable[[type], type] = _as_is,
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """``{"name": "step", "step_size": 2, ...}`` as a scheduler of ``optimizer`` (None: none)."""
    if not settings:
        return None
    kwargs = dict(settings)
    # wrap returns its class or a subclass of it: still a scheduler class.
    scheduler: torch.optim.lr_scheduler.LRScheduler = wrap(SCHEDULERS[kwargs.pop("name")])(
        optimizer, **kwargs
    )
    return scheduler


# -- data ----------------------------------------------------------------------------------------
class LoaderObserver(Protocol):
    """Told when a :class:`BatchLoader` starts a pass and hands out a batch (the worker's
    recorder, which stamps every event with the current epoch and batch)."""

    def pass_started(self, kind: str, epoch: int) -> None: ...

    def batch_started(self, kind: str, batch: int) -> None: ...


class BatchLoader:
    """``(X[idx], y[idx])`` batches in the order given for each pass (epoch); a pass beyond the
    last order repeats it. ``kind`` ("train" or "val") is only passed on to the observer."""

    def __init__(
        self,
        X: Tensor,
        y: Tensor,
        orders: list[list[int]],
        batch_size: int,
        *,
        kind: str = "train",
        observer: LoaderObserver | None = None,
    ) -> None:
        self.X, self.y, self.orders, self.batch_size = X, y, orders, batch_size
        self.kind, self.observer = kind, observer
        self.passes = 0

    def __len__(self) -> int:
        return math.ceil(len(self.orders[0]) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        epoch = self.passes
        self.passes += 1
        order = self.orders[min(epoch, len(self.orders) - 1)]
        if self.observer is not None:
            self.observer.pass_started(self.kind, epoch)
        for b, start in enumerate(range(0, len(order), self.batch_size)):
            idx = torch.tensor(order[start : start + self.batch_size])
            if self.observer is not None:
                self.observer.batch_started(self.kind, b)
            yield self.X[idx], self.y[idx]


# -- exercise 6's run ----------------------------------------------------------------------------
def build(
    spec: dict[str, Any],
    device: str = "cpu",
    *,
    container: type[nn.Sequential] = nn.Sequential,
    wrap: Callable[[type], type] = _as_is,
    observer: LoaderObserver | None = None,
) -> dict[str, Any]:
    """The objects of an exercise-6 spec: ``model``, ``train`` and ``val`` loaders, ``loss_fn``,
    ``optimizer``, ``scheduler``. The worker passes its recording ``container``, ``wrap`` (for
    the optimizer's and scheduler's classes) and ``observer``; the judge, nothing.

    Torch's generator is seeded last, with the spec's seed, so that dropout draws the same
    masks in both runs.
    """
    model = mlp(spec["sizes"], spec.get("dropout", 0.0), container)
    model.load_state_dict(spec["state"])
    model.to(device)
    optimizer = optimizer_for(spec["optimizer"], model.parameters(), wrap)
    scheduler = scheduler_for(spec.get("scheduler"), optimizer, wrap)
    train = BatchLoader(spec["X"], spec["y"], spec["orders"], spec["batch_size"], observer=observer)
    val = None
    if spec.get("X_val") is not None:
        order = list(range(len(spec["X_val"])))
        val = BatchLoader(
            spec["X_val"],
            spec["y_val"],
            [order],
            spec["val_batch_size"],
            kind="val",
            observer=observer,
        )
    torch.manual_seed(int(spec["seed"]))
    return {
        "model": model,
        "train": train,
        "val": val,
        "loss_fn": LOSSES[spec.get("loss", "cross_entropy")],
        "optimizer": optimizer,
        "scheduler": scheduler,
    }


def call_arguments(kwargs: dict[str, Any], objs: dict[str, Any], device: str) -> dict[str, Any]:
    """The keyword arguments of a call the judge described: ``scheduler=True`` stands for the
    run's scheduler (objects cannot travel), and ``device`` is passed when it is not the CPU or
    when the judge asked for it explicitly (so a missing default shows)."""
    call = dict(kwargs)
    if call.get("scheduler"):
        call["scheduler"] = objs["scheduler"]
    if device != "cpu" or "device" in call:
        call["device"] = device
    return call


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run on one thread, as the worker does: tiny models run fastest so, and a matmul's
    summation order (so its last bit) may depend on the thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
