"""Exercise 10 (weight initialization): grade real submissions; check the statistics' design."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest
import torch

from grader.judge import exercises, runner
from grader.judge.failures import Failure
from grader.suites.support import ex10_weight_init as support
from tests.conftest import ROOT, SUBMISSIONS, by_id, failing, grade

EX = "exercise-10"
SUBS = SUBMISSIONS / "ex10"


@pytest.mark.slow
def test_solution_gets_full_marks_within_the_check_budget():
    before = support.CHECKS_MADE[0]
    card = grade(EX, ROOT / "solutions")
    assert failing(card) == [], [(t.id, t.message) for t in failing(card)]
    assert card.score == card.max_score > 0
    made = support.CHECKS_MADE[0] - before
    assert 0 < made <= support.MAX_CHECKS_PER_RUN  # so a run fails < MAX * 1e-9 of the time


@pytest.mark.slow
def test_stub_scores_zero_with_not_implemented_messages():
    card = grade(EX, ROOT / "exercises" / "ex10_weight_init.py", public_only=True)
    assert card.score == 0
    for t in card.tests:
        assert "not implemented yet" in t.message, (t.id, t.message)


@pytest.mark.slow
def test_reference_passes_the_correctness_tests():
    """torch.nn.init itself, graded without the forbidden list."""
    ex = dataclasses.replace(exercises.find(EX), forbidden=())
    opts = runner.Options(device="cpu", seed=7, visibilities=("public",), check_forbidden=False)
    card = runner.grade(runner.prepare(ex, ROOT / "reference" / "ex10_weight_init.py", opts), opts)
    assert failing(card) == [], [(t.id, t.message) for t in failing(card)]


@pytest.mark.slow
def test_classic_mistakes_get_their_hints():
    card = grade(EX, SUBS / "wrong_inits.py", select="xavier_uniform or xavier_normal or defaults")
    tests = by_id(card)
    assert "look normally distributed" in tests["public/test_xavier_uniform"].hint
    assert "look uniformly distributed" in tests["public/test_xavier_normal"].hint
    swapped = tests["public/test_kaiming_uniform[cpu-defaults]"]
    assert "fan_in and fan_out are swapped" in swapped.hint
    assert "the gain is missing" in tests["public/test_kaiming_normal[cpu-defaults]"].hint


@pytest.mark.slow
def test_torch_nn_init_is_voided():
    card = grade(EX, SUBS / "uses_nn_init.py", select="init_mlp or kaiming_normal", audit=False)
    tests = by_id(card)
    mlp = tests["public/test_init_mlp"]
    assert mlp.score == 0 and "init_mlp_ called torch.nn.init.zeros_" in mlp.message
    assert tests["public/test_kaiming_normal[cpu-defaults]"].status == "passed"


# -- the statistics themselves (no grading) -----------------------------------------------------
def _hidden_shapes() -> set[tuple[int, ...]]:
    return {support.random_shape(random.Random(s)) for s in range(3000)}


def test_swapped_fans_and_missing_gain_are_always_distinguishable():
    """Every shape and gain the suites use puts the wrong variance far outside the limits."""
    shapes = {(256, 64), (32, 16, 3, 3), (64, 256), (128, 512)} | _hidden_shapes()
    gains = [math.sqrt(2), 5 / 3, 0.5, 3.0, support.gain("leaky_relu", 0.2)]
    gains += [support.gain("leaky_relu", a) for a in (0.0, 0.1, 0.3)]
    for shape in shapes:
        n = math.prod(shape)
        assert n >= 4096
        fan_in, fan_out = support.fans(shape)
        for uniform in (True, False):
            for g in gains:
                sigma = g / math.sqrt(fan_in)
                assert support.distinguishable(n, sigma, g / math.sqrt(fan_out), uniform)
                assert support.distinguishable(n, sigma, 1 / math.sqrt(fan_in), uniform)
        # uniform-for-normal: the tail limit stays well above 0
        assert support.Limits(n, 1.0, False).min_tail_fraction > 0.03


def test_false_failure_rate_is_below_one_in_a_million_per_run():
    assert support.MAX_CHECKS_PER_RUN * support.ALPHA < 1e-6


def test_correct_draws_pass_and_the_limits_are_not_loose():
    """Two hundred correct draws pass; the same draws with a 25% larger std fail."""
    gen_seed = 0
    for shape in [(256, 64), (64, 64)]:
        for uniform in (True, False):
            sigma = math.sqrt(2 / shape[1])
            for _ in range(50):
                gen_seed += 1
                torch.manual_seed(gen_seed)
                t = torch.empty(shape)
                if uniform:
                    a = math.sqrt(3) * sigma
                    t.uniform_(-a, a)
                else:
                    t.normal_(0, sigma)
                support.check_distribution(t, sigma, uniform=uniform, what="draw")
                with pytest.raises(Failure):
                    support.check_distribution(t * 1.25, sigma, uniform=uniform, what="draw")
