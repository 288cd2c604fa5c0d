"""Exercise 7 - checkpointing and resuming: hidden tests (runs drawn from the grade-time seed)."""

import random

import pytest

from grader.judge.failures import Failure
from grader.suites.support.ex07_checkpointing import (
    HINTS,
    check_resume,
    check_weights_only,
    make_spec,
    resume,
    run,
)


@pytest.mark.points(4)
def test_resume_with_adam_cosine_clipping_and_numpy_randomness(student, seed):
    """Adam + cosine + clipping + NumPy/Python noise in the inputs resumes bit-identically"""
    spec = make_spec(
        seed,
        n=18,
        batch_size=5,
        optimizer={"name": "adam", "lr": 0.02},
        scheduler={"name": "cosine", "T_max": 12},
        max_grad_norm=0.5,
        augment=True,
    )
    expected, loaded = resume(student, spec, epochs=5, split=2, seed=seed)
    check_resume(expected, loaded, epochs=5, split=2)


@pytest.mark.points(2)
@pytest.mark.parametrize("case", range(2))
def test_resume_at_a_random_epoch(student, seed, case):
    """Saving after a random epoch and resuming gives the straight run's parameters"""
    rng = random.Random(seed + case)
    epochs = rng.randint(2, 5)
    split = rng.randint(1, epochs - 1)
    spec = make_spec(
        seed + case,
        sizes=(rng.randint(2, 5), rng.randint(4, 16), rng.randint(2, 4)),
        n=rng.randint(8, 24),
        batch_size=rng.randint(2, 6),
        dropout=rng.choice([0.1, 0.5]),
        optimizer=rng.choice(
            [{"name": "sgd", "lr": 0.05, "momentum": 0.9}, {"name": "adam", "lr": 0.01}]
        ),
        scheduler=rng.choice([None, {"name": "step", "step_size": 2, "gamma": 0.7}]),
        augment=rng.random() < 0.5,
    )
    expected, loaded = resume(student, spec, epochs=epochs, split=split, seed=seed + case)
    check_resume(expected, loaded, epochs=epochs, split=split)


def test_path_may_be_a_pathlike(student, seed):
    """save_checkpoint and load_checkpoint accept a pathlib.Path as well as a str"""
    spec = make_spec(seed)
    expected, loaded = resume(student, spec, epochs=2, split=1, seed=seed, as_pathlike=True)
    check_resume(expected, loaded, epochs=2, split=1)


@pytest.mark.points(2)
def test_malicious_checkpoint_refused_whatever_the_environment(student, seed):
    """The crafted checkpoint is refused even with TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 set"""
    data = run(student, "malicious", spec=make_spec(seed), force_env=True)
    if data["code_ran"]:
        raise Failure(
            "with TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 in the environment, loading a crafted "
            "checkpoint ran the code hidden in it",
            HINTS["weights_only"],
        )


def test_checkpoint_with_adam_and_cosine_loads_with_weights_only(student, seed):
    """A checkpoint of Adam with a cosine schedule loads with weights_only=True"""
    spec = make_spec(
        seed, optimizer={"name": "adam", "lr": 0.01}, scheduler={"name": "cosine", "T_max": 9}
    )
    check_weights_only(run(student, "inspect", spec=spec))
