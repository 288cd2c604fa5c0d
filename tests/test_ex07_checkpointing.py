"""exercise-7 end to end: the solution, the stub and the reference graded; buggy checkpoint code
graded, each hint asserted (with the evidence the message gives); a checkpoint that holds
nothing, its state stashed in memory, graded with and without the judge's source audit; the
solution checked here directly for what the sandboxed suite cannot see from outside."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest
import torch
from conftest import ROOT, SUBMISSIONS, by_id, failing, grade

from grader.suites.support.ex07_checkpointing import HINTS

EXERCISE = "exercise-7"
EX07 = SUBMISSIONS / "ex07"


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_ex07_{path.parent.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_solution_gets_full_marks():
    card = grade(EXERCISE, ROOT / "solutions")
    assert not failing(card), [(t.id, t.message) for t in failing(card)]
    assert card.score == card.max_score >= 30
    assert by_id(card)["public/test_resume_is_bit_identical"].status == "passed"


@pytest.mark.slow
def test_stub_gets_zero_with_not_implemented_messages():
    card = grade(EXERCISE, ROOT / "exercises")
    assert card.score == 0 and card.max_score >= 30
    for t in failing(card):
        assert "not implemented yet" in t.message, (t.id, t.message)


@pytest.mark.slow
def test_reference_passes_every_correctness_test():
    card = grade(EXERCISE, ROOT / "reference" / "ex07_checkpointing.py")
    assert not failing(card), [(t.id, t.message) for t in failing(card)]


# file -> {suite test that must fail: (its hint, words its message must contain)}
BUGS = {
    "rng_not_restored.py": {
        "public/test_resume_is_bit_identical": (HINTS["rng_order"], "saw the samples in the order"),
        "public/test_rng_states_are_restored": (HINTS["rng_torch_state"], "torch's generator gave"),
    },
    "only_model_restored.py": {
        "public/test_optimizer_state_is_restored": (
            HINTS["optimizer"],
            "the first epoch after resume had mean loss",
        ),
        "public/test_scheduler_position_is_restored": (
            HINTS["scheduler"],
            "after loading, the scheduler is at step 0",
        ),
    },
    "numpy_state_raw.py": {
        "public/test_checkpoint_loads_with_weights_only": (
            HINTS["numpy_pickle"],
            "numpy._core.multiarray._reconstruct",
        ),
        "public/test_resume_is_bit_identical": (HINTS["numpy_pickle"], "UnpicklingError"),
    },
    "in_place_save_unsafe_load.py": {
        "public/test_malicious_checkpoint_is_refused": (HINTS["weights_only"], "ran the code"),
        "public/test_failed_save_keeps_the_previous_checkpoint": (
            HINTS["atomic"],
            "the previous checkpoint no longer loads",
        ),
    },
}
# The judge's source audit also voids every test of a load_checkpoint that unpickles without
# weights_only=True, with its own message: these files are graded without it, so that what is
# asserted is the suite's own diagnosis of the bug.
AUDIT_OFF = {"in_place_save_unsafe_load.py"}
STILL_PASSING = {
    "rng_not_restored.py": "public/test_scheduler_position_is_restored",
    "only_model_restored.py": "public/test_load_returns_epoch_best_val_loss_and_extra",
    "numpy_state_raw.py": "public/test_malicious_checkpoint_is_refused",
    "in_place_save_unsafe_load.py": "public/test_load_returns_epoch_best_val_loss_and_extra",
}


def selection(name: str) -> str:
    tests = [*BUGS[name], STILL_PASSING[name]]
    return " or ".join(sorted(t.split("/", 1)[1].removeprefix("test_") for t in tests))


@pytest.mark.parametrize("name", sorted(BUGS))
@pytest.mark.slow
def test_buggy_checkpoint_code_fails_with_the_hint_that_names_the_bug(name):
    card = grade(
        EXERCISE,
        EX07 / name,
        public_only=True,
        select=selection(name),
        check_forbidden=name not in AUDIT_OFF,
    )
    results = by_id(card)
    for test_id, (hint, words) in BUGS[name].items():
        result = results[test_id]
        assert result.status == "failed", (test_id, result.message)
        assert result.hint == hint, (test_id, result.message, result.hint)
        assert words in result.message, (test_id, result.message)
    assert results[STILL_PASSING[name]].status == "passed", results[STILL_PASSING[name]]


# Every test that loads a checkpoint it saved: the load runs in a fresh worker.
ROUND_TRIPS = {
    "public/test_resume_is_bit_identical",
    "public/test_optimizer_state_is_restored",
    "public/test_scheduler_position_is_restored",
    "public/test_load_returns_epoch_best_val_loss_and_extra",
    "public/test_rng_states_are_restored",
    "public/test_restore_rng_false_leaves_the_generators_alone",
    "public/test_failed_save_keeps_the_previous_checkpoint",
    "hidden/test_resume_with_adam_cosine_clipping_and_numpy_randomness",
    "hidden/test_resume_at_a_random_epoch[0]",
    "hidden/test_resume_at_a_random_epoch[1]",
    "hidden/test_path_may_be_a_pathlike",
}
# What stash_on_builtins.py does pass without the audit: tests that never load what it saved
# (an empty checkpoint does load with weights_only=True; a crafted one is refused, since the
# stash has no entry for it; three saves leave one file).
NEVER_LOADS_WHAT_IT_SAVED = {
    "public/test_checkpoint_loads_with_weights_only",
    "public/test_malicious_checkpoint_is_refused",
    "public/test_saves_leave_only_the_checkpoint",
    "hidden/test_malicious_checkpoint_refused_whatever_the_environment",
    "hidden/test_checkpoint_with_adam_and_cosine_loads_with_weights_only",
}


@pytest.mark.slow
def test_state_stashed_in_memory_earns_nothing_for_a_resume():
    """Audit off, so that only the fresh worker stands in the way: a save/load round trip in
    one process would restore everything from the stash, but the load runs in a new process,
    where there is no stash and the file holds nothing."""
    card = grade(EXERCISE, EX07 / "stash_on_builtins.py", check_forbidden=False)
    results = by_id(card)
    for test_id in ROUND_TRIPS:
        result = results[test_id]
        assert result.status == "failed" and result.score == 0, (test_id, result.message)
        assert result.voided_by is None, (test_id, result.message)
        if test_id != "public/test_failed_save_keeps_the_previous_checkpoint":
            assert "raised KeyError" in result.message, (test_id, result.message)  # no stash
    passed = {t.id for t in card.tests if t.status == "passed"}
    assert passed == NEVER_LOADS_WHAT_IT_SAVED, passed
    assert card.score == sum(results[t].max_score for t in NEVER_LOADS_WHAT_IT_SAVED)


@pytest.mark.slow
def test_state_stashed_on_builtins_is_voided_by_the_audit():
    """With the audit (the default), reaching builtins voids every test of both functions."""
    card = grade(
        EXERCISE,
        EX07 / "stash_on_builtins.py",
        public_only=True,
        select="resume_is_bit_identical or loads_with_weights_only",
    )
    assert card.score == 0 and len(card.tests) == 2
    for result in card.tests:
        assert result.voided_by == "audit", (result.id, result.message)
        assert "builtins" in result.message, (result.id, result.message)


def test_solution_save_is_atomic_and_loads_weights_only(tmp_path: Path):
    """Directly: the solution's file loads with weights_only=True and a failing save cleans up."""
    solution = load(ROOT / "solutions" / "ex07_checkpointing.py")
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    path = tmp_path / "ckpt.pt"
    solution.save_checkpoint(path, model=model, optimizer=opt, epoch=1)
    loaded = torch.load(path, weights_only=True)
    assert loaded["epoch"] == 1

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("cannot be saved")

    with pytest.raises(RuntimeError, match="cannot be saved"):
        solution.save_checkpoint(
            path, model=model, optimizer=opt, epoch=2, extra={"bad": Unpicklable()}
        )
    assert os.listdir(tmp_path) == ["ckpt.pt"]
    assert torch.load(path, weights_only=True)["epoch"] == 1


def test_comparisons_are_exact_except_in_a_release(monkeypatch):
    """The judge's straight run is compared bit for bit; a student release, whose recorded runs
    were computed on another machine, allows float64 rounding and nothing more."""
    from grader.suites.support import ex07_checkpointing as support

    a = torch.tensor([0.25, -1.5, 3.0], dtype=torch.float64)
    b = torch.nextafter(a, torch.full_like(a, 10.0))  # one ulp up
    assert support.same({"w": [a, 0.5]}, {"w": [a.clone(), 0.5]})
    assert not support.same(a, b)
    assert not support.same(a, a.float())
    monkeypatch.setattr(support, "in_release", lambda: True)
    assert support.same({"w": [a, 0.1 + 0.2]}, {"w": [b, 0.3]})
    assert not support.same(a, a + 1e-6)
    assert not support.same([1, 2], [2, 1])
