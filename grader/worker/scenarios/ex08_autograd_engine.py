"""Worker-side harness for exercise-8: build expression graphs from recipes with the student's
``Value``, run ``backward()`` and report every node's ``data`` and ``grad`` as plain numbers.

A *recipe* (made by the judge, see ``grader/suites/support/ex08_autograd_engine.py``) is a list
of nodes; node ``k`` is ``["leaf", x]`` or ``[op, i]`` / ``[op, i, j]`` / ``[op, i, c]`` with
``i``, ``j`` indices of earlier nodes and ``c`` a Python number. The last node is the output.
Nothing is decided here: errors come back as data (which node, which method, what was raised)
so that a missing method costs only the tests that need it; the judge compares the numbers.

Every torch call the engine makes is counted (a ``TorchFunctionMode``) and reported, since the
engine must be pure Python; the judge decides what that means.
"""

from __future__ import annotations

from typing import Any

from grader.worker.harness import Student, recover_tracing, scenario, torch_calls

# op -> (Python method that must exist on Value, how to apply it)
OPS: dict[str, tuple[str, Any]] = {
    "add": ("__add__", lambda a, b: a + b),
    "sub": ("__sub__", lambda a, b: a - b),
    "mul": ("__mul__", lambda a, b: a * b),
    "div": ("__truediv__", lambda a, b: a / b),
    "add_num": ("__add__", lambda a, c: a + c),
    "radd_num": ("__radd__", lambda a, c: c + a),
    "sub_num": ("__sub__", lambda a, c: a - c),
    "rsub_num": ("__rsub__", lambda a, c: c - a),
    "mul_num": ("__mul__", lambda a, c: a * c),
    "rmul_num": ("__rmul__", lambda a, c: c * a),
    "div_num": ("__truediv__", lambda a, c: a / c),
    "rdiv_num": ("__rtruediv__", lambda a, c: c / a),
    "pow": ("__pow__", lambda a, n: a**n),
    "neg": ("__neg__", lambda a: -a),
    "relu": ("relu", lambda a: a.relu()),
    "tanh": ("tanh", lambda a: a.tanh()),
    "exp": ("exp", lambda a: a.exp()),
    "log": ("log", lambda a: a.log()),
    "sigmoid": ("sigmoid", lambda a: a.sigmoid()),
}
NODE_OPERANDS = {"add", "sub", "mul", "div"}  # the second operand is a node, not a number


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


def run_recipe(student: Student | None, value_cls: Any, nodes: list[list[Any]]) -> dict[str, Any]:
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
        method, apply = OPS[op]
        if getattr(type(built[args[0]]), method, None) is None:
            return {"error": {"stage": "forward", "node": k, "method": method, "kind": "missing"}}
        operands = [built[args[0]]]
        if len(args) > 1:
            operands.append(built[args[1]] if op in NODE_OPERANDS else args[1])
        try:
            result = apply(*operands)
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
def recipes(student: Student, *, recipes: list[list[list[Any]]]) -> dict[str, Any]:
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
