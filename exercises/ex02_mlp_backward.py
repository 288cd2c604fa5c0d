r"""Exercise 2 - Forward and backward passes: a two-layer MLP.

Backpropagation is the chain rule applied layer by layer, from the loss back to the inputs.
The forward pass computes and *keeps* the intermediate values (the "cache"); the backward
pass walks the same layers in reverse, turning "how the loss changes with this layer's
output" into "how it changes with this layer's parameters and input". Here you do it by
hand for the network every course draws first: one hidden ReLU layer and a softmax
classifier.

**Shapes.** N examples, D features, H hidden units, C classes: X (N, D), W1 (D, H), b1 (H,),
W2 (H, C), b2 (C,), labels y (N,) of dtype int64 with values in $0 \ldots C-1$.

**Forward.**

$$z_1 = X W_1 + b_1, \quad h_1 = \mathrm{ReLU}(z_1) = \max(z_1, 0), \quad
\text{logits} = h_1 W_2 + b_2 \quad \text{(N, C)}.$$

**Loss.** Softmax turns each row of logits into probabilities
$p_{nc} = e^{z_{nc}} / \sum_k e^{z_{nk}}$; the loss is the mean cross-entropy
$L = -\frac1N \sum_n \log p_{n, y_n}$. Compute it stably: $e^{10^4}$ overflows to inf, but
softmax does not change when a constant is subtracted from a row, so subtract each row's
maximum first, and take logs as $\log p_{nc} = z_{nc} - \log\sum_k e^{z_{nk}}$
(``torch.logsumexp``) rather than ``log(softmax)``, which gives $\log 0 = -\infty$ for very
unlikely classes.

**Backward.** With $Y$ the one-hot matrix of the labels, the gradient of the *mean* loss with
respect to the logits is

$$\frac{\partial L}{\partial \text{logits}} = \frac{1}{N}(P - Y) \quad \text{(N, C)},$$

and then, layer by layer (every product keeps the shapes straight; check them):

$$\frac{\partial L}{\partial W_2} = h_1^\top \frac{\partial L}{\partial \text{logits}}
\text{ (H, C)}, \quad
\frac{\partial L}{\partial b_2} = \sum_n \frac{\partial L}{\partial \text{logits}_n}
\text{ (C,)}, \quad
\frac{\partial L}{\partial h_1} = \frac{\partial L}{\partial \text{logits}} W_2^\top
\text{ (N, H)},$$

$$\frac{\partial L}{\partial z_1} = \frac{\partial L}{\partial h_1} \odot [z_1 > 0], \quad
\frac{\partial L}{\partial W_1} = X^\top \frac{\partial L}{\partial z_1} \text{ (D, H)}, \quad
\frac{\partial L}{\partial b_1} = \sum_n \frac{\partial L}{\partial z_{1,n}} \text{ (H,)}.$$

The $\frac1N$ is already inside $\partial L/\partial \text{logits}$, so bias gradients are
*sums* over the batch, not means. ReLU passes gradient only where it was active
($z_1 > 0$); at exactly $z_1 = 0$ PyTorch uses the subgradient 0, and so must you
(``z1 > 0``, not ``z1 >= 0``). A hidden unit that is inactive for every example ("dead")
gets zero gradient in $W_1$ and $b_1$.

**Worked example** (course figure 6, the six-point classification loop, first batch): the
points $(0.5, 0.1)$ and $(0.2, 0.8)$ with labels 0, 0, through a 2-4-2 network with
$W_1 = 1.5 \cdot$ ``randn(2, 4)`` and $W_2 = 1.5 \cdot$ ``randn(4, 2)`` from NumPy seed 7 and
zero biases, give $z_1$ row 0 $= [1.1496, -0.3491, 0.0245, 0.0424]$, probabilities row 0
$= [0.6952, 0.3048]$ and loss $0.5258$; the four gradients together have norm $0.8864$.

Work on whole tensors (matrix products, ``sum(dim=0)``): a Python loop over the examples is
much slower, and the grader checks for one.

Not allowed here: autograd (``Tensor.backward``, ``torch.autograd.*``, ``torch.func``),
``torch.nn.functional.cross_entropy``, ``nll_loss`` and ``log_softmax`` (in any spelling,
``Tensor.log_softmax`` and ``torch.log_softmax`` included). ``torch.logsumexp``,
``torch.softmax``, ``F.softmax`` and ``F.one_hot`` are allowed.

**What your file may use.** The grader reads your file before running any of it. You may import
``torch`` and ``numpy`` (with their public submodules) and, from Python's standard library,
``math``, ``cmath``, ``random``, ``functools``, ``itertools``, ``operator``, ``collections``,
``dataclasses``, ``typing``, ``typing_extensions``, ``copy``, ``numbers``, ``abc``, ``enum``,
``warnings``, ``time``, ``contextlib``, ``json``, ``re``, ``string``, ``statistics``,
``fractions``, ``decimal``, ``heapq``, ``bisect``, ``array``, ``textwrap``, ``pprint``,
``__future__`` and, of ``sys``, only its streams, limits and version (``sys.stdout``,
``sys.maxsize``, ``sys.float_info``, ``sys.setrecursionlimit``, ...). Not: any other module
(``threading``, ``subprocess``, ``pickle``, ``importlib``, ...); private or dunder attributes
of objects that are not your own (``torch._C``, ``torch._foreach_norm``,
``x.__class__.__mro__``); attribute names computed at run time (``getattr(obj, name)`` with a
built ``name`` -- a literal name is fine), ``eval``, ``exec``, ``vars()`` of a module;
assigning to torch's attributes; autograd's graph and hooks (``.grad_fn``, ``.next_functions``,
``.register_hook``, ``.register_post_accumulate_grad_hook``, anything in ``torch.autograd`` or
``torch.func``); the other log-softmax kernels (``torch.masked.log_softmax``,
``torch.sparse.log_softmax``). A function or class that uses any of these, or a name this
exercise does not allow, has its tests voided, with a message saying what to write instead.
"""

