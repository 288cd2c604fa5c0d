"""exercise-4 graded end to end: solution, stub, reference, buggy and cheating submissions."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from conftest import ROOT, SUBMISSIONS, by_id, failing, grade

from grader.judge import exercises, runner
from grader.judge.scorecard import Scorecard

EX = "exercise-4"
BUGGY = SUBMISSIONS / "ex04"
BEHIND = "runs one step behind torch's"
AHEAD = "runs one step ahead of torch's"
FIRST_GROUP = "only the first param group follows the schedule"


def grade_without_forbidden(path: Path) -> Scorecard:
    """Grade with no forbidden names: the reference *is* torch's schedulers."""
    ex = dataclasses.replace(exercises.find(EX), forbidden=())
    opts = runner.Options(device="cpu", seed=1234, isolation="auto", check_forbidden=False)
    return runner.grade(runner.prepare(ex, path, opts), opts)


@pytest.fixture(scope="module")
def solution() -> Scorecard:
    return grade(EX, ROOT / "solutions")


@pytest.mark.slow
def test_solution_gets_full_marks(solution):
    assert failing(solution) == []
    assert solution.score == solution.max_score > 0
    assert any(t.visibility == "hidden" for t in solution.tests)


@pytest.mark.slow
def test_stub_gets_zero_with_not_implemented(root):
    card = grade(EX, root / "exercises" / "ex04_lr_schedules.py", public_only=True)
    assert card.score == 0 and card.max_score > 0
    assert all("not implemented yet" in t.message for t in card.tests), [
        t.message for t in card.tests if "not implemented yet" not in t.message
    ]


@pytest.mark.slow
def test_reference_passes_the_correctness_tests(root, solution):
    card = grade_without_forbidden(root / "reference" / "ex04_lr_schedules.py")
    assert failing(card) == []
    assert card.max_score == solution.max_score


@pytest.mark.slow
def test_schedulers_that_lag_one_step_get_the_off_by_one_hint():
    card = grade(
        EX,
        BUGGY / "off_by_one.py",
        select="scheduler_matches_torch or construction_sets or cosine_annealing_matches_torch",
        public_only=True,
    )
    tests = by_id(card)
    for cls in ("StepDecayLR", "CosineAnnealingLR", "WarmupCosineLR"):
        t = tests[f"public/test_scheduler_matches_torch[{cls}]"]
        assert t.status == "failed" and BEHIND in t.hint, (t.message, t.hint)
        assert f"{cls}: param group 0" in t.message
    t = tests["public/test_construction_sets_the_warmup_start_lr"]
    assert "right after construction (step 0): expected lr 0.05, got 0.5" in t.message
    assert "constructor left the lr unchanged" in t.hint
    for case in ("T20", "T17-min_lr", "T1"):
        t = tests[f"public/test_cosine_annealing_matches_torch[{case}]"]
        assert t.status == "failed" and AHEAD in t.hint, (t.message, t.hint)
        assert "at step 0: expected" in t.message


@pytest.mark.slow
def test_param_group_mistakes_and_a_forgotten_step_get_their_hints():
    card = grade(
        EX,
        BUGGY / "group_mistakes_and_forgotten_step.py",
        select="own_lr or get_last_lr or state_dict",
        public_only=True,
    )
    tests = by_id(card)
    for cls in ("StepDecayLR", "CosineAnnealingLR"):
        t = tests[f"public/test_each_param_group_is_scheduled_from_its_own_lr[{cls}]"]
        assert t.status == "failed" and FIRST_GROUP in t.hint, (t.message, t.hint)
        assert "param group 1" in t.message
    own = "public/test_each_param_group_is_scheduled_from_its_own_lr[WarmupCosineLR]"
    assert tests[own].status == "passed"
    t = tests["public/test_get_last_lr_lists_every_group[WarmupCosineLR]"]
    assert "expected 2 learning rates (one per param group), got 1" in t.message
    assert "get_last_lr() lists only the first param group" in t.hint
    t = tests["public/test_state_dict_resumes_the_schedule[WarmupCosineLR]"]
    assert t.status == "failed" and "after loading the state dicts saved at step" in t.message
    assert "started over from step 0" in t.hint, (t.message, t.hint)


@pytest.mark.slow
def test_torch_schedulers_in_disguise_void_only_the_names_that_used_them():
    card = grade(
        EX,
        BUGGY / "cheat_torch_schedulers.py",
        select="step_decay_matches_torch or scheduler_matches_torch",
        public_only=True,
        audit=False,  # the runtime guard, on its own (the audit has its own tests)
    )
    tests = by_id(card)
    for case in ("every-step", "step30", "step4"):
        t = tests[f"public/test_step_decay_matches_torch[{case}]"]
        assert t.status == "failed"
        assert "step_decay called torch.optim.lr_scheduler.StepLR" in t.message
    t = tests["public/test_scheduler_matches_torch[WarmupCosineLR]"]
    assert t.status == "failed" and "WarmupCosineLR called torch.optim.lr_scheduler" in t.message
    for cls in ("StepDecayLR", "CosineAnnealingLR"):
        assert tests[f"public/test_scheduler_matches_torch[{cls}]"].status == "passed"


def test_forbidden_names_exist_and_the_base_class_stays_allowed():
    """Every forbidden dotted name resolves (so the worker watches it); LRScheduler is allowed."""
    from torch.optim.lr_scheduler import LRScheduler

    from grader.worker.guards import resolve

    forbidden = exercises.find(EX).forbidden
    assert all(resolve(dotted) is not None for dotted in forbidden)
    assert LRScheduler not in [resolve(dotted) for dotted in forbidden]
