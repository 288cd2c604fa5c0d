r"""Exercise 1 - Gradients by hand: linear regression.

A training loop is four steps repeated: *forward* (make a prediction), *loss* (measure how
wrong it is), *backward* (work out which way to nudge each parameter) and *update* (nudge it).
In this exercise you write all four for the simplest model there is, a straight line, and you
derive the gradients yourself instead of asking autograd. Then you check your derivation the
way every practitioner does: against *finite differences*, which need nothing but the loss.

**The model.** For a batch of N examples with D features each, $X$ of shape (N, D), weights
$w$ of shape (D,) and a scalar bias $b$ (a 0-d tensor):

$$\hat y = X w + b \qquad \text{shape (N,)}.$$

**The loss.** Mean squared error, the plain mean (no $\tfrac12$, like
``torch.nn.functional.mse_loss``):

$$L = \frac{1}{N} \sum_{n=1}^{N} (\hat y_n - y_n)^2 \qquad \text{a 0-d tensor}.$$

**The gradients.** With the residual $r = \hat y - y$ (shape (N,)), the chain rule gives

$$\frac{\partial L}{\partial w} = \frac{2}{N} X^\top r \quad \text{shape (D,)}, \qquad
\frac{\partial L}{\partial b} = \frac{2}{N} \sum_n r_n \quad \text{0-d}.$$

Three classic slips, each of which the grader recognises: forgetting the $\frac1N$ (every
gradient N times too large), forgetting the 2 that comes from the square, and writing the
residual as $y - \hat y$ (every sign flipped).

**Finite differences.** For any scalar function $f$ and a small $\epsilon$,

$$\frac{\partial f}{\partial x_i} \approx
\frac{f(x + \epsilon e_i) - f(x - \epsilon e_i)}{2\epsilon},$$

where $e_i$ is 1 at position $i$ and 0 elsewhere. This *central* difference is accurate to
$O(\epsilon^2)$; the one-sided $(f(x + \epsilon e_i) - f(x)) / \epsilon$ is only $O(\epsilon)$
accurate, which is visible in float64 on curved functions. Perturb one element at a time, of
any shape of $x$, and leave $x$ exactly as you found it: save the old value and put it back
(``x[i] += eps`` followed by ``x[i] -= eps`` does not always round-trip), or work on a copy.

**Gradient descent.** Repeat: record the loss, compute the gradients at the current $(w, b)$,
then $w \leftarrow w - \eta\,\partial L/\partial w$ and $b \leftarrow b - \eta\,\partial
L/\partial b$. Work on copies: the caller's ``w`` and ``b`` must not change.

**Worked examples** (course figures 1, 2 and 4; the course's figures use $\tfrac12$ times the
squared error, so our ``mse_loss`` is twice theirs and the same trajectory needs half the
learning rate):

- *One update by hand* (figure 1): $x = 2$, $y = 6$, $w = 1$, $b = 0$ gives $\hat y = 2$ and
  ``mse_loss`` 16 (the figure's $\tfrac12$-loss is 8); ``mse_gradients`` gives $(-16, -8)$,
  twice the figure's $(-8, -4)$. Five steps of ``gradient_descent`` at lr 0.05 give losses
  16, 4, 1, 0.25, 0.0625 (figure: 8, 2, 0.5, 0.125, 0.031) and $w = 2.55$.
- *Full-batch regression* (figure 2): data $(1, 3), (2, 5), (3, 7)$ from $w = b = 0$ at lr
  0.04: the loss before step 0 is 27.667 (figure: 13.833) and after it $w = 0.907$,
  $b = 0.400$; after step 1 $w = 1.411$, $b = 0.623$; after 20 steps $w = 2.037$, $b = 0.917$.
- *Finite differences agree* (figure 4): for figure 1's $\tfrac12$-loss as a function of
  $(w, b)$, ``numerical_gradient`` at $(1, 0)$ gives $(-8, -4)$ to within $10^{-8}$.

Not allowed here: autograd (``Tensor.backward``, ``torch.autograd.*``, ``torch.func``) and
``torch.nn.functional.mse_loss`` -- computing these yourself is the exercise. A call to any of
them, even from a helper thread, voids every test of the function that made it.

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
``torch.func``). A function or class that uses any of these, or a name this exercise does not
allow, has its tests voided, with a message saying what to write instead.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def predict(X: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""The linear model's predictions $\hat y = X w + b$.

    Args:
        X: inputs, shape (N, D).
        w: weights, shape (D,).
        b: bias, a 0-d tensor.

    Returns:
        Predictions of shape (N,).

    Example:
        >>> predict(torch.tensor([[2.0]]), torch.tensor([1.0]), torch.tensor(0.0))
        tensor([2.])
    """
    # BEGIN SOLUTION
    return X @ w + b
    # END SOLUTION


