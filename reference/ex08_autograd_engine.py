"""Reference for exercise-8: the same ``Value`` API on top of torch's own float64 autograd.

Each ``Value`` wraps a 0-d float64 tensor; ``backward()`` hands the graph to torch and reads
every node's gradient back (non-leaf nodes keep theirs with ``retain_grad``). The suites do not
import this module -- they compare the student's engine with torch float64 autograd directly
(``grader/suites/support/ex08_autograd_engine.py``) -- but grading it checks that the suites'
expectations are torch's.
"""

from __future__ import annotations

import torch

TITLE = "A scalar autograd engine"
# The engine must be pure Python. These are the ways into torch a cheating engine needs (make a
# tensor, read a number back, run torch's autograd); the worker also counts every torch call
# the engine makes while the suites run (see grader/worker/scenarios/ex08_autograd_engine.py).
FORBIDDEN = [
    "torch.tensor",
    "torch.as_tensor",
    "torch.asarray",
    "torch.scalar_tensor",
    "torch.from_numpy",
    "torch.full",
    "torch.Tensor.item",
    "torch.Tensor.tolist",
    "torch.Tensor.backward",
    "torch.autograd.backward",
    "torch.autograd.grad",
]
# The judge's source audit (grader/judge/audit/) reads this literal, like FORBIDDEN, before any
# student code runs. The file may import the course baseline (grader/judge/audit/policy.py, each
# module with its public submodules), plus "imports_add", minus "imports_drop". "extras": what
# else it may not touch, however spelled (".name": any attribute of that name; "a.b": that module
# or API and everything under it). "why" and "instead": what the student reads next to a use of
# FORBIDDEN or "extras".
AUDIT = {
    "imports_drop": "torch numpy",  # the engine is pure Python
    "extras": ["torch", "numpy"],
    "why": "exercise-8's engine is pure Python: the point is to build autograd without torch",
    "instead": "compute with Python floats and the `math` module",
}

Number = int | float


class Value:
    def __init__(self, data: float | torch.Tensor) -> None:
        if isinstance(data, torch.Tensor):
            self.t = data
            if not data.is_leaf:
                data.retain_grad()
        else:
            self.t = torch.tensor(float(data), dtype=torch.float64, requires_grad=True)
        self._grad_offset = 0.0

    @property
    def data(self) -> float:
        return float(self.t.detach())

    @property
    def grad(self) -> float:
        g = self.t.grad
        return (0.0 if g is None else float(g)) + self._grad_offset

    @staticmethod
    def _t(x: Value | Number) -> torch.Tensor:
        return x.t if isinstance(x, Value) else torch.tensor(float(x), dtype=torch.float64)

    def __add__(self, other: Value | Number) -> Value:
        return Value(self.t + self._t(other))

    def __radd__(self, other: Number) -> Value:
        return Value(self._t(other) + self.t)

    def __sub__(self, other: Value | Number) -> Value:
        return Value(self.t - self._t(other))

    def __rsub__(self, other: Number) -> Value:
        return Value(self._t(other) - self.t)

    def __mul__(self, other: Value | Number) -> Value:
        return Value(self.t * self._t(other))

    def __rmul__(self, other: Number) -> Value:
        return Value(self._t(other) * self.t)

    def __truediv__(self, other: Value | Number) -> Value:
        return Value(self.t / self._t(other))

    def __rtruediv__(self, other: Number) -> Value:
        return Value(self._t(other) / self.t)

    def __pow__(self, n: Number) -> Value:
        return Value(self.t**n)

    def __neg__(self) -> Value:
        return Value(-self.t)

    def relu(self) -> Value:
        return Value(torch.relu(self.t))

    def tanh(self) -> Value:
        return Value(torch.tanh(self.t))

    def exp(self) -> Value:
        return Value(torch.exp(self.t))

    def log(self) -> Value:
        return Value(torch.log(self.t))

    def sigmoid(self) -> Value:
        return Value(torch.sigmoid(self.t))

    def backward(self) -> None:
        if self.t.grad_fn is None:  # a leaf: d self / d self = 1, nothing else to do
            self._grad_offset += 1.0
            return
        self.t.backward(retain_graph=True)
