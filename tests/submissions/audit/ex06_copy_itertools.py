"""Correct exercise-6 in an unusual style: copy.deepcopy of the best weights, itertools for
the accumulation windows, time.perf_counter, an Enum for the scheduler interval, clipping with
torch's own clip_grad_norm_ (allowed in this exercise), @torch.no_grad() on evaluate. The
audit must find nothing here."""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Callable, Iterable
from typing import Literal

import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import LRScheduler

Batches = Iterable[tuple[Tensor, Tensor]]


def _windows(loader: Batches, k: int) -> Iterable[list[tuple[Tensor, Tensor]]]:
    it = iter(loader)
    while chunk := list(itertools.islice(it, k)):
        yield chunk


def train_one_epoch(
    model: nn.Module,
    loader: Batches,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    optimizer: torch.optim.Optimizer,
    *,
    scheduler: LRScheduler | None = None,
    max_grad_norm: float | None = None,
    accumulation_steps: int = 1,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    model.train()
    losses: list[float] = []
    steps = clipped = 0
    started = time.perf_counter()
    for window in _windows(loader, accumulation_steps):
        optimizer.zero_grad()
        for x, y in window:
            loss = loss_fn(model(x.to(device)), y.to(device))
            (loss / accumulation_steps).backward()
            losses.append(loss.item())
        if max_grad_norm is not None:
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
            clipped += int(float(norm) > max_grad_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        steps += 1
    _ = time.perf_counter() - started
    return {"loss": sum(losses) / len(losses), "steps": steps, "clipped": clipped}


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Batches,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    *,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    was_training = model.training
    model.eval()
    try:
        losses, correct, seen = [], 0, 0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            out = model(x)
            losses.append(loss_fn(out, y).item())
            correct += int((out.argmax(dim=-1) == y).sum())
            seen += y.numel()
    finally:
        model.train(was_training)
    return {"loss": sum(losses) / len(losses), "accuracy": correct / seen}


def fit(
    model: nn.Module,
    train_loader: Batches,
    val_loader: Batches,
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
    history: list[dict[str, float]] = []
    best, best_state, stale = float("inf"), None, 0
    per_step = scheduler if scheduler_interval == "step" else None
    for epoch in range(epochs):
        train = train_one_epoch(model, train_loader, loss_fn, optimizer, scheduler=per_step,
                                max_grad_norm=max_grad_norm, device=device)
        if scheduler is not None and scheduler_interval == "epoch":
            scheduler.step()
        val = evaluate(model, val_loader, loss_fn, device=device)
        history.append({"epoch": epoch, "train_loss": train["loss"], "val_loss": val["loss"],
                        "val_accuracy": val["accuracy"], "lr": optimizer.param_groups[0]["lr"]})
        if val["loss"] < best:
            best, best_state, stale = val["loss"], copy.deepcopy(model.state_dict()), 0
        else:
            stale += 1
        if patience is not None and stale >= patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history
