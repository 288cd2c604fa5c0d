"""Exercise 7 - checkpointing and resuming: public tests (these ship to students).

A resume is tested as it happens for real: your save_checkpoint runs in one process, and your
load_checkpoint in a new one that gets only the file's bytes. The grader compares what the new
process restores (parameters, optimizer and scheduler states, RNG draws) with its own
uninterrupted run, exactly.
"""

from typing import Any

import pytest
import torch

from grader.judge import checks
from grader.judge.failures import Failure
from grader.suites.support.ex07_checkpointing import (
    HINTS,
    check_atomic,
    check_resume,
    check_weights_only,
    diagnose_resume,
    make_spec,
    map_location_round_trip,
    optimizer_difference,
    resume,
    rng_round_trip,
    roundtrip,
    run,
    same,
    scheduler_difference,
)

STEP_LR = {"name": "step", "step_size": 3, "gamma": 0.5}


@pytest.mark.points(4)
def test_resume_is_bit_identical(student, seed):
    """4 epochs straight == 2 epochs + save + rebuild + load + 2 epochs, bit for bit"""
    spec = make_spec(seed, scheduler=STEP_LR)
    expected, loaded = resume(student, spec, epochs=4, split=2, seed=seed)
    check_resume(expected, loaded, epochs=4, split=2)


@pytest.mark.points(2)
def test_optimizer_state_is_restored(student, seed):
    """Adam's moments and step count come back exactly after loading"""
    spec = make_spec(seed, optimizer={"name": "adam", "lr": 0.01})
    expected, loaded = resume(student, spec, epochs=2, split=1, seed=seed)
    diff = optimizer_difference(expected["at_save"]["optimizer"], loaded["after_load"]["optimizer"])
    if diff is not None:
        evidence, hint = diagnose_resume(expected, loaded, split=1)
        raise Failure(evidence or diff, hint or HINTS["optimizer"])
    check_resume(expected, loaded, epochs=2, split=1)


@pytest.mark.points(2)
def test_scheduler_position_is_restored(student, seed):
    """The scheduler continues from the saved step, so the learning rate does not reset"""
    spec = make_spec(seed, scheduler={"name": "cosine", "T_max": 15, "eta_min": 0.001})
    expected, loaded = resume(student, spec, epochs=3, split=2, seed=seed)
    evidence = scheduler_difference(
        expected["at_save"]["scheduler"], loaded["after_load"]["scheduler"]
    )
    if evidence is not None:
        raise Failure(evidence, HINTS["scheduler"])
    straight = [lr for e in expected["straight"]["epochs"][2:] for lr in e["lrs"]]
    resumed = [lr for e in loaded["resumed"]["epochs"] for lr in e["lrs"]]
    if not same(resumed, straight):
        raise Failure(
            f"the learning rates after resume: expected {checks.fmt(straight)}, got "
            f"{checks.fmt(resumed)}",
            HINTS["scheduler"],
        )


@pytest.mark.points(2)
def test_checkpoint_loads_with_weights_only(student, seed):
    """The checkpoint loads with torch.load(weights_only=True): state_dicts and plain data"""
    data = run(student, "inspect", spec=make_spec(seed, scheduler=STEP_LR))
    check_weights_only(data)


def test_load_returns_epoch_best_val_loss_and_extra(student, seed):
    """load_checkpoint returns the saved epoch, best_val_loss and extra (model-only load)"""
    extra: dict[str, Any] = {
        "note": "warmup done",
        "step": 120,
        "history": [0.9, 0.7],
        "ema": torch.ones(3),
    }
    saved, data = roundtrip(student, make_spec(seed), seed=seed, best_val_loss=0.4375, extra=extra)
    info = data["info"]
    if not isinstance(info, dict):
        raise Failure(f"load_checkpoint should return a dict, got {checks.fmt(info)}")
    for key in ("epoch", "best_val_loss", "extra"):
        if key not in info:
            raise Failure(f"load_checkpoint's result has no {key!r} key (got {sorted(info)})")
    checks.equal(info["epoch"], 7, "the returned epoch")
    checks.scalar_close(info["best_val_loss"], 0.4375, "the returned best_val_loss")
    got_extra = info["extra"]
    if not isinstance(got_extra, dict) or sorted(got_extra) != sorted(extra):
        raise Failure(f"the returned extra: expected {extra}, got {checks.fmt(got_extra)}")
    checks.equal(got_extra["note"], "warmup done", "extra['note']")
    checks.equal(got_extra["step"], 120, "extra['step']")
    checks.equal(list(got_extra["history"]), [0.9, 0.7], "extra['history']")
    checks.close(got_extra["ema"], extra["ema"], "extra['ema']")
    for name, value in saved.items():
        if not same(data["loaded"].get(name), value):
            raise Failure(
                f"parameter {name} of a fresh model differs from the saved one after a load "
                "given only the model",
                HINTS["model"],
            )


