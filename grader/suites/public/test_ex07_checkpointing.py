"""Exercise 7 - checkpointing and resuming: public tests (these ship to students).

Every checkpoint your code writes is read only inside the sandboxed worker; the grader compares
what the worker reports (parameters, optimizer and scheduler states, RNG draws) exactly.
"""

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
    optimizer_difference,
    run,
    scheduler_difference,
)

STEP_LR = {"name": "step", "step_size": 3, "gamma": 0.5}


@pytest.mark.points(4)
def test_resume_is_bit_identical(student, seed):
    """4 epochs straight == 2 epochs + save + rebuild + load + 2 epochs, bit for bit"""
    spec = make_spec(seed, scheduler=STEP_LR)
    data = run(student, "resume", spec=spec, epochs=4, split=2, seed=seed)
    check_resume(data, epochs=4, split=2)


@pytest.mark.points(2)
def test_optimizer_state_is_restored(student, seed):
    """Adam's moments and step count come back exactly after loading"""
    spec = make_spec(seed, optimizer={"name": "adam", "lr": 0.01})
    data = run(student, "resume", spec=spec, epochs=2, split=1, seed=seed)
    diff = optimizer_difference(data["at_save"]["optimizer"], data["after_load"]["optimizer"])
    if diff is not None:
        evidence, hint = diagnose_resume(data, split=1)
        raise Failure(evidence or diff, hint or HINTS["optimizer"])
    check_resume(data, epochs=2, split=1)


@pytest.mark.points(2)
def test_scheduler_position_is_restored(student, seed):
    """The scheduler continues from the saved step, so the learning rate does not reset"""
    spec = make_spec(seed, scheduler={"name": "cosine", "T_max": 15, "eta_min": 0.001})
    data = run(student, "resume", spec=spec, epochs=3, split=2, seed=seed)
    evidence = scheduler_difference(data["at_save"]["scheduler"], data["after_load"]["scheduler"])
    if evidence is not None:
        raise Failure(evidence, HINTS["scheduler"])
    straight = [lr for e in data["straight"]["epochs"][2:] for lr in e["lrs"]]
    resumed = [lr for e in data["resumed"]["epochs"] for lr in e["lrs"]]
    checks.equal(resumed, straight, "the learning rates after resume", HINTS["scheduler"])


@pytest.mark.points(2)
def test_checkpoint_loads_with_weights_only(student, seed):
    """The checkpoint loads with torch.load(weights_only=True): state_dicts and plain data"""
    data = run(student, "inspect", spec=make_spec(seed, scheduler=STEP_LR))
    check_weights_only(data)


def test_load_returns_epoch_best_val_loss_and_extra(student, seed):
    """load_checkpoint returns the saved epoch, best_val_loss and extra (model-only load)"""
    extra = {"note": "warmup done", "step": 120, "history": [0.9, 0.7], "ema": torch.ones(3)}
    data = run(student, "roundtrip", spec=make_spec(seed), best_val_loss=0.4375, extra=extra)
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
    for name, saved in data["saved"].items():
        if not torch.equal(data["loaded"][name], saved):
            raise Failure(
                f"parameter {name} of a fresh model differs from the saved one after a load "
                "given only the model",
                HINTS["model"],
            )


@pytest.mark.points(2)
def test_rng_states_are_restored(student, seed):
    """Loading restores torch's, Python's and NumPy's random number generators"""
    data = run(student, "rng", spec=make_spec(seed), seed=seed)
    hints = {
        "torch": HINTS["rng_torch_state"],
        "python": HINTS["rng_python"],
        "numpy": HINTS["rng_numpy"],
    }
    for name, hint in hints.items():
        expected, got = data["at_save"][name], data["restored"][name]
        same = torch.equal(expected, got) if name == "torch" else expected == got
        if not same:
            raise Failure(
                f"after load_checkpoint, {name}'s generator gave {checks.fmt(got)}; the state "
                f"saved in the checkpoint gives {checks.fmt(expected)}",
                hint,
            )


def test_restore_rng_false_leaves_the_generators_alone(student, seed):
    """With restore_rng=False, load_checkpoint leaves every random number generator alone"""
    data = run(student, "rng", spec=make_spec(seed), seed=seed)
    for name in ("torch", "python", "numpy"):
        expected, got = data["untouched_expected"][name], data["untouched"][name]
        same = torch.equal(expected, got) if name == "torch" else expected == got
        if not same:
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
    data = run(student, "atomic", spec=make_spec(seed), saves=1, blob=200_000)
    check_atomic(data)


def test_saves_leave_only_the_checkpoint(student, seed):
    """Three successful saves leave exactly one file: the checkpoint"""
    data = run(student, "atomic", spec=make_spec(seed), saves=3, blob=200_000)
    if data["files_after_good"] != ["checkpoint.pt"]:
        raise Failure(
            f"after 3 saves the folder holds {data['files_after_good']}, expected only "
            "['checkpoint.pt']",
            "rename the temporary file onto path with os.replace (don't copy it)",
        )


def test_cuda_checkpoint_loads_on_cpu(student, device, seed):
    """A checkpoint saved from a GPU model loads into a CPU model with map_location='cpu'"""
    if device != "cuda":
        pytest.skip("needs a GPU to write a CUDA checkpoint")
    data = run(student, "map_location", spec=make_spec(seed))
    if data["devices"] != ["cpu"]:
        raise Failure(f"the CPU model's parameters ended up on {data['devices']}")
    for name, saved in data["saved"].items():
        if not torch.equal(data["loaded"][name], saved):
            raise Failure(f"parameter {name} differs after loading with map_location='cpu'")
