"""Correct exercise-8 in an unusual style: __slots__, a deque-based topological order,
type(self).__name__ in __repr__, a classmethod constructor, math.fsum, operator-free dunder
methods defined in the class. The audit must find nothing here."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

Number = int | float


class Value:
    __slots__ = ("data", "grad", "_parents", "_local_grads", "_backward_hook")

    def __init__(self, data: float, _parents: tuple[Value, ...] = (), _local: tuple[float, ...] = ()) -> None:
        self.data = float(data)
        self.grad = 0.0
        self._parents = _parents
        self._local_grads = _local
        self._backward_hook: Callable[[], None] | None = None

    @classmethod
    def lift(cls, x: Value | Number) -> Value:
        return x if isinstance(x, Value) else cls(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(data={self.data}, grad={self.grad})"

    def __add__(self, other: Value | Number) -> Value:
        other = Value.lift(other)
        return Value(self.data + other.data, (self, other), (1.0, 1.0))

    __radd__ = __add__

    def __mul__(self, other: Value | Number) -> Value:
        other = Value.lift(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data))

    __rmul__ = __mul__

    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other: Value | Number) -> Value:
        return self + (-Value.lift(other))

    def __rsub__(self, other: Number) -> Value:
        return Value.lift(other) + (-self)

    def __pow__(self, n: Number) -> Value:
        return Value(self.data**n, (self,), (n * self.data ** (n - 1),))

    def __truediv__(self, other: Value | Number) -> Value:
        return self * Value.lift(other) ** -1

    def __rtruediv__(self, other: Number) -> Value:
        return Value.lift(other) * self**-1

    def relu(self) -> Value:
        return Value(max(self.data, 0.0), (self,), (1.0 if self.data > 0 else 0.0,))

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        return Value(t, (self,), (1.0 - t * t,))

    def exp(self) -> Value:
        e = math.exp(self.data)
        return Value(e, (self,), (e,))

    def log(self) -> Value:
        return Value(math.log(self.data), (self,), (1.0 / self.data,))

    def sigmoid(self) -> Value:
        x = self.data
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        return Value(s, (self,), (s * (1.0 - s),))

    def backward(self) -> None:
        users: dict[int, int] = {}
        seen = {id(self)}
        queue = deque([self])
        nodes: list[Value] = []
        while queue:
            node = queue.popleft()
            nodes.append(node)
            for parent in node._parents:
                users[id(parent)] = users.get(id(parent), 0) + 1
                if id(parent) not in seen:
                    seen.add(id(parent))
                    queue.append(parent)
        self.grad = 1.0
        ready = deque([self])
        while ready:  # Kahn's algorithm: a node goes once every user has given its share
            node = ready.popleft()
            for parent, local in zip(node._parents, node._local_grads):
                parent.grad = math.fsum((parent.grad, local * node.grad))
                users[id(parent)] -= 1
                if users[id(parent)] == 0:
                    ready.append(parent)


def demo() -> float:
    a = Value(3.0)
    b = a * a + a
    b.backward()  # the engine's own backward, not torch's
    return a.grad
