"""Exercise 1 without backward(): builds the graph with autograd and calls its grad_fn nodes
one by one."""

import torch


def predict(X, w, b):
    return X @ w + b


def mse_loss(y_hat, y):
    return ((y_hat - y) ** 2).mean()


def mse_gradients(X, y, w, b):
    w_ = w.detach().clone().requires_grad_(True)
    b_ = b.detach().clone().requires_grad_(True)
    loss = mse_loss(predict(X, w_, b_), y)
    grads = {}
    todo = [(loss.grad_fn, torch.ones_like(loss))]
    while todo:
        node, grad_out = todo.pop()
        if node is None:
            continue
        if hasattr(node, "variable"):
            grads[id(node.variable)] = grads.get(id(node.variable), 0) + grad_out
            continue
        outs = node(grad_out)
        outs = outs if isinstance(outs, tuple) else (outs,)
        for (child, _), g in zip(node.next_functions, outs):
            if g is not None:
                todo.append((child, g))
    return grads[id(w_)], grads[id(b_)]
