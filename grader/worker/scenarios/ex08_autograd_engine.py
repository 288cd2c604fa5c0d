"""Worker-side harness for exercise-8: build expression graphs from recipes with the student's
``Value``, run ``backward()`` and report every node's ``data`` and ``grad`` as plain numbers.

A *recipe* (made by the judge, see ``grader/suites/support/ex08_autograd_engine.py``) is a list
of nodes; node ``k`` is ``["leaf", x]`` or ``[op, i]`` / ``[op, i, j]`` / ``[op, i, c]`` with
``i``, ``j`` indices of earlier nodes and ``c`` a Python number. The last node is the output.
Nothing is decided here: errors come back as data (which node, which method, what was raised)
so that a missing method costs only the tests that need it; the judge compares the numbers.

Every torch call the engine makes is counted (a ``TorchFunctionMode``) and reported, since the
engine must be pure Python; the judge decides what that means.

:data:`OPS` is the one table of the operations a recipe may use. The judge reads it too: it
applies the same operations to torch tensors for the expected values, and words its messages
with the formulas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grader.worker.harness import Student, recover_tracing, scenario, torch_calls

Node = list[Any]  # ["leaf", x] | [op, i] | [op, i, j] | [op, i, c]


@dataclass(frozen=True)
class Op:
    """One operation of a recipe.

    ``method`` is the ``Value`` method Python calls for it (what a missing one is reported as);
    ``formula`` is how a student reads it, with ``{a}`` the first operand, ``{b}`` a second node
    and ``{c}`` a Python number; ``apply`` performs it on anything that has Python's operators
    and these methods -- a student's ``Value`` here, a float64 tensor in the judge.
    """

    method: str
    formula: str
    apply: Callable[..., Any]

    @property
    def takes_node(self) -> bool:
        """Whether the second operand is another node (``a + b``), not a number."""
        return "{b}" in self.formula

    @property
    def takes_number(self) -> bool:
        """Whether the second operand is a Python number (``a + 2``, ``a ** 3``)."""
        return "{c}" in self.formula


OPS: dict[str, Op] = {
    "add": Op("__add__", "{a} + {b}", lambda a, b: a + b),
    "sub": Op("__sub__", "{a} - {b}", lambda a, b: a - b),
    "mul": Op("__mul__", "{a} * {b}", lambda a, b: a * b),
    "div": Op("__truediv__", "{a} / {b}", lambda a, b: a / b),
    "add_num": Op("__add__", "{a} + {c}", lambda a, c: a + c),
    "radd_num": Op("__radd__", "{c} + {a}", lambda a, c: c + a),
    "sub_num": Op("__sub__", "{a} - {c}", lambda a, c: a - c),
    "rsub_num": Op("__rsub__", "{c} - {a}", lambda a, c: c - a),
    "mul_num": Op("__mul__", "{a} * {c}", lambda a, c: a * c),
    "rmul_num": Op("__rmul__", "{c} * {a}", lambda a, c: c * a),
    "div_num": Op("__truediv__", "{a} / {c}", lambda a, c: a / c),
    "rdiv_num": Op("__rtruediv__", "{c} / {a}", lambda a, c: c / a),
    "pow": Op("__pow__", "{a} ** {c}", lambda a, c: a**c),
    "neg": Op("__neg__", "-{a}", lambda a: -a),
    "relu": Op("relu", "{a}.relu()", lambda a: a.relu()),
    "tanh": Op("tanh", "{a}.tanh()", lambda a: a.tanh()),
    "exp": Op("exp", "{a}.exp()", lambda a: a.exp()),
    "log": Op("log", "{a}.log()", lambda a: a.log()),
    "sigmoid": Op("sigmoid", "{a}.sigmoid()", lambda a: a.sigmoid()),
}


def _number(x: Any) -> float | str:
    """A plain float, or the name of the type that came back instead."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return f"<{type(x).__module__}.{type(x).__qualname__}>"
    return float(x)


