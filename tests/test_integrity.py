"""What a student may use is decided by the judge, and no measurement the student can reach
raises a score: one real submission per attack class, graded end to end.

Each attack is graded twice where it matters: as the CLI grades it (the judge's source audit
decides first) and with the audit switched off (``audit=False``), to show that the layer
behind it -- traps, pristine inputs, judge-side needs, the judge's clock -- holds on its own.
Each file earns what its honest part earns and no more.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
import torch

from grader.judge import exercises
from grader.judge.audit import unresolved_forbidden
from tests.conftest import ROOT, SUBMISSIONS, by_id, grade

pytestmark = pytest.mark.slow  # every test here grades end to end

INTEGRITY = SUBMISSIONS / "integrity"
FEW = "worked_example_l2 or value_clamps"
NORM = "public/test_worked_example_l2[cpu]"
VALUE = "public/test_clip_grad_value_clamps_each_entry[cpu]"


def test_silencing_the_guard_at_import_earns_nothing():
    card = grade("exercise-3", INTEGRITY / "silence_guard.py", select=FEW)
    assert card.score == 0 and all(t.voided_by == "audit" for t in card.tests)
    assert card.integrity is not None
    assert any("grader" in f.code for f in card.integrity.findings)
    behind = by_id(grade("exercise-3", INTEGRITY / "silence_guard.py", select=FEW, audit=False))
    # the trap refuses the plain call even though the guard's recording was patched away
    assert behind[NORM].status == "failed" and "not allowed" in behind[NORM].message
    assert behind[VALUE].status == "passed"  # the honest part


def test_walking_frames_to_the_harness_switch_is_refused():
    tests = by_id(grade("exercise-3", INTEGRITY / "frame_walk.py", select=FEW))
    assert tests[NORM].voided_by == "audit" and "_getframe" in tests[NORM].message
    assert tests[VALUE].status == "passed"
    behind = by_id(grade("exercise-3", INTEGRITY / "frame_walk.py", select=FEW, audit=False))
    assert behind[NORM].status == "failed"  # inside 'unguarded', the trap still refuses


def test_a_forged_scenario_registry_cannot_report_a_scenario_that_could_not_run():
    select = "epoch and not accumulation"
    card = grade("exercise-6", INTEGRITY / "forge_registry.py", select=select, public_only=True)
    assert card.tests and card.score == 0
    behind = grade(
        "exercise-6", INTEGRITY / "forge_registry.py", select=select, public_only=True, audit=False
    )
    assert behind.tests and behind.score == 0
    # the worker reports the forged scenario ran; the judge knows from the source it could not
    # ("epoch" also selects fit's tests: -k matches the titles the report shows)
    assert all(f"does not define {fn}" in t.message for t in behind.tests for fn in t.functions), [
        t.message for t in behind.tests
    ]


def test_a_helper_thread_started_at_import_does_nothing_useful():
    card = grade("exercise-3", INTEGRITY / "thread_at_import.py", select=FEW)
    assert card.score == 0 and all(t.voided_by == "audit" for t in card.tests)
    behind = by_id(grade("exercise-3", INTEGRITY / "thread_at_import.py", select=FEW, audit=False))
    assert behind[NORM].status == "failed" and "not allowed" in behind[NORM].message
    assert behind[VALUE].status == "passed"


def test_writing_into_the_inputs_cannot_make_the_expected_values_trivial():
    card = grade("exercise-1", SUBMISSIONS / "ex01" / "zero_the_inputs.py")
    assert card.score == 0  # it used to earn 49/82 with nothing computed
    assert card.integrity is not None and card.integrity.findings == []


def test_the_speed_check_cannot_be_told_from_an_ordinary_call():
    select = "worked_example_l2 or speed"
    card = grade("exercise-3", INTEGRITY / "gc_detects_timing.py", select=select)
    assert card.score == 0 and all(t.voided_by == "audit" for t in card.tests)
    behind = by_id(
        grade("exercise-3", INTEGRITY / "gc_detects_timing.py", select=select, audit=False)
    )
    # the garbage collector is never switched off to measure, so the slow loop runs every time:
    # correct (its points), slow (no speed points), never the built-in (nothing voided)
    assert behind[NORM].status == "passed"
    speed = behind["hidden/test_speed_close_to_torch"]
    assert speed.status == "failed" and "slower" in speed.message and speed.voided_by is None


def test_calling_the_graphs_grad_fn_nodes_by_hand_is_voided():
    tests = by_id(grade("exercise-1", INTEGRITY / "grad_fn_by_hand.py", select="figure1"))
    gradients = [t for t in tests.values() if "mse_gradients" in t.functions]
    assert gradients and all(t.voided_by == "audit" for t in gradients)
    assert all("grad_fn" in t.message or "next_functions" in t.message for t in gradients)
    honest = [t for t in tests.values() if set(t.functions) <= {"predict", "mse_loss"}]
    assert honest and all(t.status == "passed" for t in honest)


def _torch_copy(tmp: Path, padding: str = "") -> Path:
    """torch's own clip_grad.py, verbatim, as the student's file (plus the course's names)."""
    source = inspect.getsource(torch.nn.utils.clip_grad)
    path = tmp / "ex03_gradient_clipping.py"
    path.write_text(
        padding
        + source
        + "\n\ndef clip_grad_norm(parameters, max_norm, norm_type=2.0):\n"
        + "    return clip_grad_norm_(parameters, max_norm, norm_type)\n"
        + "\n\ndef clip_grad_value(parameters, clip_value):\n"
        + "    clip_grad_value_(parameters, clip_value)\n"
    )
    return path


def test_a_verbatim_copy_of_torchs_code_is_judged_on_what_it_uses_not_on_line_numbers(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    plain, padded = _torch_copy(tmp_path / "a"), _torch_copy(tmp_path / "b", "\n\n")
    card = grade("exercise-3", plain, select=FEW)
    assert card.score == 0 and all(t.voided_by == "audit" for t in card.tests)
    assert card.integrity is not None
    assert any(f.rule == "private" for f in card.integrity.findings)
    # behind the audit, the runtime guard matches code by identity: a copy compiled from the
    # student's file is the student's code, with or without an extra blank line
    for path in (plain, padded):
        behind = grade("exercise-3", path, select=FEW, audit=False)
        assert behind.score == behind.max_score > 0, [t.message for t in behind.tests]


def test_an_optimizer_using_torchs_step_decorator_is_not_taken_for_torchs(tmp_path):
    text = (ROOT / "solutions" / "ex05_optimizers.py").read_text()
    head, rms = text.split("class RMSprop(Optimizer):", 1)
    rms = rms.replace(
        'defaults = {"lr": lr, "alpha": alpha, "eps": eps, "momentum": momentum}',
        'defaults = {"lr": lr, "alpha": alpha, "eps": eps, "momentum": momentum, '
        '"differentiable": False}',
    ).replace("    def step(", "    @_use_grad_for_differentiable\n    def step(", 1)
    assert "@_use_grad_for_differentiable" in rms and '"differentiable"' in rms
    path = tmp_path / "ex05_optimizers.py"
    future = "from __future__ import annotations\n"
    head = head.replace(
        future, future + "from torch.optim.optimizer import _use_grad_for_differentiable\n", 1
    )
    path.write_text(head + "class RMSprop(Optimizer):" + rms)
    card = grade("exercise-5", path, select="rmsprop", public_only=True, audit=False)
    assert card.tests and all(t.status == "passed" for t in card.tests), [
        (t.id, t.message) for t in card.tests if t.status != "passed"
    ]
    audited = grade("exercise-5", path, select="rmsprop", public_only=True)
    assert audited.integrity is not None
    assert all(t.voided_by == "audit" and "private" in t.message for t in audited.tests)


def test_every_forbidden_entry_names_something_and_a_misspelling_is_caught():
    for ex in exercises.all_exercises():
        assert unresolved_forbidden(ex) == [], ex.id
    ex = exercises.find("exercise-3")
    typo = dataclasses.replace(ex, forbidden=(*ex.forbidden, "torch.nn.utils.clip_grad_norm__"))
    assert unresolved_forbidden(typo) == ["torch.nn.utils.clip_grad_norm__"]
