"""Correct exercise-2 in an unusual style: einsum, gather and scatter, a dataclass cache,
type aliases, functools.reduce. The audit must find nothing here."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Tensor = torch.Tensor
Grads = dict[str, Tensor]


@dataclass(frozen=True)
class Cache:
    z1: Tensor
    h1: Tensor

    def as_dict(self) -> dict[str, Tensor]:
        return {"z1": self.z1, "h1": self.h1}


def _affine(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return torch.einsum("nd,dh->nh", x, w) + b


def mlp_forward(X: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> tuple[Tensor, dict]:
    z1 = _affine(X, W1, b1)
    h1 = torch.where(z1 > 0, z1, torch.zeros_like(z1))
    return _affine(h1, W2, b2), Cache(z1, h1).as_dict()


def softmax_cross_entropy(logits: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    n = logits.shape[0]
    log_z = torch.logsumexp(logits, dim=1, keepdim=True)
    log_p = logits - log_z
    picked = log_p.gather(1, y.unsqueeze(1)).squeeze(1)
    one_hot = torch.zeros_like(logits).scatter_(1, y.unsqueeze(1), 1.0)
    probs = F.softmax(logits, dim=1)
    return -picked.mean(), (probs - one_hot) / n


def mlp_backward(X: Tensor, y: Tensor, W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> Grads:
    logits, cache = mlp_forward(X, W1, b1, W2, b2)
    _, d_logits = softmax_cross_entropy(logits, y)
    d_h1 = torch.einsum("nc,hc->nh", d_logits, W2)
    d_z1 = d_h1 * (cache["z1"] > 0).to(d_h1.dtype)
    grads = {
        "W2": torch.einsum("nh,nc->hc", cache["h1"], d_logits),
        "b2": functools.reduce(torch.add, d_logits.unbind(0)),
        "W1": torch.einsum("nd,nh->dh", X, d_z1),
        "b1": d_z1.sum(dim=0),
    }
    return grads
