"""exercise-6 end to end: the solution, the stub and the reference graded; figure 6 asserted on
the solution and the reference; buggy loops graded, each hint asserted.

A buggy file may hold two bugs in *different* functions (or in parts of the loop that different
tests look at), so that one grading run checks two hints; every test selects only the suite
tests it needs.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import torch
from conftest import ROOT, SUBMISSIONS, by_id, failing, grade

from grader.suites.support.ex06_training_loop.events import HINTS
from grader.suites.support.ex06_training_loop.specs import figure6_spec
from grader.worker.scenarios.common.training import build
from reference import ex06_training_loop as ref

EXERCISE = "exercise-6"
EX06 = SUBMISSIONS / "ex06"
FIGURE = "public/test_fit_reproduces_figure_6"


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_ex06_{path.parent.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def solution_card():
    return grade(EXERCISE, ROOT / "solutions")


@pytest.mark.slow
def test_solution_gets_full_marks(solution_card):
    assert not failing(solution_card), [(t.id, t.message) for t in failing(solution_card)]
    assert solution_card.score == solution_card.max_score >= 45
    assert by_id(solution_card)[FIGURE].status == "passed"
    assert any(t.visibility == "hidden" for t in solution_card.tests)


@pytest.mark.slow
def test_stub_gets_zero_with_not_implemented_messages():
    card = grade(EXERCISE, ROOT / "exercises")
    assert card.score == 0 and card.max_score >= 45
    for t in failing(card):
        assert "not implemented yet" in t.message, (t.id, t.message)
        assert "Traceback" not in t.message


@pytest.mark.slow
def test_reference_passes_every_correctness_test():
    card = grade(EXERCISE, ROOT / "reference" / "ex06_training_loop.py")
    assert not failing(card), [(t.id, t.message) for t in failing(card)]
    assert by_id(card)[FIGURE].status == "passed"


@pytest.mark.parametrize("where", ["solutions", "reference"])
def test_figure_6_numbers(where):
    """fit on figure 6's data gives its epoch losses and learning rates (run here, directly)."""
    module = load(ROOT / where / "ex06_training_loop.py") if where == "solutions" else ref
    spec = figure6_spec()
    objs = build(spec)
    history = module.fit(
        objs["model"],
        objs["train"],
        objs["val"],
        objs["loss_fn"],
        objs["optimizer"],
        epochs=3,
        scheduler=objs["scheduler"],
        max_grad_norm=1.0,
    )
    assert [round(row["train_loss"], 4) for row in history] == [0.8517, 0.8307, 0.7130]
    assert [row["lr"] for row in history] == pytest.approx([0.4, 0.32, 0.256], rel=1e-12)
    assert [row["epoch"] for row in history] == [0, 1, 2]


def test_figure_6_clipping_positions_and_first_batch():
    """Clipping fires at E0B2 and E1B2 only (norms 1.8621, 1.5217); batch 0's loss is 0.5258."""
    spec = figure6_spec()
    objs = build(spec)
    model, opt = objs["model"], objs["optimizer"]
    norms = []
    for epoch in range(3):
        row = []
        for x, y in objs["train"]:
            opt.zero_grad()
            loss = objs["loss_fn"](model(x), y)
            if epoch == 0 and not row:
                assert round(loss.item(), 4) == 0.5258
            loss.backward()
            row.append(round(float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)), 4))
            opt.step()
        objs["scheduler"].step()
        norms.append(row)
    assert norms == [[0.8864, 0.9033, 1.8621], [0.3412, 0.7954, 1.5217], [0.5781, 0.3145, 0.3816]]


# -- buggy loops: file -> {suite test that must fail: words its hint must contain} --------------
BUGS = {
    "no_zero_grad_eval_mode_left.py": {
        "public/test_gradients_are_zeroed_every_step": HINTS["zero_grad"],
        "public/test_one_epoch_matches_the_reference_loop[cpu]": HINTS["zero_grad"],
        "public/test_evaluate_restores_the_previous_mode[from-train]": HINTS["eval_mode_left"],
    },
    "clip_before_backward_eval_tracks_grad.py": {
        "public/test_clipping_happens_between_backward_and_step": HINTS["clip_before_backward"],
        "public/test_evaluate_uses_eval_mode_without_gradients": HINTS["eval_grad"],
    },
    "clip_after_step_loss_tensors.py": {
        "public/test_clipping_happens_between_backward_and_step": HINTS["clip_after_step"],
        "public/test_losses_are_accumulated_as_floats": HINTS["loss_tensors"],
    },
    "scheduler_per_epoch.py": {
        "public/test_scheduler_steps_after_every_optimizer_step": HINTS["sched_per_epoch"],
    },
    "scheduler_per_step_in_fit.py": {
        "public/test_fit_history_rows": HINTS["sched_per_step"],
    },
}
# Tests each buggy file must still pass: the bug is where the hint says, not everywhere.
STILL_PASSING = {
    "no_zero_grad_eval_mode_left.py": "public/test_evaluate_matches_the_reference",
    "clip_before_backward_eval_tracks_grad.py": "public/test_returned_values_are_python_numbers",
    "clip_after_step_loss_tensors.py": "public/test_evaluate_matches_the_reference",
    "scheduler_per_epoch.py": "public/test_clipping",
    "scheduler_per_step_in_fit.py": "public/test_scheduler_steps_after_every_optimizer_step",
}


# What some failure messages must say: where it went wrong, expected vs got.
MESSAGES = {
    "public/test_gradients_are_zeroed_every_step": "epoch 0, optimizer step 1 (after batch 1): "
    "the gradients of the previous step were still there",
    "public/test_one_epoch_matches_the_reference_loop[cpu]": "after one epoch: expected",
    "public/test_clipping_happens_between_backward_and_step": "after backward() and",
    "public/test_scheduler_steps_after_every_optimizer_step": "got 1 scheduler steps",
}


def selection(name: str) -> str:
    tests = [*BUGS[name], STILL_PASSING[name]]
    names = {t.split("/", 1)[1].split("[", 1)[0].removeprefix("test_") for t in tests}
    return " or ".join(sorted(names))


@pytest.mark.parametrize("name", sorted(BUGS))
@pytest.mark.slow
def test_buggy_loop_fails_with_the_hint_that_names_the_bug(name):
    card = grade(EXERCISE, EX06 / name, public_only=True, select=selection(name))
    results = by_id(card)
    for test_id, hint in BUGS[name].items():
        result = results[test_id]
        assert result.status == "failed", (test_id, result.message)
        assert result.hint == hint, (test_id, result.message, result.hint)
        assert result.message and "Traceback" not in result.message
        assert MESSAGES.get(test_id, "") in result.message, (test_id, result.message)
    assert results[STILL_PASSING[name]].status == "passed", results[STILL_PASSING[name]]
