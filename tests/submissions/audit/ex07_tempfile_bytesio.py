"""Correct exercise-7 in an unusual style: NamedTemporaryFile + os.replace, a checkpoint
serialized to io.BytesIO first, contextlib.suppress, NumPy's RNG state as a list, a dataclass
for the RNG states. The audit must find nothing here."""

from __future__ import annotations

import contextlib
import io
import os
import random
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler


@dataclass
class RngStates:
    torch_cpu: torch.Tensor
    cuda: list
    python: tuple
    numpy: tuple

    @classmethod
    def capture(cls) -> RngStates:
        name, keys, pos, has_gauss, cached = np.random.get_state()
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
        return cls(torch.get_rng_state(), cuda, random.getstate(), (name, keys.tolist(), pos, has_gauss, cached))

    def restore(self) -> None:
        torch.set_rng_state(self.torch_cpu)
        if self.cuda and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(self.cuda)
        random.setstate(self.python)
        name, keys, pos, has_gauss, cached = self.numpy
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: LRScheduler | None = None,
    epoch: int,
    best_val_loss: float | None = None,
    extra: dict | None = None,
) -> None:
    state: dict[str, Any] = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "epoch": epoch,
        "best_val_loss": best_val_loss,
        "extra": extra,
        "rng": asdict(RngStates.capture()),
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    target = Path(path)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".tmp") as f:
        f.write(buffer.getvalue())
        f.flush()
        os.fsync(f.fileno())
    try:
        os.replace(f.name, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(f.name)


def load_checkpoint(
    path: str | os.PathLike,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: LRScheduler | None = None,
    map_location: str | torch.device | None = None,
    restore_rng: bool = True,
) -> dict:
    data = io.BytesIO(Path(path).read_bytes())
    state = torch.load(data, map_location=map_location, weights_only=True)
    model.load_state_dict(state["model"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    if restore_rng:
        RngStates(**state["rng"]).restore()
    return {k: state[k] for k in ("epoch", "best_val_loss", "extra")}
