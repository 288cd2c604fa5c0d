"""The runs exercise 6's tests are made of, as *specs*: plain data the worker and the judge each
turn into the same model, loaders, loss, optimizer and scheduler
(:func:`grader.worker.scenarios.common.training.build`).

A spec holds the layer sizes and initial weights, the data tensors, the batch order of every
epoch, the loss, optimizer and scheduler settings, and the seed for dropout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from grader.worker.scenarios.common.training import build, initial_state, one_thread


def make_spec(
    seed: int,
    *,
    sizes: Sequence[int] = (4, 8, 3),
    n: int = 24,
    batch_size: int = 4,
    epochs: int = 1,
    dropout: float = 0.0,
    loss: str = "cross_entropy",
    optimizer: dict[str, Any] | None = None,
    scheduler: dict[str, Any] | None = None,
    n_val: int = 0,
    val_batch_size: int = 5,
    scale: float = 1.0,
) -> dict[str, Any]:
    """A random but reproducible run: data, weights and one shuffled batch order per epoch."""
    gen = torch.Generator().manual_seed(seed)
    state = initial_state(sizes, dropout, seed)
    d, c = sizes[0], sizes[-1]

    def data(m: int) -> tuple[Tensor, Tensor]:
        X = torch.randn(m, d, generator=gen, dtype=torch.float64) * scale
        if loss == "mse":
            return X, torch.randn(m, c, generator=gen, dtype=torch.float64)
        return X, torch.randint(0, c, (m,), generator=gen)

    X, y = data(n)
    spec: dict[str, Any] = {
        "seed": seed,
        "sizes": list(sizes),
        "dropout": dropout,
        "state": state,
        "X": X,
        "y": y,
        "orders": [torch.randperm(n, generator=gen).tolist() for _ in range(epochs)],
        "batch_size": batch_size,
        "loss": loss,
        "optimizer": optimizer or {"name": "sgd", "lr": 0.1},
        "scheduler": scheduler,
    }
    if n_val:
        spec["X_val"], spec["y_val"] = data(n_val)
        spec["val_batch_size"] = val_batch_size
    return spec


def figure6_spec() -> dict[str, Any]:
    """Course figure 6: six points, MLP 2-4-2 from NumPy seed 7, three fixed epoch orders."""
    import numpy as np

    rs = np.random.RandomState(7)
    W1, W2 = 1.5 * rs.randn(2, 4), 1.5 * rs.randn(4, 2)
    X = torch.tensor(
        [[0.5, 0.1], [0.2, 0.8], [0.9, 0.6], [0.1, 0.5], [0.8, 0.2], [0.6, 0.9]],
        dtype=torch.float64,
    )
    y = torch.tensor([0, 0, 0, 1, 1, 1])
    return {
        "seed": 0,
        "sizes": [2, 4, 2],
        "dropout": 0.0,
        "state": {
            "0.weight": torch.from_numpy(W1.T.copy()),
            "0.bias": torch.zeros(4, dtype=torch.float64),
            "2.weight": torch.from_numpy(W2.T.copy()),
            "2.bias": torch.zeros(2, dtype=torch.float64),
        },
        "X": X,
        "y": y,
        "orders": [[0, 1, 5, 2, 4, 3], [3, 0, 1, 2, 5, 4], [4, 1, 0, 3, 5, 2]],
        "batch_size": 2,
        "loss": "cross_entropy",
        "optimizer": {"name": "sgd", "lr": 0.5},
        "scheduler": {"name": "step", "step_size": 1, "gamma": 0.8},
        "X_val": X.clone(),
        "y_val": y.clone(),
        "val_batch_size": 6,
    }


@one_thread()
def first_gradient_norm(spec: dict[str, Any]) -> float:
    """Total gradient norm of the first batch: a max_grad_norm near it clips some steps."""
    objs = build(spec)
    x, y = next(iter(objs["train"]))
    objs["loss_fn"](objs["model"](x), y).backward()
    grads = [p.grad.flatten() for p in objs["model"].parameters() if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.cat(grads)))
