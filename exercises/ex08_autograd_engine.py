r"""Exercise 8 - A scalar autograd engine.

``loss.backward()`` looks like magic until you write it yourself. In this exercise you build a
tiny reverse-mode automatic differentiation engine for single numbers, in the spirit of
Andrej Karpathy's *micrograd*: about a hundred lines of plain Python.

**The idea.** Every arithmetic operation on a :class:`Value` returns a new ``Value`` that
remembers (1) its inputs -- its *children* in the graph -- and (2) a tiny function
``_backward`` that knows the *local* derivative of that one operation. For $c = a \cdot b$ the
local derivatives are $\partial c / \partial a = b$ and $\partial c / \partial b = a$, so
``c._backward`` does

.. code-block:: python

    a.grad += b.data * c.grad
    b.grad += a.data * c.grad

That is the chain rule, one edge at a time: the gradient flowing into a node ($\bar c =
\partial L / \partial c$, stored in ``c.grad``) is multiplied by the local derivative and
*added* to the child's gradient.

**Why add (``+=``)?** A node can be used more than once. For $L = a \cdot a + a$ the variable
$a$ reaches $L$ along three edges, and the multivariable chain rule says the gradient is the
*sum* over all paths: $\partial L/\partial a = a + a + 1 = 2a + 1$. With ``a = Value(3.0)``:
$\partial (a \cdot a)/\partial a = 6$ and $\partial (a \cdot a + a)/\partial a = 7$ (course
figure 10). Writing ``=`` instead of ``+=`` keeps only one path and gives 3 or 1 instead.

**Why a topological order?** ``backward()`` must call a node's ``_backward`` only after every
node that *uses* it has finished adding into its ``grad`` -- otherwise the node passes on an
incomplete gradient. Sorting the graph topologically (children before parents) and walking the
list in *reverse* guarantees that. Build the order with an explicit stack, not recursion:
Python stops recursing after about 1,000 nested calls, and the grader builds a chain of
10,000 nodes.

Local derivatives you need (with $y$ the result):

- $a + b$: 1 and 1;  $a - b$: 1 and $-1$;  $a \cdot b$: $b$ and $a$;  $a / b$: $1/b$ and
  $-a/b^2$;  $-a$: $-1$;
- $a^n$ (``n`` an int or float constant): $n a^{n-1}$;
- $\mathrm{relu}(a) = \max(0, a)$: 1 if $a > 0$ else 0 (so $\mathrm{relu}'(0) = 0$, as in
  torch);
- $\tanh(a)$: $1 - y^2$;  $e^a$: $y$;  $\log a$: $1/a$;  $\sigma(a) = 1/(1 + e^{-a})$:
  $y(1 - y)$.

Python numbers must work on either side: ``a + 2``, ``2 + a``, ``2 - a``, ``2 / a``, ... Wrap a
number in a ``Value`` (Python calls ``__radd__``, ``__rsub__``, ``__rmul__``, ``__rtruediv__``
when the number is on the left). ``Value ** n`` takes a plain number ``n``; ``n ** Value`` is
not required.

The grader builds random expression graphs (with shared sub-expressions) from the same recipe
with your ``Value`` and with torch's float64 autograd, and compares every node's ``data`` and
``grad``.

Not allowed here: torch (the engine is pure Python; use the ``math`` module).

**What your file may use.** The grader reads your file before running any of it. You may import
only these modules of Python's standard library: ``math``, ``cmath``, ``random``,
``functools``, ``itertools``, ``operator``, ``collections``, ``dataclasses``, ``typing``,
``typing_extensions``, ``copy``, ``numbers``, ``abc``, ``enum``, ``warnings``, ``time``,
``contextlib``, ``json``, ``re``, ``string``, ``statistics``, ``fractions``, ``decimal``,
``heapq``, ``bisect``, ``array``, ``textwrap``, ``pprint``, ``__future__`` and, of ``sys``,
only its streams, limits and version (``sys.stdout``, ``sys.maxsize``, ``sys.float_info``,
``sys.setrecursionlimit``, ...) -- not ``torch`` or ``numpy``: the engine is pure Python. Not:
any other module (``threading``, ``subprocess``, ``pickle``, ``importlib``, ...); dunder
attributes beyond names and docstrings (``x.__class__.__mro__``, ``obj.__dict__`` of anything
but ``self``); attribute names computed at run time (``getattr(obj, name)`` with a built
``name`` -- a literal name is fine), ``eval``, ``exec``. Your own private attributes
(``node._prev``) are fine. A function or class that uses any of these has its tests voided,
with a message saying what to write instead.
"""

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
        raise NotImplementedError("exercise-8: write Value.__add__")

    def __radd__(self, other: float) -> Value:
        """``other + self`` for a Python number ``other``."""
        raise NotImplementedError("exercise-8: write Value.__radd__")

    def __mul__(self, other: Value | float) -> Value:
        """``self * other``."""
        raise NotImplementedError("exercise-8: write Value.__mul__")

    def __rmul__(self, other: float) -> Value:
        """``other * self`` for a Python number ``other``."""
        raise NotImplementedError("exercise-8: write Value.__rmul__")

    def __pow__(self, n: float) -> Value:
        """``self ** n`` for a Python int or float ``n`` (a constant, not a Value)."""
        raise NotImplementedError("exercise-8: write Value.__pow__")

    def __neg__(self) -> Value:
        """``-self``."""
        raise NotImplementedError("exercise-8: write Value.__neg__")

    def __sub__(self, other: Value | float) -> Value:
        """``self - other``."""
        raise NotImplementedError("exercise-8: write Value.__sub__")

    def __rsub__(self, other: float) -> Value:
        """``other - self`` for a Python number ``other``."""
        raise NotImplementedError("exercise-8: write Value.__rsub__")

    def __truediv__(self, other: Value | float) -> Value:
        """``self / other``."""
        raise NotImplementedError("exercise-8: write Value.__truediv__")

    def __rtruediv__(self, other: float) -> Value:
        """``other / self`` for a Python number ``other``."""
        raise NotImplementedError("exercise-8: write Value.__rtruediv__")

    def relu(self) -> Value:
        """$\\max(0, x)$, with gradient 0 at 0 (as torch)."""
        raise NotImplementedError("exercise-8: write Value.relu")

    def tanh(self) -> Value:
        """$\\tanh(x)$; its derivative is $1 - \\tanh(x)^2$."""
        raise NotImplementedError("exercise-8: write Value.tanh")

    def exp(self) -> Value:
        """$e^x$; its derivative is $e^x$ itself."""
        raise NotImplementedError("exercise-8: write Value.exp")

    def log(self) -> Value:
        """Natural logarithm $\\ln x$ (for $x > 0$); its derivative is $1/x$."""
        raise NotImplementedError("exercise-8: write Value.log")

    def sigmoid(self) -> Value:
        """$\\sigma(x) = 1 / (1 + e^{-x})$; its derivative is $\\sigma(x)(1 - \\sigma(x))$."""
        raise NotImplementedError("exercise-8: write Value.sigmoid")

    def backward(self) -> None:
        """Set ``self.grad = 1`` and accumulate gradients into every node ``self`` depends on.

        Nodes are visited in reverse topological order, so each node's ``_backward`` runs after
        all the nodes that use it have added their contributions to its ``grad``.
        """
        raise NotImplementedError("exercise-8: write Value.backward")
