"""Reference for exercise-6: the idiomatic PyTorch training loop, evaluation and ``fit``."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Literal

import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import LRScheduler

TITLE = "The training loop"
FORBIDDEN: list[str] = []
# The judge's source audit (grader/judge/audit/) reads this literal, like FORBIDDEN, before any
# student code runs. The file may import the course baseline (grader/judge/audit/policy.py, each
# module with its public submodules), plus "imports_add", minus "imports_drop". "extras": what
# else it may not touch, however spelled (".name": any attribute of that name; "a.b": that module
# or API and everything under it). "why" and "instead": what the student reads next to a use of
# FORBIDDEN or "extras".
AUDIT = {
    "extras": [],
    "why": "",
    "instead": "",
}


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
    model.train()
    losses: list[float] = []
    steps = clipped = 0

    def step() -> None:
        nonlocal steps, clipped
        if max_grad_norm is not None:
            norm = nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
            clipped += int(norm.item() > max_grad_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        steps += 1

    for i, (x, y) in enumerate(loader):
        if i % accumulation_steps == 0:
            optimizer.zero_grad()
        x, y = x.to(device), y.to(device)
        loss = loss_fn(model(x), y)
        (loss / accumulation_steps).backward()  # type: ignore[no-untyped-call]  # torch: unannotated
        losses.append(loss.item())
        if (i + 1) % accumulation_steps == 0:
            step()
    if len(losses) % accumulation_steps:
        step()
    return {"loss": sum(losses) / len(losses), "steps": steps, "clipped": clipped}


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Iterable[tuple[Tensor, Tensor]],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    *,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    was_training = model.training
    model.eval()
    losses: list[float] = []
    correct = total = 0
    try:
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            out = model(x)
            losses.append(loss_fn(out, y).item())
            correct += (out.argmax(-1) == y).sum().item()
            total += y.numel()
    finally:
        model.train(was_training)
    return {"loss": sum(losses) / len(losses), "accuracy": correct / total}


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
    history: list[dict[str, float]] = []
    best, best_state, bad_epochs = math.inf, None, 0
    for epoch in range(epochs):
        train = train_one_epoch(
            model,
            train_loader,
            loss_fn,
            optimizer,
            scheduler=scheduler if scheduler_interval == "step" else None,
            max_grad_norm=max_grad_norm,
            device=device,
        )
        val = evaluate(model, val_loader, loss_fn, device=device)
        if scheduler is not None and scheduler_interval == "epoch":
            scheduler.step()
        history.append(
            {
                "epoch": epoch,
                "train_loss": train["loss"],
                "val_loss": val["loss"],
                "val_accuracy": val["accuracy"],
                "lr": optimizer.param_groups[0]["lr"],
            }
        )
        if patience is not None:
            if val["loss"] < best:
                best, bad_epochs = val["loss"], 0
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
            else:
                bad_epochs += 1
                if bad_epochs >= patience:
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history
