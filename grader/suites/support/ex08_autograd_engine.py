"""Recipes, torch expectations and diagnoses for exercise-8 (a scalar autograd engine).

The student's ``Value`` objects cannot leave the worker, so the judge sends a *recipe*: a list
of nodes, node ``k`` being ``["leaf", x]`` or ``[op, i]``, ``[op, i, j]`` (``j`` a node) or
``[op, i, c]`` (``c`` a Python number), with the last node as the output. The worker builds it
with the student's ``Value`` (``grader/worker/scenarios/ex08_autograd_engine.py``) and reports
every node's ``data`` and ``grad``; here the same recipe is built with torch float64 autograd
and compared, node by node.

The operations themselves -- the ``Value`` method each one needs, how it reads, how it is
applied -- are the worker's table (:data:`~grader.worker.scenarios.ex08_autograd_engine.OPS`);
the judge applies the same entries to float64 tensors.

Diagnoses, each tried only when the numbers fit:

- *assign instead of accumulate*: every wrong gradient belongs to a node used more than once
  and equals what a single one of its uses contributes (or follows from such a node);
- *wrong topological order*: each operation's gradient is right on its own (checked in the same
  worker call) but the graph's gradients are not, and the assign pattern does not fit;
- *recursion*: ``backward()`` raised ``RecursionError``.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from typing import Any

import torch

from grader.judge import checks
from grader.judge.expectations import ahead, answers
from grader.judge.failures import Failure, ForbiddenUse, NotImplementedYet, StudentError
from grader.worker.scenarios.ex08_autograd_engine import OPS, Node

RTOL = 1e-9  # float64 engines differ only by rounding (a / b versus a * b ** -1, ...)

ASSIGN_HINT = (
    "a node used more than once got the gradient of only one of its uses: you assign instead "
    "of accumulate (use += in every _backward, e.g. self.grad += other.data * out.grad)"
)
TOPO_HINT = (
    "each operation's gradient is right on its own, but gradients are wrong in deep or "
    "branching graphs: wrong topological order -- backward() must call a node's _backward "
    "only after every node that uses it (sort the graph topologically, walk it in reverse)"
)
RECURSION_HINT = (
    "a recursive graph walk hits Python's recursion limit (about 1,000 nested calls) on a "
    "10,000-node chain: build the topological order iteratively, with an explicit stack"
)
WRAP_HINT = (
    "wrap Python numbers in a Value first: other = other if isinstance(other, Value) "
    "else Value(other)"
)
SEED_HINT = "backward() starts by setting the output's grad to 1.0 (d out / d out = 1)"

# A reflected method (``__radd__``) -> an expression that needs it ("2 + a").
REFLECTED = {
    op.method: op.formula.format(a="a", c="2")
    for op in OPS.values()
    if op.method.startswith("__r") and op.takes_number
}
FAMILIES = {
    # what the original micrograd has: +, *, ** and relu
    "core": ["add", "mul", "add_num", "mul_num", "pow", "relu"],
    "arithmetic": [
        "add", "sub", "mul", "div", "neg", "pow",
        "add_num", "radd_num", "sub_num", "rsub_num",
        "mul_num", "rmul_num", "div_num", "rdiv_num",
    ],
    "all": [
        "add", "sub", "mul", "div", "neg", "pow", "add_num", "radd_num", "sub_num",
        "rsub_num", "mul_num", "rmul_num", "div_num", "rdiv_num",
        "relu", "tanh", "exp", "log", "sigmoid",
    ],
}  # fmt: skip


class Recipe:
    """Builds a recipe node by node: ``r.leaf(2.0)``, ``r.op("mul", a, b)`` return indices."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []

    def leaf(self, x: float) -> int:
        self.nodes.append(["leaf", x])
        return len(self.nodes) - 1

    def op(self, name: str, *args: Any) -> int:
        self.nodes.append([name, *args])
        return len(self.nodes) - 1


def one_op(op: str, *inputs: float, const: float | None = None) -> list[Node]:
    """A recipe of a single operation on fresh leaves: ``tanh(x)``, ``x * y``, ``x ** 3``..."""
    r = Recipe()
    leaves = [r.leaf(x) for x in inputs]
    args: list[Any] = list(leaves)
    if const is not None:
        args.append(const)
    r.op(op, *args)
    return r.nodes