def mse_loss(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""Mean squared error $\frac1N \sum_n (\hat y_n - y_n)^2$, a 0-d tensor (no $\tfrac12$).

    Example:
        >>> mse_loss(torch.tensor([2.0]), torch.tensor([6.0]))
        tensor(16.)
    """
    # BEGIN SOLUTION
    return ((y_hat - y) ** 2).mean()
    # END SOLUTION


def mse_gradients(
    X: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""$(\partial L/\partial w, \partial L/\partial b)$ of ``mse_loss(predict(X, w, b), y)``.

    Derived by hand: $\frac{2}{N} X^\top (\hat y - y)$ of shape (D,) and
    $\frac{2}{N}\sum_n (\hat y_n - y_n)$ as a 0-d tensor.

    Example (figure 1, without the figure's $\tfrac12$):
        >>> X, y = torch.tensor([[2.0]]), torch.tensor([6.0])
        >>> mse_gradients(X, y, torch.tensor([1.0]), torch.tensor(0.0))
        (tensor([-16.]), tensor(-8.))
    """
    # BEGIN SOLUTION
    n = X.shape[0]
    residual = predict(X, w, b) - y
    grad_w = 2.0 / n * (X.T @ residual)
    grad_b = 2.0 / n * residual.sum()
    return grad_w, grad_b
    # END SOLUTION


def numerical_gradient(
    f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    r"""$\nabla f(x)$ by central differences $(f(x + \epsilon e_i) - f(x - \epsilon e_i)) /
    2\epsilon$, element by element.

    Args:
        f: a function of a tensor shaped like ``x`` that returns a scalar (0-d) tensor.
        x: the point, of any shape; it is unchanged afterwards.
        eps: the step $\epsilon$.

    Returns:
        A tensor of the same shape (and dtype) as ``x``.

    Example (figure 4: the $\tfrac12$-loss of figure 1 as a function of $(w, b)$):
        >>> f = lambda p: 0.5 * (p[0] * 2.0 + p[1] - 6.0) ** 2
        >>> numerical_gradient(f, torch.tensor([1.0, 0.0], dtype=torch.float64))
        tensor([-8.0000, -4.0000], dtype=torch.float64)
    """
    # BEGIN SOLUTION
    work = x.detach().clone()
    flat = work.view(-1)
    grad = torch.zeros_like(flat)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + eps
        f_plus = float(f(work))
        flat[i] = old - eps
        f_minus = float(f(work))
        flat[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad.view(x.shape)
    # END SOLUTION


def gradient_descent(
    X: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor,
    lr: float,
    steps: int,
) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    r"""Full-batch gradient descent on ``mse_loss`` from $(w, b)$.

    Returns:
        The final ``(w, b)`` as new tensors (the caller's are not modified) and the list of
        ``steps`` losses, each the loss *before* that step, as Python floats.

    Example (figure 2, at half the figure's learning rate since ``mse_loss`` has no $\tfrac12$):
        >>> X = torch.tensor([[1.0], [2.0], [3.0]], dtype=torch.float64)
        >>> y = torch.tensor([3.0, 5.0, 7.0], dtype=torch.float64)
        >>> w0, b0 = torch.zeros(1, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64)
        >>> w, b, losses = gradient_descent(X, y, w0, b0, lr=0.04, steps=20)
        >>> round(losses[0], 4), round(w.item(), 3), round(b.item(), 3)
        (27.6667, 2.037, 0.917)
    """
    # BEGIN SOLUTION
    w, b = w.detach().clone(), b.detach().clone()
    losses = []
    for _ in range(steps):
        losses.append(float(mse_loss(predict(X, w, b), y)))
        grad_w, grad_b = mse_gradients(X, y, w, b)
        w = w - lr * grad_w
        b = b - lr * grad_b
    return w, b, losses
    # END SOLUTION
