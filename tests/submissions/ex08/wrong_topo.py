"""Buggy exercise-8 submission: backward() walks the graph breadth-first from the
output instead of in reverse topological order."""

from __future__ import annotations

import math  # noqa: F401 (used by the solution bodies)
from collections.abc import Callable


class Value:
    """A scalar that remembers how it was computed, so gradients can flow back through it.

    Example (course figure 10):
        >>> a = Value(3.0)
        >>> b = a * a + a
        >>> b.backward()
        >>> a.grad
        7.0
    """

    def __init__(self, data: float, _children: tuple[Value, ...] = (), _op: str = "") -> None:
        self.data: float = float(data)
        self.grad: float = 0.0
        # Adds this node's contribution to its children's .grad (set by the op that made it).
        self._backward: Callable[[], None] = lambda: None
        self._prev: tuple[Value, ...] = _children
        self._op = _op

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"

    def __add__(self, other: Value | float) -> Value:
        """``self + other``."""
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __radd__(self, other: float) -> Value:
        """``other + self`` for a Python number ``other``."""
        return self + other

    def __mul__(self, other: Value | float) -> Value:
        """``self * other``."""
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __rmul__(self, other: float) -> Value:
        """``other * self`` for a Python number ``other``."""
        return self * other

    def __pow__(self, n: float) -> Value:
        """``self ** n`` for a Python int or float ``n`` (a constant, not a Value)."""
        assert isinstance(n, int | float), "only int or float powers are supported"
        out = Value(self.data**n, (self,), f"**{n}")

        def _backward() -> None:
            self.grad += n * self.data ** (n - 1) * out.grad

        out._backward = _backward
        return out

    def __neg__(self) -> Value:
        """``-self``."""
        return self * -1

    def __sub__(self, other: Value | float) -> Value:
        """``self - other``."""
        return self + (-other)

    def __rsub__(self, other: float) -> Value:
        """``other - self`` for a Python number ``other``."""
        return other + (-self)

    def __truediv__(self, other: Value | float) -> Value:
        """``self / other``."""
        other = other if isinstance(other, Value) else Value(other)
        return self * other**-1

    def __rtruediv__(self, other: float) -> Value:
        """``other / self`` for a Python number ``other``."""
        return Value(other) * self**-1

    def relu(self) -> Value:
        """$\\max(0, x)$, with gradient 0 at 0 (as torch)."""
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward() -> None:
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        """$\\tanh(x)$; its derivative is $1 - \\tanh(x)^2$."""
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward() -> None:
            self.grad += (1.0 - t * t) * out.grad

        out._backward = _backward
        return out

    def exp(self) -> Value:
        """$e^x$; its derivative is $e^x$ itself."""
        e = math.exp(self.data)
        out = Value(e, (self,), "exp")

        def _backward() -> None:
            self.grad += e * out.grad

        out._backward = _backward
        return out

    def log(self) -> Value:
        """Natural logarithm $\\ln x$ (for $x > 0$); its derivative is $1/x$."""
        out = Value(math.log(self.data), (self,), "log")

        def _backward() -> None:
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    def sigmoid(self) -> Value:
        """$\\sigma(x) = 1 / (1 + e^{-x})$; its derivative is $\\sigma(x)(1 - \\sigma(x))$."""
        x = self.data
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        out = Value(s, (self,), "sigmoid")

        def _backward() -> None:
            self.grad += s * (1.0 - s) * out.grad

        out._backward = _backward
        return out

    def backward(self) -> None:
        """Set ``self.grad = 1`` and accumulate gradients into every node ``self`` depends on.

        Nodes are visited in reverse topological order, so each node's ``_backward`` runs after
        all the nodes that use it have added their contributions to its ``grad``.
        """
        self.grad = 1.0
        queue, seen = [self], {id(self)}
        while queue:
            node = queue.pop(0)
            node._backward()
            for child in node._prev:
                if id(child) not in seen:
                    seen.add(id(child))
                    queue.append(child)
