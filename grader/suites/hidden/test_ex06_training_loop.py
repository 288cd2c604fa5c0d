"""Exercise 6 - the training loop: hidden tests (configurations drawn from the grade-time seed)."""

import random
from typing import Any

import pytest

from grader.suites.support.ex06_training_loop.events import audit, fail_with
from grader.suites.support.ex06_training_loop.results import (
    check_epoch_result,
    check_history,
    check_number,
    check_params,
    reference_epoch,
    reference_evaluate,
    reference_fit,
)
from grader.suites.support.ex06_training_loop.specs import first_gradient_norm, make_spec
from reference import ex06_training_loop as ref

OPTIMIZERS = [
    {"name": "sgd", "lr": 0.1},
    {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"name": "sgd", "lr": 0.05, "momentum": 0.5, "weight_decay": 0.01},
    {"name": "adam", "lr": 0.01},
    {"name": "adamw", "lr": 0.02, "weight_decay": 0.1},
]
SCHEDULERS = [
    None,
    {"name": "step", "step_size": 2, "gamma": 0.5},
    {"name": "exponential", "gamma": 0.9},
    {"name": "cosine", "T_max": 5, "eta_min": 0.001},
]


def random_run(seed):
    rng = random.Random(seed)
    sizes = (rng.randint(2, 6), rng.randint(3, 12), rng.randint(2, 5))
    spec = make_spec(
        seed,
        sizes=sizes,
        n=rng.randint(9, 30),
        batch_size=rng.randint(2, 5),
        dropout=rng.choice([0.0, 0.0, 0.3]),
        optimizer=dict(rng.choice(OPTIMIZERS)),
        scheduler=rng.choice(SCHEDULERS),
        scale=rng.choice([1.0, 3.0]),
    )
    kwargs: dict[str, Any] = {"accumulation_steps": rng.choice([1, 1, 2, 3])}  # the call's
    if rng.random() < 0.6:
        kwargs["max_grad_norm"] = first_gradient_norm(spec) * rng.uniform(0.4, 1.2)
    if spec["scheduler"]:
        kwargs["scheduler"] = True
    return spec, kwargs


def run_epoch(student, spec, kwargs):
    got = student.scenario("train_epoch", spec=spec, kwargs=kwargs)
    expected = reference_epoch(ref, spec, kwargs)
    batches = -(-len(spec["orders"][0]) // spec["batch_size"])
    problems = audit(
        got["events"],
        batches=batches,
        k=kwargs.get("accumulation_steps", 1),
        max_norm=kwargs.get("max_grad_norm"),
        scheduler="step" if kwargs.get("scheduler") else None,
    )
    return got, expected, problems


@pytest.mark.points(3)
@pytest.mark.parametrize("case", range(4))
def test_random_configurations(student, seed, case):
    """Random models, optimizers, schedulers, clipping and accumulation match the reference loop"""
    spec, kwargs = random_run(seed + case)
    got, expected, problems = run_epoch(student, spec, kwargs)
    check_params(got["params"], expected["params"], "after one epoch", problems)
    check_epoch_result(got["result"], expected["result"], problems)
    check_number(got["lr_after"], expected["lr_after"], "the learning rate after the epoch")
    fail_with(problems)


def test_accumulation_window_longer_than_the_epoch(student, seed):
    """accumulation_steps larger than the number of batches gives one step at the end"""
    spec = make_spec(seed, n=10, batch_size=4)
    got, expected, problems = run_epoch(student, spec, {"accumulation_steps": 5})
    check_epoch_result(got["result"], expected["result"], problems)
    check_params(got["params"], expected["params"], "after one epoch", problems)


def test_mse_regression(student, seed):
    """A regression loss (MSE) trains the same way"""
    spec = make_spec(seed, sizes=(3, 6, 2), loss="mse", optimizer={"name": "adam", "lr": 0.05})
    got, expected, problems = run_epoch(student, spec, {"accumulation_steps": 2})
    check_params(got["params"], expected["params"], "after one epoch of regression", problems)
    check_epoch_result(got["result"], expected["result"], problems)


def test_evaluate_random_batches(student, seed):
    """evaluate on random data, classes and batch sizes matches the reference"""
    rng = random.Random(seed)
    spec = make_spec(
        seed, sizes=(5, 7, rng.randint(2, 6)), n=rng.randint(7, 40), batch_size=rng.randint(1, 8)
    )
    got = student.scenario("evaluate", spec=spec, start_training=False, repeats=1)
    expected = reference_evaluate(ref, spec)
    check_number(got["result"][0]["loss"], expected["loss"], "evaluate's 'loss'")
    check_number(got["result"][0]["accuracy"], expected["accuracy"], "evaluate's 'accuracy'")


@pytest.mark.points(2)
def test_fit_random_run(student, seed):
    """fit with clipping, a per-step scheduler and dropout matches the reference history"""
    rng = random.Random(seed)
    spec = make_spec(
        seed,
        epochs=3,
        n=rng.randint(12, 20),
        n_val=rng.randint(5, 12),
        dropout=0.25,
        optimizer={"name": "adam", "lr": 0.02},
        scheduler={"name": "cosine", "T_max": 20},
        scale=3.0,
    )
    kwargs: dict[str, Any] = {  # the call's keyword arguments
        "epochs": 3,
        "scheduler": True,
        "scheduler_interval": "step",
        "max_grad_norm": first_gradient_norm(spec) * 0.7,
    }
    got = student.scenario("fit", spec=spec, kwargs=kwargs)
    expected = reference_fit(ref, spec, kwargs)
    batches = -(-len(spec["orders"][0]) // spec["batch_size"])
    problems = audit(
        got["events"], batches=batches, max_norm=kwargs["max_grad_norm"], scheduler="step"
    )
    check_history(got["result"], expected["result"], problems, patience=None)
    check_params(got["params"], expected["params"], "after fit", problems)


@pytest.mark.points(2)
def test_fit_keeps_the_best_weights_without_stopping_early(student, seed):
    """With a patience that never runs out, fit runs every epoch and still ends on the best"""
    spec = make_spec(seed, epochs=5, n=16, n_val=16, optimizer={"name": "sgd", "lr": 0.5})
    spec["X_val"] = spec["X"].clone()
    spec["y_val"] = (spec["y"] + 1) % 3  # validation disagrees: the best epoch is an early one
    kwargs = {"epochs": 5, "patience": 10}
    got = student.scenario("fit", spec=spec, kwargs=kwargs)
    expected = reference_fit(ref, spec, kwargs)
    problems = audit(got["events"], batches=4)
    check_history(got["result"], expected["result"], problems, patience=10)
    check_params(got["params"], expected["params"], "at the end of fit (best epoch)", problems)


def test_fit_early_stopping_random(student, seed):
    """Early stopping on a random run matches the reference (rows and final weights)"""
    rng = random.Random(seed)
    patience = rng.randint(1, 3)
    spec = make_spec(seed, epochs=8, n=16, n_val=16, optimizer={"name": "sgd", "lr": 0.5})
    spec["X_val"] = spec["X"].clone()
    spec["y_val"] = (spec["y"] + rng.randint(1, 2)) % 3
    half = rng.randint(4, 12)
    spec["y_val"][:half] = spec["y"][:half]
    kwargs = {"epochs": 8, "patience": patience}
    got = student.scenario("fit", spec=spec, kwargs=kwargs)
    expected = reference_fit(ref, spec, kwargs)
    problems = audit(got["events"], batches=4)
    check_history(got["result"], expected["result"], problems, patience=patience)
    check_params(got["params"], expected["params"], "at the end of fit", problems)
