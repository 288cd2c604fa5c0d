"""Exercise 2's answer-computing helpers (a backward pass by hand: never shipped)."""

from __future__ import annotations

import torch

from grader.suites.support.ex02_mlp_backward import F64, one_hot


def relu_variants(args: list[torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """W1 and b1 gradients with the classic ReLU-mask mistakes: ``"none"`` (no mask), ``"ge"``
    (mask z1 >= 0), and ``"dead"``: h1, to tell which hidden units are inactive."""
    X, y, W1, b1, W2, b2 = (t.detach().to("cpu", F64) if t.is_floating_point() else t.cpu()
                            for t in args)  # fmt: skip
    z1 = X @ W1 + b1
    logits = z1.clamp(min=0) @ W2 + b2
    probs = torch.softmax(logits, dim=1)
    dh1 = (probs - one_hot(y, W2.shape[1], F64)) / X.shape[0] @ W2.T
    out = {}
    for label, dz1 in (("none", dh1), ("ge", dh1 * (z1 >= 0))):
        out[label] = {"W1": X.T @ dz1, "b1": dz1.sum(0)}
    out["dead"] = {"h1": z1.clamp(min=0)}
    return out