# -- torch's answer -----------------------------------------------------------------------------
def torch_eval(nodes: Sequence[Node]) -> tuple[list[float], list[float]]:
    """Every node's value and d(output)/d(node), from torch float64 autograd."""
    ts: list[torch.Tensor] = []
    for spec in nodes:
        op, args = spec[0], spec[1:]
        if op == "leaf":
            t = torch.tensor(float(args[0]), dtype=torch.float64, requires_grad=True)
        else:
            operation = OPS[op]
            operands = [ts[args[0]]]
            if len(args) > 1:
                operands.append(ts[args[1]] if operation.takes_node else args[1])
            t = operation.apply(*operands)
            t.retain_grad()
        ts.append(t)
    ts[-1].backward()  # type: ignore[no-untyped-call]  # torch leaves backward() unannotated
    data = [float(t.detach()) for t in ts]
    grad = [0.0 if t.grad is None else float(t.grad) for t in ts]
    return data, grad


# For each node, the (child index, d node / d child) of each edge into a child: the local
# derivatives a Value's backward applies, so an answer, kept in reference/support/.
local_derivatives = answers("support.ex08_autograd_engine").local_derivatives


# -- words ------------------------------------------------------------------------------------
def _num(c: Any) -> str:
    text = repr(c) if isinstance(c, int) else checks.fmt(float(c))
    return f"({text})" if text.startswith("-") else text


def describe(nodes: Sequence[Node], k: int) -> str:
    """``n3 = n1 * n2`` for node ``k``, with the values of the leaves in a small recipe."""
    op, args = nodes[k][0], nodes[k][1:]
    if op == "leaf":
        return f"n{k} = Value({_num(args[0]).strip('()')})"
    operation = OPS[op]
    b = f"n{args[1]}" if operation.takes_node else ""
    c = _num(args[1]) if operation.takes_number else ""
    return f"n{k} = {operation.formula.format(a=f'n{args[0]}', b=b, c=c)}"


def where(nodes: Sequence[Node]) -> str:
    """The whole recipe when it is small, else its size."""
    if len(nodes) <= 6:
        return "; ".join(describe(nodes, k) for k in range(len(nodes)))
    return f"a graph of {len(nodes)} nodes, output n{len(nodes) - 1}"


# -- judging one result -----------------------------------------------------------------------
def _close(got: float, expected: float, scale: float) -> bool:
    return math.isclose(got, expected, rel_tol=RTOL, abs_tol=RTOL * scale)


def raise_error(nodes: Sequence[Node], err: dict[str, Any]) -> None:
    """Turn an error the worker reported into the failure a student can act on."""
    k, method, kind = err.get("node", 0), err.get("method", "?"), err.get("kind")
    at = describe(nodes, k) if 0 <= k < len(nodes) else "the graph"
    if kind == "missing":
        usage = ""
        if method in REFLECTED:
            usage = f" (Python calls it when a number is on the left, as in {REFLECTED[method]})"
        raise Failure(
            f"Value has no method {method}, needed for {at}{usage}",
            f"define Value.{method} as the exercise describes",
        )
    if kind == "not_implemented":
        raise NotImplementedYet(
            f"Value.{method} is not implemented yet (it raised NotImplementedError"
            f"{': ' + err['message'] if err.get('message') else ''}), needed for {at}"
        )
    if kind == "type":
        raise Failure(f"{at} returned a {err.get('type')}, expected a new Value")
    stage, etype, message = err.get("stage"), err.get("type"), err.get("message", "")
    hint = ""
    if etype == "RecursionError":
        hint = RECURSION_HINT
    elif etype in ("AttributeError", "TypeError") and re.search(r"'(int|float)'", message):
        hint = WRAP_HINT
    if stage == "backward":
        raise StudentError(f"backward() on {at} raised {etype}: {message}", hint)
    if stage == "attributes":
        raise StudentError(f"reading .{method} of a Value raised {etype}: {message}")
    raise StudentError(f"computing {at} raised {etype}: {message}", hint)


def forbidden_checks_on(student: Any) -> bool:
    """Whether this grading run detects forbidden use (off when the torch-backed reference is
    graded to check the suites, as ``grade verify`` and the grader's tests do)."""
    spec = getattr(getattr(student, "_client", None), "spec", None)
    return bool(getattr(spec, "forbidden", True))


def check_torch_calls(student: Any, torch_calls: Sequence[str]) -> None:
    """The engine must be pure Python: any torch call the worker counted fails the test."""
    if torch_calls and forbidden_checks_on(student):
        raise ForbiddenUse(
            f"your engine called torch ({', '.join(torch_calls[:5])}): that is not allowed in "
            "this exercise, so no test of Value counts",
            "the engine is pure Python: compute with floats and the math module",
        )


