"""Reference for exercise-2: the two-layer MLP with ``torch.nn.functional`` and autograd."""

from __future__ import annotations

import torch
import torch.nn.functional as F

TITLE = "Forward and backward passes: a two-layer MLP"
FORBIDDEN = [
    "torch.Tensor.backward",
    "torch.autograd.backward",
    "torch.autograd.grad",
    "torch.autograd.graph._engine_run_backward",
    "torch._C._ImperativeEngine.run_backward",
    "torch.autograd.functional.jacobian",
    "torch.autograd.functional.vjp",
    "torch.autograd.functional.jvp",
    "torch.autograd.forward_ad.make_dual",
    "torch.autograd.forward_ad.unpack_dual",
    "torch._make_dual",
    "torch._unpack_dual",
    "torch.func.grad",
    "torch.func.grad_and_value",
    "torch.func.vjp",
    "torch.func.jacrev",
    "torch.func.jacfwd",
    # torch.ops.aten.<op> reaches every kernel (log_softmax, nll_loss, mse_loss, the
    # *_backward ops) past the names above; nothing in these exercises needs it.
    "torch._ops.OpOverloadPacket.__call__",
    "torch._ops.OpOverload.__call__",
    "torch.nn.functional.cross_entropy",
    "torch.nn.functional.nll_loss",
    "torch.nn.functional.log_softmax",
    "torch.Tensor.log_softmax",
    "torch.log_softmax",
    "torch._log_softmax",
    "torch.special.log_softmax",
    "torch._C._nn.cross_entropy_loss",
    "torch._C._nn.nll_loss",
    "torch._C._nn.nll_loss_nd",
    "torch._C._nn.nll_loss2d",
    "torch.nn.CrossEntropyLoss",
    "torch.nn.NLLLoss",
    "torch.nn.LogSoftmax",
]
# The judge's source audit (grader/judge/audit/) reads this literal, like FORBIDDEN, before any
# student code runs. The file may import the course baseline (grader/judge/audit/policy.py, each
# module with its public submodules), plus "imports_add", minus "imports_drop". "extras": what
# else it may not touch, however spelled (".name": any attribute of that name; "a.b": that module
# or API and everything under it). "why" and "instead": what the student reads next to a use of
# FORBIDDEN or "extras".
AUDIT = {
    "extras": [
        ".grad_fn",
        ".next_functions",
        ".register_hook",
        ".register_post_accumulate_grad_hook",
        "torch.autograd",
        "torch.func",
        # other log-softmax kernels, one conversion away from a dense tensor's
        "torch.masked.log_softmax",
        "torch.sparse.log_softmax",
    ],
    "why": (
        "exercise-2 is backpropagation by hand: autograd (its graph and hooks included) and "
        "torch's cross-entropy and log-softmax would do it for you"
    ),
    "instead": (
        "take logs with `torch.logsumexp` and apply the chain rule layer by layer, as the "
        "exercise text shows"
    ),
}

PARAMS = ("W1", "b1", "W2", "b2")


def mlp_forward(
    X: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor, b2: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    z1 = F.linear(X, W1.T, b1)
    h1 = F.relu(z1)
    return F.linear(h1, W2.T, b2), {"z1": z1, "h1": h1}


def softmax_cross_entropy(
    logits: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    leaf = logits.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        loss = F.cross_entropy(leaf, y)
        (dlogits,) = torch.autograd.grad(loss, leaf)
    return loss.detach(), dlogits


def mlp_loss(
    X: torch.Tensor,
    y: torch.Tensor,
    W1: torch.Tensor,
    b1: torch.Tensor,
    W2: torch.Tensor,
    b2: torch.Tensor,
) -> torch.Tensor:
    """The mean cross-entropy of the network (differentiable: used for finite differences)."""
    return F.cross_entropy(mlp_forward(X, W1, b1, W2, b2)[0], y)


def mlp_backward(
    X: torch.Tensor,
    y: torch.Tensor,
    W1: torch.Tensor,
    b1: torch.Tensor,
    W2: torch.Tensor,
    b2: torch.Tensor,
) -> dict[str, torch.Tensor]:
    params = [p.detach().clone().requires_grad_(True) for p in (W1, b1, W2, b2)]
    with torch.enable_grad():
        grads = torch.autograd.grad(mlp_loss(X, y, *params), params)
    return dict(zip(PARAMS, grads))
