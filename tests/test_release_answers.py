"""The answer audit: a function that is a solution under other names, literals or layout is
found and named; ordinary grader code is not; ``grade verify`` runs it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.instructor import audit, release, verify

SOLUTION = '''
import math
import torch


def given(x):
    """Code the stub keeps is not an answer."""
    total = 0.0
    for value in x:
        total = total + value * value
    return math.sqrt(total) + 1.0


def calculate_fans(shape):
    """doc"""
    # BEGIN SOLUTION
    if len(shape) < 2:
        raise ValueError("fan in and fan out need a weight with at least 2 dimensions")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive
    # END SOLUTION


class Engine:
    def norm(self, grads, p=2.0):
        # BEGIN SOLUTION
        flat = torch.cat([g.detach().flatten() for g in grads])
        total = torch.linalg.vector_norm(flat, p)
        scale = min(1.0, 1.0 / (float(total) + 1e-6))
        for g in grads:
            g.mul_(scale)
        return total
        # END SOLUTION


def add(a, b):
    # BEGIN SOLUTION
    return a + b
    # END SOLUTION
'''


@pytest.fixture
def answers(tmp_path) -> audit.Answers:
    (tmp_path / "solutions").mkdir()
    path = tmp_path / "solutions" / "ex42_demo.py"
    path.write_text(SOLUTION)
    return audit.Answers.of([path], tmp_path)


def found(answers: audit.Answers, code: str) -> list[str]:
    return [str(m) for m in answers.find(textwrap.dedent(code), "grader/helpers.py")]


def test_a_renamed_copy_with_other_literals_and_layout_is_an_answer(answers):
    code = """
    import torch as th

    def rescale(gs, order=3.0):
        '''A helper with its own docstring.'''
        v = th.cat(
            [t.detach().flatten() for t in gs]
        )
        n: float = th.linalg.vector_norm(v, order)
        k = min(2.0, 5.0 / (float(n) + 1e-3))  # other numbers
        for t in gs:
            t.mul_(k)
        return n
    """
    (match,) = found(answers, code)
    assert match == (
        "grader/helpers.py: function rescale (line 4) matches the answer Engine.norm in "
        "solutions/ex42_demo.py (line 25)"
    )


def test_the_answer_without_its_guard_clause_is_an_answer(answers):
    code = """
    import math

    def fans(s):
        r = math.prod(s[2:])
        return s[1] * r, s[0] * r
    """
    (match,) = found(answers, code)
    assert "function fans" in match and "calculate_fans" in match


def test_an_answer_inside_a_longer_function_is_found(answers):
    code = """
    import math

    class Helpers:
        def shapes(self, shape, log):
            log.append(len(shape))
            if len(shape) < 2:
                raise ValueError("too small")
            receptive = math.prod(shape[2:])
            return shape[1] * receptive, shape[0] * receptive
    """
    (match,) = found(answers, code)
    assert "function Helpers.shapes" in match


def test_short_bodies_given_code_and_other_code_are_not_answers(answers):
    code = """
    import math

    def plus(x, y):
        return x + y

    def norm2(xs):
        total = 0.0
        for value in xs:
            total = total + value * value
        return math.sqrt(total) + 1.0

    def describe(shape):
        parts = [str(s) for s in shape]
        return "x".join(parts) + f" ({len(shape)} dims)"
    """
    assert found(answers, code) == []


@pytest.mark.slow
def test_nothing_this_repository_would_ship_is_an_answer(root):
    """What `grade verify` checks: the files a release would copy, before building one."""
    assert release.audit_sources(root) == []


def test_verify_fails_loudly_on_a_leak_naming_file_and_function(monkeypatch):
    leak = "grader/judge/helpers.py: function rescale (line 4) matches the answer ..."
    monkeypatch.setattr(release, "audit_sources", lambda root, exercises: [leak])
    monkeypatch.setattr(verify, "verify", lambda root, exercises, opts, progress: [])
    result = CliRunner().invoke(main, ["verify", "-e", "3"])
    assert result.exit_code == 1, result.output
    assert f"release audit: {leak}" in result.output
    assert "PROBLEMS FOUND" in result.output


def test_the_moved_answer_helpers_are_answer_functions(root: Path):
    """Finite differences, the ex05 simulations, the ex06 loops, the ex08 derivatives and
    the ex10 formulas have no body in the grader package: they live in reference/support/."""
    from grader.judge import expectations, gradcheck
    from grader.suites.support import (
        ex02_mlp_backward,
        ex04_lr_schedules,
        ex05_optimizers,
        ex08_autograd_engine,
        ex10_weight_init,
    )
    from grader.suites.support.ex06_training_loop import results as ex06_results

    helpers = [
        gradcheck.central_difference,
        gradcheck.one_sided_difference,
        gradcheck.central_gradients,
        ex02_mlp_backward._relu_variants,
        ex04_lr_schedules.reference_schedule,
        ex05_optimizers.run_reference,
        ex05_optimizers.simulate,
        ex06_results.reference_epoch,
        ex06_results.reference_fit,
        ex06_results.reference_evaluate,
        ex08_autograd_engine.local_derivatives,
        ex10_weight_init.fans,
        ex10_weight_init.kaiming_std,
    ]
    for fn in helpers:
        assert isinstance(fn, expectations.AnswerFunction), fn
        assert (root / "reference" / Path(*fn.module.split("."))).with_suffix(".py").is_file()
