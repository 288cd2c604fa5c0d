"""Reference for exercise-7: idiomatic checkpoint code (state_dicts, RNG states, atomic save)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

TITLE = "Checkpointing and resuming"
FORBIDDEN: list[str] = []
# The judge's source audit (grader/judge/audit/) reads this literal, like FORBIDDEN, before any
# student code runs. The file may import the course baseline (grader/judge/audit/policy.py, each
# module with its public submodules), plus "imports_add", minus "imports_drop". "extras": what
# else it may not touch, however spelled (".name": any attribute of that name; "a.b": that module
# or API and everything under it). "why" and "instead": what the student reads next to a use of
# FORBIDDEN or "extras".
AUDIT = {
    "imports_add": "os pathlib tempfile io",  # and contextlib, in the baseline
    "extras": [],
    "why": "",
    "instead": "",
}


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
    name, keys, pos, has_gauss, cached = np.random.get_state()
    checkpoint = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "epoch": epoch,
        "best_val_loss": best_val_loss,
        "extra": extra,
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python_rng": random.getstate(),
        "numpy_rng": (name, keys.tolist(), pos, has_gauss, cached),
    }
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        torch.save(checkpoint, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_checkpoint(
    path: str | os.PathLike,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: LRScheduler | None = None,
    map_location: str | torch.device | None = None,
    restore_rng: bool = True,
) -> dict:
    checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    model.load_state_dict(checkpoint["model"])
    if optimizer is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
    if scheduler is not None and checkpoint["scheduler"] is not None:
        scheduler.load_state_dict(checkpoint["scheduler"])
    if restore_rng:
        torch.set_rng_state(checkpoint["torch_rng"].cpu())
        if torch.cuda.is_available() and checkpoint["cuda_rng"]:
            torch.cuda.set_rng_state_all([s.cpu() for s in checkpoint["cuda_rng"]])
        random.setstate(checkpoint["python_rng"])
        name, keys, pos, has_gauss, cached = checkpoint["numpy_rng"]
        np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    return {k: checkpoint[k] for k in ("epoch", "best_val_loss", "extra")}
