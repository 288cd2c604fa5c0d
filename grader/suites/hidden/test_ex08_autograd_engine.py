"""Exercise 8 - a scalar autograd engine: hidden tests (graphs drawn from the grade-time seed)."""

import random

import pytest

from grader.suites.support.ex08_autograd_engine import Recipe, random_graph, run, run_graph


@pytest.mark.points(2)
@pytest.mark.parametrize("case", range(3))
def test_random_graphs_of_add_mul_pow_relu(student, seed, case):
    """Random graphs of +, *, ** and relu (micrograd's own operations) match torch"""
    nodes = random_graph(seed + case, "core", leaves=4, ops=20)
    run_graph(student, nodes, "random graph")


@pytest.mark.points(2)
@pytest.mark.parametrize("case", range(3))
def test_random_graphs_of_arithmetic(student, seed, case):
    """Random graphs of + - * / ** and unary minus with numbers on either side match torch"""
    nodes = random_graph(seed + 10 + case, "arithmetic", leaves=4, ops=20)
    run_graph(student, nodes, "random graph")


@pytest.mark.points(2)
@pytest.mark.parametrize("case", range(3))
def test_random_graphs_of_every_operation(student, seed, case):
    """Random graphs using every operation match torch"""
    nodes = random_graph(seed + 20 + case, "all", leaves=4, ops=25)
    run_graph(student, nodes, "random graph")


@pytest.mark.points(2)
def test_large_random_graph(student, seed):
    """A random graph of 150 operations over 8 inputs matches torch"""
    run_graph(student, random_graph(seed + 30, "all", leaves=8, ops=150), "random graph")


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_same_value_on_both_sides(student, op):
    """An operation whose two operands are the same Value (a + a, a - a, a * a, a / a)"""
    recipes = []
    for x in (1.5, -0.75):
        r = Recipe()
        a = r.leaf(x)
        r.op(op, a, a)
        recipes.append(r.nodes)
    run(student, recipes, f"a {op} a")


def test_wide_fan_out(student, seed):
    """One Value feeding 25 different nodes gets the sum of all 25 gradients"""
    rng = random.Random(seed)
    r = Recipe()
    x = r.leaf(round(rng.uniform(0.5, 1.5), 3))
    total = r.op("mul_num", x, 1.0)
    for _ in range(25):
        total = r.op("add", total, r.op("mul_num", x, round(rng.uniform(-2, 2), 2)))
    run_graph(student, r.nodes, "a sum of 25 multiples of one Value")


@pytest.mark.points(2)
def test_deep_diamonds(student):
    """40 stacked diamonds (v -> v*0.5 and v+1 -> their product) match torch"""
    r = Recipe()
    v = r.leaf(0.3)
    for _ in range(40):
        v = r.op("mul", r.op("mul_num", v, 0.5), r.op("add_num", v, 1))
    run_graph(student, r.nodes, "v = (v * 0.5) * (v + 1), 40 times")


def test_constants_do_not_need_gradients(student):
    """Python numbers in an expression are constants: only the Values get gradients"""
    r = Recipe()
    a = r.leaf(2.0)
    b = r.op("rmul_num", a, 3)
    c = r.op("add_num", b, 1.5)
    r.op("mul", c, a)
    run(student, [r.nodes], "(3 * a + 1.5) * a")