def _numbers(values: Sequence[Any], what: str, nodes: Sequence[Node]) -> list[float]:
    for k, v in enumerate(values):
        if not isinstance(v, float):
            raise Failure(
                f"the {what} of {describe(nodes, k)} should be a Python float, got {v}",
                "store plain floats in .data and .grad",
            )
    return list(values)


def diagnose_grads(
    nodes: Sequence[Node],
    data: Sequence[float],
    grad: Sequence[float],
    expected: Sequence[float],
    singles_ok: bool,
) -> str:
    """The likely cause of wrong gradients in a graph (see the module docstring)."""
    scale = max(1.0, *(abs(g) for g in expected))
    edges = local_derivatives(nodes, data)
    uses: dict[int, list[tuple[int, float]]] = {k: [] for k in range(len(nodes))}
    for parent, parent_edges in enumerate(edges):
        for child, d in parent_edges:
            uses[child].append((parent, d))
    out = len(nodes) - 1
    wrong = [k for k in range(len(nodes)) if not _close(grad[k], expected[k], scale)]
    assign_seen = False
    for k in wrong:
        if k == out:
            return ""
        contributions = [grad[p] * d for p, d in uses[k]]
        if len(contributions) > 1 and any(_close(grad[k], c, scale) for c in contributions):
            assign_seen = True
        elif not _close(grad[k], sum(contributions), scale):
            break  # neither one use's gradient nor inherited from a wrong parent
    else:
        if assign_seen:
            return ASSIGN_HINT
    return TOPO_HINT if singles_ok else ""


def check_result(
    nodes: Sequence[Node], result: dict[str, Any], what: str, *, singles_ok: bool = False
) -> None:
    """Compare one recipe's data and gradients with torch float64 autograd."""
    if result.get("error"):
        raise_error(nodes, result["error"])
    data = _numbers(result["data"], "data", nodes)
    before = _numbers(result["grad_before"], "grad (before backward)", nodes)
    grad = _numbers(result["grad"], "grad", nodes)
    exp_data, exp_grad = torch_eval(nodes)
    ahead(local_derivatives, nodes, exp_data)  # diagnose_grads needs them if the grads are wrong
    dscale = max(1.0, *(abs(x) for x in exp_data))
    for k, (g, e) in enumerate(zip(data, exp_data)):
        if not _close(g, e, dscale):
            raise Failure(
                f"{what}: the data of {describe(nodes, k)} should be {checks.fmt(e)}, got "
                f"{checks.fmt(g)} (in {where(nodes)})"
            )
    for k, g in enumerate(before):
        if g != 0.0:
            raise Failure(
                f"{what}: before backward() the grad of {describe(nodes, k)} was "
                f"{checks.fmt(g)}; a new Value's grad starts at 0.0"
            )
    out = len(nodes) - 1
    if not _close(grad[out], 1.0, 1.0):
        raise Failure(
            f"{what}: after backward() the output's own grad should be 1.0, got "
            f"{checks.fmt(grad[out])}",
            SEED_HINT,
        )
    gscale = max(1.0, *(abs(x) for x in exp_grad))
    wrong = [k for k in range(len(nodes)) if not _close(grad[k], exp_grad[k], gscale)]
    if not wrong:
        return
    k = wrong[-1]  # the one closest to the output: the others may only inherit its error
    raise Failure(
        f"{what}: the grad of {describe(nodes, k)} should be {checks.fmt(exp_grad[k])}, got "
        f"{checks.fmt(grad[k])} ({len(wrong)} of {len(nodes)} nodes have a wrong grad; in "
        f"{where(nodes)})",
        diagnose_grads(nodes, exp_data, grad, exp_grad, singles_ok),
    )


def run(student: Any, recipes: Sequence[Sequence[Node]], what: str) -> None:
    """Run recipes in one worker call and check each one."""
    reply = student.scenario("recipes", recipes=[list(r) for r in recipes])
    check_torch_calls(student, reply["torch_calls"])
    for nodes, result in zip(recipes, reply["results"]):
        check_result(nodes, result, what)


def run_graph(student: Any, nodes: Sequence[Node], what: str) -> None:
    """One graph, plus each of its operations alone (so a wrong order can be told apart)."""
    singles = single_ops(nodes)
    reply = student.scenario("recipes", recipes=[list(nodes), *singles])
    check_torch_calls(student, reply["torch_calls"])
    results = reply["results"]
    singles_ok = True
    for single, result in zip(singles, results[1:]):
        try:
            check_result(single, result, what)
        except Failure:
            singles_ok = False
    check_result(nodes, results[0], what, singles_ok=singles_ok)