from __future__ import annotations

import torch


def mlp_forward(
    X: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor, b2: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    r"""Forward pass: logits $= \mathrm{ReLU}(X W_1 + b_1) W_2 + b_2$, shape (N, C).

    Returns:
        The logits and a cache with at least ``"z1"`` (pre-activations, (N, H)) and ``"h1"``
        (ReLU outputs, (N, H)), everything the backward pass needs.

    Example:
        >>> X = torch.tensor([[1.0, -1.0]])
        >>> W1, b1 = torch.eye(2), torch.zeros(2)
        >>> W2, b2 = torch.ones(2, 3), torch.zeros(3)
        >>> logits, cache = mlp_forward(X, W1, b1, W2, b2)
        >>> cache["z1"], cache["h1"], logits
        (tensor([[ 1., -1.]]), tensor([[1., 0.]]), tensor([[1., 1., 1.]]))
    """
    raise NotImplementedError("exercise-2: write mlp_forward")


def softmax_cross_entropy(
    logits: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Mean softmax cross-entropy and its gradient with respect to the logits.

    Args:
        logits: (N, C) scores.
        y: (N,) int64 class labels.

    Returns:
        ``(loss, dlogits)``: the 0-d mean loss $-\frac1N\sum_n \log p_{n,y_n}$ and
        $\partial L / \partial \text{logits} = (P - Y)/N$ of shape (N, C). Stable for
        logits of magnitude $10^4$.

    Example (two equal logits: probability 1/2 each):
        >>> loss, dlogits = softmax_cross_entropy(torch.zeros(1, 2), torch.tensor([0]))
        >>> round(loss.item(), 4), dlogits
        (0.6931, tensor([[-0.5000,  0.5000]]))
    """
    raise NotImplementedError("exercise-2: write softmax_cross_entropy")


def mlp_backward(
    X: torch.Tensor,
    y: torch.Tensor,
    W1: torch.Tensor,
    b1: torch.Tensor,
    W2: torch.Tensor,
    b2: torch.Tensor,
) -> dict[str, torch.Tensor]:
    r"""Gradients of the mean softmax cross-entropy of the MLP with respect to its parameters.

    Returns:
        ``{"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}``, each the gradient of the
        mean loss, shaped like its parameter.

    Example (all-zero weights: only the output bias gets a gradient):
        >>> X, y = torch.ones(2, 3), torch.tensor([0, 0])
        >>> grads = mlp_backward(X, y, torch.zeros(3, 4), torch.zeros(4),
        ...                      torch.zeros(4, 2), torch.zeros(2))
        >>> grads["b2"], grads["W2"].abs().sum().item(), grads["W1"].abs().sum().item()
        (tensor([-0.5000,  0.5000]), 0.0, 0.0)
    """
    raise NotImplementedError("exercise-2: write mlp_backward")
