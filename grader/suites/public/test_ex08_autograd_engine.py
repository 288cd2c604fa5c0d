"""Exercise 8 - a scalar autograd engine: public tests (these ship to students).

Each test builds a small expression with your ``Value`` inside the worker and compares every
node's ``data`` and ``grad`` with torch's float64 autograd on the same expression. Tests are
grouped by operation, so a method you have not written yet costs only its own tests.
"""

import pytest

from grader.judge import checks
from grader.judge.failures import Failure
from grader.suites.support.ex08_autograd_engine import (
    RECURSION_HINT,
    Recipe,
    check_torch_calls,
    one_op,
    raise_error,
    random_graph,
    run,
    run_graph,
)


@pytest.mark.points(2)
def test_figure_10_a_times_a(student):
    """Figure 10: for a = 3, d(a*a)/da = 6 (a node used twice gets both uses' gradients)"""
    r = Recipe()
    a = r.leaf(3.0)
    r.op("mul", a, a)
    run(student, [r.nodes], "a * a with a = 3")


@pytest.mark.points(2)
def test_figure_10_a_times_a_plus_a(student):
    """Figure 10: for a = 3, d(a*a + a)/da = 7"""
    r = Recipe()
    a = r.leaf(3.0)
    r.op("add", r.op("mul", a, a), a)
    run(student, [r.nodes], "a * a + a with a = 3")


PAIRS = [(2.0, -3.0), (-1.5, 0.25), (0.7, 4.0)]


def test_add_values(student):
    """a + b for two Values"""
    run(student, [one_op("add", x, y) for x, y in PAIRS], "a + b")


def test_mul_values(student):
    """a * b for two Values"""
    run(student, [one_op("mul", x, y) for x, y in PAIRS], "a * b")


def test_sub_values(student):
    """a - b for two Values"""
    run(student, [one_op("sub", x, y) for x, y in PAIRS], "a - b")


def test_div_values(student):
    """a / b for two Values"""
    run(student, [one_op("div", x, y) for x, y in PAIRS], "a / b")


@pytest.mark.parametrize(
    "op",
    ["add_num", "mul_num", "sub_num", "div_num"],
    ids=["value+number", "value*number", "value-number", "value/number"],
)
def test_value_with_number_on_the_right(student, op):
    """A Value with a Python number on the right (a + 2, a * 2.5, ...)"""
    recipes = [one_op(op, x, const=c) for x, c in [(1.5, 2), (-0.5, 2.5), (3.0, -4)]]
    run(student, recipes, f"op {op}")


@pytest.mark.parametrize(
    "op",
    ["radd_num", "rmul_num", "rsub_num", "rdiv_num"],
    ids=["number+value", "number*value", "number-value", "number/value"],
)
def test_number_on_the_left(student, op):
    """A Python number on the left of a Value (2 + a, 2.5 * a, ...): the reflected methods"""
    recipes = [one_op(op, x, const=c) for x, c in [(1.5, 2), (-0.5, 2.5), (3.0, -4)]]
    run(student, recipes, f"op {op}")


def test_negation(student):
    """-a"""
    run(student, [one_op("neg", x) for x in (2.0, -0.5)], "-a")


@pytest.mark.parametrize("n", [2, 3, -1, 0], ids=["2", "3", "-1", "0"])
def test_integer_powers(student, n):
    """a ** n for an integer n"""
    run(student, [one_op("pow", x, const=n) for x in (1.5, -2.0, 0.5)], f"a ** {n}")


@pytest.mark.parametrize("n", [0.5, 2.0, -1.5], ids=["0.5", "2.0", "-1.5"])
def test_float_powers(student, n):
    """a ** n for a float n"""
    run(student, [one_op("pow", x, const=n) for x in (1.5, 0.25, 4.0)], f"a ** {n}")


def test_relu(student):
    """relu() of positive and negative inputs"""
    run(student, [one_op("relu", x) for x in (1.5, -2.0, 0.3)], "a.relu()")


def test_relu_gradient_at_zero_is_zero(student):
    """relu() at exactly 0 has gradient 0, as in torch"""
    run(student, [one_op("relu", 0.0)], "a.relu() at a = 0")


@pytest.mark.parametrize("op", ["tanh", "exp", "sigmoid"])
def test_smooth_functions(student, op):
    """tanh(), exp() and sigmoid()"""
    run(student, [one_op(op, x) for x in (-2.0, -0.3, 0.0, 0.8, 3.0)], f"a.{op}()")


def test_log(student):
    """log() (the natural logarithm)"""
    run(student, [one_op("log", x) for x in (0.25, 1.0, 7.5)], "a.log()")


def test_backward_on_a_leaf(student):
    """backward() on a lone Value sets its grad to 1"""
    r = Recipe()
    r.leaf(4.0)
    run(student, [r.nodes], "Value(4.0).backward()")


def test_shared_subexpression(student):
    """A sub-expression used by two later nodes gets the sum of both gradients"""
    r = Recipe()
    a, b = r.leaf(1.5), r.leaf(-2.0)
    c = r.op("mul", a, b)  # used twice below
    d = r.op("add", c, a)
    e = r.op("mul", c, d)
    r.op("add", e, b)
    run_graph(student, r.nodes, "(a*b) * (a*b + a) + b")


@pytest.mark.points(2)
@pytest.mark.parametrize("case", range(2))
def test_random_graphs_of_add_mul_pow_relu(student, case):
    """Random graphs of +, *, ** and relu with shared nodes match torch"""
    run_graph(student, random_graph(100 + case, "core"), "random graph")


@pytest.mark.points(2)
def test_random_graph_of_arithmetic(student):
    """A random graph of + - * / ** and unary minus, numbers on either side, matches torch"""
    run_graph(student, random_graph(200, "arithmetic"), "random graph")


@pytest.mark.points(2)
def test_random_graph_of_every_operation(student):
    """A random graph using every operation (tanh, exp, log, sigmoid too) matches torch"""
    run_graph(student, random_graph(300, "all", ops=16), "random graph")


@pytest.mark.points(2)
@pytest.mark.timeout(60)
def test_ten_thousand_node_chain(student):
    """A chain of 10,000 nodes backpropagates without hitting the recursion limit"""
    length, factor, x0 = 10_000, 1.0001, 0.5
    got = student.scenario("chain", length=length, factor=factor, x0=x0, timeout=60)
    check_torch_calls(student, got["torch_calls"])
    if got.get("error"):
        err = got["error"]
        if err.get("type") == "RecursionError":
            raise Failure(
                f"backward() on a chain of {length:,} nodes raised RecursionError",
                RECURSION_HINT,
            )
        raise_error([["leaf", x0], ["mul_num", 0, factor]], err)
    checks.scalar_close(got["data"], x0 * factor ** (length - 1), "the chain's output", rtol=1e-9)
    checks.scalar_close(
        got["grad"],
        factor ** (length - 1),
        f"d(output)/d(input) of the {length:,}-node chain",
        rtol=1e-9,
    )
