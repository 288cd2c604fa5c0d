"""Bug: load_checkpoint restores the model (and RNG) but neither optimizer nor scheduler."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler


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
    r"""Save everything needed to resume training to ``path``, atomically.

    Stores the model, optimizer and scheduler ``state_dict``s, ``epoch``, ``best_val_loss``,
    ``extra`` and the RNG states (torch CPU, every CUDA device if available, Python ``random``,
    NumPy's global generator), all in forms that ``torch.load(..., weights_only=True)`` accepts.
    A reader never sees a partial file at ``path``; if saving fails, the previous checkpoint
    at ``path`` is left intact and no temporary file remains.

    Example:
        >>> import tempfile, os
        >>> model = nn.Linear(2, 1)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> folder = tempfile.mkdtemp()
        >>> save_checkpoint(os.path.join(folder, "ckpt.pt"), model=model, optimizer=opt, epoch=3)
        >>> os.listdir(folder)
        ['ckpt.pt']
    """
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "epoch": epoch,
        "best_val_loss": best_val_loss,
        "extra": extra,
        "rng": {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "python": random.getstate(),
            # np.random.get_state() holds an ndarray, which weights_only loading refuses.
            "numpy": (np_state[0], np_state[1].tolist(), *np_state[2:]),
        },
    }
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(
    path: str | os.PathLike,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: LRScheduler | None = None,
    map_location: str | torch.device | None = None,
    restore_rng: bool = True,
) -> dict:
    r"""Load a checkpoint written by :func:`save_checkpoint` into the objects given.

    Loads with ``weights_only=True`` (a file that needs anything else is refused), restores the
    model and -- when given -- the optimizer and scheduler, and, with ``restore_rng``, the RNG
    states. ``map_location`` is passed to ``torch.load`` (``"cpu"`` loads a GPU checkpoint on a
    machine without one).

    Returns:
        ``{"epoch": ..., "best_val_loss": ..., "extra": ...}`` as they were saved.
    """
    state = torch.load(path, map_location=map_location, weights_only=True)
    model.load_state_dict(state["model"])
    if restore_rng:
        rng = state["rng"]
        torch.set_rng_state(rng["torch"].cpu())
        if torch.cuda.is_available() and rng["cuda"]:
            torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
        random.setstate(rng["python"])
        name, keys, *rest = rng["numpy"]
        np.random.set_state((name, np.array(keys, dtype=np.uint32), *rest))
    return {
        "epoch": state["epoch"],
        "best_val_loss": state["best_val_loss"],
        "extra": state["extra"],
    }