def _error(stage: str, node: int, method: str, exc: BaseException) -> dict[str, Any]:
    kind = "not_implemented" if isinstance(exc, NotImplementedError) else "exception"
    try:
        message = str(exc)[:500]
    except Exception:  # a hostile __str__
        message = "<unprintable>"
    return {
        "stage": stage,
        "node": node,
        "method": method,
        "kind": kind,
        "type": type(exc).__name__,
        "message": message,
    }


def _names(calls: list[str]) -> list[str]:
    """The first 20 distinct torch calls, for the judge's message."""
    return list(dict.fromkeys(calls))[:20]


def run_recipe(student: Student | None, value_cls: Any, nodes: list[Node]) -> dict[str, Any]:
    """Build ``nodes`` with ``value_cls``, backward from the last one, report what happened."""
    built: list[Any] = []
    for k, spec in enumerate(nodes):
        op, args = spec[0], spec[1:]
        if op == "leaf":
            try:
                built.append(value_cls(args[0]))
            except BaseException as exc:
                return {"error": _error("forward", k, "__init__", exc)}
            continue
        operation = OPS[op]
        method = operation.method
        if getattr(type(built[args[0]]), method, None) is None:
            return {"error": {"stage": "forward", "node": k, "method": method, "kind": "missing"}}
        operands = [built[args[0]]]
        if len(args) > 1:
            operands.append(built[args[1]] if operation.takes_node else args[1])
        try:
            result = operation.apply(*operands)
        except BaseException as exc:
            return {"error": _error("forward", k, method, exc)}
        if not isinstance(result, value_cls):
            return {
                "error": {
                    "stage": "forward",
                    "node": k,
                    "method": method,
                    "kind": "type",
                    "type": f"{type(result).__module__}.{type(result).__qualname__}",
                }
            }
        built.append(result)
    try:
        data = [_number(v.data) for v in built]
        grad_before = [_number(v.grad) for v in built]
    except BaseException as exc:
        return {"error": _error("attributes", len(built) - 1, "data", exc)}
    out = built[-1]
    if getattr(type(out), "backward", None) is None:
        return {"error": {"stage": "backward", "node": len(built) - 1, "method": "backward",
                          "kind": "missing"}}  # fmt: skip
    try:
        out.backward()
    except BaseException as exc:
        if isinstance(exc, RecursionError) and student is not None:
            recover_tracing(student)
        return {"error": _error("backward", len(built) - 1, "backward", exc)}
    try:
        grad = [_number(v.grad) for v in built]
    except BaseException as exc:
        return {"error": _error("attributes", len(built) - 1, "grad", exc)}
    return {"data": data, "grad_before": grad_before, "grad": grad}


@scenario
def recipes(student: Student, *, recipes: list[list[Node]]) -> dict[str, Any]:
    """Run each recipe; also report the torch calls the engine made (it must make none)."""
    value_cls = student.Value
    results = []
    with torch_calls() as calls:
        for nodes in recipes:
            results.append(run_recipe(student, value_cls, nodes))
    return {"results": results, "torch_calls": _names(calls)}


@scenario
def chain(student: Student, *, length: int, factor: float, x0: float) -> dict[str, Any]:
    """A chain ``v = v * factor`` of ``length`` nodes: only the leaf and the output come back."""
    value_cls = student.Value
    with torch_calls() as calls:
        try:
            leaf = value_cls(x0)
            v = leaf
            for _ in range(length - 1):
                v = v * factor
        except BaseException as exc:
            return {"error": _error("forward", 0, "__mul__", exc), "torch_calls": _names(calls)}
        try:
            v.backward()
        except BaseException as exc:
            if isinstance(exc, RecursionError):
                recover_tracing(student)
            error = _error("backward", length - 1, "backward", exc)
            return {"error": error, "torch_calls": _names(calls)}
        try:
            result = {"data": _number(v.data), "grad": _number(leaf.grad)}
        except BaseException as exc:
            error = _error("attributes", length - 1, "grad", exc)
            return {"error": error, "torch_calls": _names(calls)}
    return {**result, "torch_calls": _names(calls)}