@pytest.mark.points(2)
def test_rng_states_are_restored(student, seed):
    """Loading restores torch's, Python's and NumPy's random number generators"""
    expected, data = rng_round_trip(student, make_spec(seed), seed)
    hints = {
        "torch": HINTS["rng_torch_state"],
        "python": HINTS["rng_python"],
        "numpy": HINTS["rng_numpy"],
    }
    for name, hint in hints.items():
        want, got = expected["at_save"][name], data["restored"][name]
        if not same(got, want):
            raise Failure(
                f"after load_checkpoint, {name}'s generator gave {checks.fmt(got)}; the state "
                f"saved in the checkpoint gives {checks.fmt(want)}",
                hint,
            )


def test_restore_rng_false_leaves_the_generators_alone(student, seed):
    """With restore_rng=False, load_checkpoint leaves every random number generator alone"""
    expected, data = rng_round_trip(student, make_spec(seed), seed)
    for name in ("torch", "python", "numpy"):
        if not same(data["untouched"][name], expected["untouched"][name]):
            raise Failure(
                f"with restore_rng=False, {name}'s generator was changed by load_checkpoint",
                "restore the RNG states only when restore_rng is True",
            )


@pytest.mark.points(2)
def test_malicious_checkpoint_is_refused(student, seed):
    """A checkpoint whose unpickling would run code is refused, and the code never runs"""
    data = run(student, "malicious", spec=make_spec(seed), force_env=False)
    if data["code_ran"]:
        raise Failure(
            "loading a crafted checkpoint ran the code hidden in it (it created a directory)",
            HINTS["weights_only"],
        )
    if not data["raised"]:
        raise Failure(
            "load_checkpoint returned normally from a checkpoint that weights_only loading refuses",
            "let torch.load's error propagate: the caller must know nothing was loaded",
        )


@pytest.mark.points(2)
def test_failed_save_keeps_the_previous_checkpoint(student, seed):
    """A save that fails part-way (disk full) leaves the previous checkpoint loadable"""
    spec = make_spec(seed)
    data = run(student, "atomic_save", spec=spec, saves=1, blob=200_000)
    check_atomic(student, spec, data, saves=1)


def test_saves_leave_only_the_checkpoint(student, seed):
    """Three successful saves leave exactly one file: the checkpoint"""
    data = run(student, "atomic_save", spec=make_spec(seed), saves=3, blob=200_000)
    if data["files_after_good"] != ["checkpoint.pt"]:
        raise Failure(
            f"after 3 saves the folder holds {data['files_after_good']}, expected only "
            "['checkpoint.pt']",
            "rename the temporary file onto path with os.replace (don't copy it)",
        )


@pytest.mark.devices("cuda")  # a CUDA checkpoint needs a GPU to be written
def test_cuda_checkpoint_loads_on_cpu(student, device, seed):
    """A checkpoint saved from a GPU model loads into a CPU model with map_location='cpu'"""
    expected, data = map_location_round_trip(student, make_spec(seed))
    if data["devices"] != ["cpu"]:
        raise Failure(f"the CPU model's parameters ended up on {data['devices']}")
    for name, saved in expected.items():
        if not same(data["loaded"].get(name), saved):
            raise Failure(f"parameter {name} differs after loading with map_location='cpu'")