def single_ops(nodes: Sequence[Node]) -> list[list[Node]]:
    """Each distinct operation of ``nodes`` on fresh leaves with the same input values."""
    data, _ = torch_eval(nodes)
    seen: set[str] = set()
    out = []
    for spec in nodes:
        op, args = spec[0], spec[1:]
        if op == "leaf" or op in seen:
            continue
        seen.add(op)
        if OPS[op].takes_node:
            out.append(one_op(op, data[args[0]], data[args[1]]))
        elif len(args) > 1:
            out.append(one_op(op, data[args[0]], const=args[1]))
        else:
            out.append(one_op(op, data[args[0]]))
    return out


# -- random graphs ----------------------------------------------------------------------------
POWERS = [2, 3, -1, -2, 0.5, 1.5, 2.0]


class _Float(float):
    """A Python float with the methods a float lacks and a ``Value`` has, so that the random
    graphs' values come from the one operation table, computed as Python computes them."""

    def relu(self) -> float:
        return max(float(self), 0.0)

    def tanh(self) -> float:
        return math.tanh(self)

    def exp(self) -> float:
        return math.exp(self)

    def log(self) -> float:
        return math.log(self)

    def sigmoid(self) -> float:
        return 1 / (1 + math.exp(-self))


def _value(op: str, x: float, y: float | None, c: Any) -> float | None:
    """The result of ``op`` in plain Python, or None where the op is unsafe for a test: near a
    pole, a kink or a log's edge, or too large."""
    if op == "div":
        assert y is not None  # div is binary: random_graph always passes its second operand
        if abs(y) < 0.2:
            return None
    if op == "rdiv_num" and abs(x) < 0.2:
        return None
    if op == "pow" and ((isinstance(c, float) and x < 0.2) or (c < 0 and abs(x) < 0.2)):
        return None
    if op == "log" and x < 0.2:
        return None
    if op == "exp" and abs(x) > 5:
        return None
    if op in ("tanh", "sigmoid") and abs(x) > 10:
        return None
    if op == "relu" and abs(x) < 1e-3:
        return None
    operands: list[Any] = [_Float(x)]
    if y is not None:
        operands.append(_Float(y))
    elif c is not None:
        operands.append(c)
    try:
        value = OPS[op].apply(*operands)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    if isinstance(value, complex) or not math.isfinite(value) or abs(value) > 1e3:
        return None
    return float(value)


def random_graph(seed: int, family: str, *, leaves: int = 3, ops: int = 12) -> list[Node]:
    """A random expression DAG over ``FAMILIES[family]``: deep chains and shared nodes.

    Operands are drawn from the most recent nodes half of the time (depth) and from all nodes
    otherwise (sharing: the same node feeds several later ones, sometimes both operands). At the
    end every node nobody used is added into the output, so every node gets a gradient.
    """
    rng = random.Random(seed)
    r = Recipe()
    values: list[float] = []
    for _ in range(leaves):
        x = round(rng.uniform(-2.5, 2.5), 3) or 0.5
        r.leaf(x)
        values.append(x)
    names = FAMILIES[family]

    def pick() -> int:
        n = len(values)
        return rng.randrange(max(0, n - 3), n) if rng.random() < 0.5 else rng.randrange(n)

    made = 0
    while made < ops:
        op = rng.choice(names)
        i = pick()
        j = pick() if OPS[op].takes_node else None
        c: Any = None
        if op == "pow":
            c = rng.choice(POWERS)
        elif OPS[op].takes_number:
            c = rng.choice([2, -3, round(rng.uniform(-3, 3), 2) or 1.5])
        v = _value(op, values[i], None if j is None else values[j], c)
        if v is None:
            continue
        args = [i] + ([j] if j is not None else []) + ([c] if c is not None else [])
        r.op(op, *args)
        values.append(v)
        made += 1
    used = {a for spec in r.nodes[1:] for a in _node_args(spec)}
    sinks = [k for k in range(len(values) - 1) if k not in used]
    out = len(values) - 1
    for k in sinks:
        out = r.op("add", out, k)
    return r.nodes


def _node_args(spec: Node) -> list[int]:
    op, args = spec[0], spec[1:]
    if op == "leaf":
        return []
    return [args[0], args[1]] if OPS[op].takes_node else [args[0]]
