"""Exercise 6 - the training loop: public tests (these ship to students).

Your functions run in the worker on a model, loaders, loss, optimizer and scheduler built from
the same spec as the reference loop's here; every call they make is recorded, so a test can say
*which* step went wrong and how.
"""

import pytest
import torch

from grader.judge import checks
from grader.judge.expectations import answers
from grader.judge.failures import Failure
from grader.suites.support.ex06_training_loop.events import (
    HINTS,
    audit,
    clipped_positions,
    fail_with,
)
from grader.suites.support.ex06_training_loop.results import (
    check_epoch_result,
    check_history,
    check_number,
    check_params,
    reference_epoch,
    reference_evaluate,
    reference_fit,
)
from grader.suites.support.ex06_training_loop.specs import (
    figure6_spec,
    first_gradient_norm,
    make_spec,
)

ref = answers("ex06_training_loop")  # the reference, or its recorded answers in a release


def run_epoch(student, spec, kwargs, *, device="cpu", start_training=False):
    """The student's train_one_epoch in the worker, the reference here, and the audit."""
    got = student.scenario(
        "train_epoch", spec=spec, kwargs=kwargs, device=device, start_training=start_training
    )
    expected = reference_epoch(ref, spec, kwargs)
    batches = -(-len(spec["orders"][0]) // spec["batch_size"])
    problems = audit(
        got["events"],
        batches=batches,
        k=kwargs.get("accumulation_steps", 1),
        max_norm=kwargs.get("max_grad_norm"),
        scheduler="step" if kwargs.get("scheduler") else None,
        device=device,
    )
    return got, expected, problems


@pytest.mark.points(2)
def test_one_epoch_matches_the_reference_loop(student, device, seed):
    """One epoch of SGD with momentum gives the reference loop's parameters and mean loss"""
    spec = make_spec(seed, optimizer={"name": "sgd", "lr": 0.05, "momentum": 0.9})
    got, expected, problems = run_epoch(student, spec, {"device": device}, device=device)
    check_params(got["params"], expected["params"], "after one epoch", problems)
    check_epoch_result(got["result"], expected["result"], problems)


def test_gradients_are_zeroed_every_step(student, seed):
    """Every optimizer step starts from zero gradients (zero_grad once per step)"""
    spec = make_spec(seed)
    got, _, problems = run_epoch(student, spec, {})
    fail_with(problems, "zero_grad")


@pytest.mark.points(2)
def test_clipping(student, seed):
    """With max_grad_norm, the epoch matches the reference and counts the clipped steps"""
    spec = make_spec(seed, scale=3.0, optimizer={"name": "sgd", "lr": 0.1})
    kwargs = {"max_grad_norm": 0.8 * first_gradient_norm(spec)}
    got, expected, problems = run_epoch(student, spec, kwargs)
    check_params(got["params"], expected["params"], "after one epoch with clipping", problems)
    check_epoch_result(got["result"], expected["result"], problems)


def test_clipping_happens_between_backward_and_step(student, seed):
    """Gradients are clipped after backward() and before optimizer.step(), every step"""
    spec = make_spec(seed, scale=3.0)
    kwargs = {"max_grad_norm": 0.5 * first_gradient_norm(spec)}
    got, _, problems = run_epoch(student, spec, kwargs)
    fail_with(problems, "clip")


@pytest.mark.points(2)
def test_scheduler_steps_after_every_optimizer_step(student, seed):
    """A scheduler is stepped once per optimizer step, right after it"""
    spec = make_spec(
        seed,
        optimizer={"name": "sgd", "lr": 0.2},
        scheduler={"name": "step", "step_size": 2, "gamma": 0.5},
    )
    got, expected, problems = run_epoch(student, spec, {"scheduler": True})
    fail_with(problems, "sched")
    check_number(got["lr_after"], expected["lr_after"], "the learning rate after the epoch")
    check_params(got["params"], expected["params"], "after one epoch with a scheduler", problems)


@pytest.mark.points(2)
def test_gradient_accumulation_with_a_remainder(student, seed):
    """accumulation_steps=3 over 7 batches: steps after batches 3 and 6, and one for the last"""
    spec = make_spec(seed, n=26, batch_size=4, optimizer={"name": "sgd", "lr": 0.3})
    got, expected, problems = run_epoch(student, spec, {"accumulation_steps": 3})
    check_epoch_result(got["result"], expected["result"], problems)
    check_params(got["params"], expected["params"], "after one epoch with accumulation", problems)


@pytest.mark.points(2)
def test_call_order_within_each_step(student, seed):
    """Each step runs zero_grad -> forward -> loss -> backward -> clip -> step -> scheduler.step"""
    spec = make_spec(seed, scale=3.0, scheduler={"name": "exponential", "gamma": 0.9}, dropout=0.2)
    kwargs = {"max_grad_norm": 0.7 * first_gradient_norm(spec), "scheduler": True}
    got, _, problems = run_epoch(student, spec, kwargs)
    fail_with(problems)


def test_model_is_in_train_mode_while_training(student, seed):
    """train_one_epoch puts the model in train mode (dropout on), even if it was in eval mode"""
    spec = make_spec(seed, dropout=0.5, sizes=(4, 16, 3))
    got, expected, problems = run_epoch(student, spec, {}, start_training=False)
    fail_with(problems, "mode")
    check_params(got["params"], expected["params"], "after one epoch with dropout", problems)


def test_returned_values_are_python_numbers(student, seed):
    """train_one_epoch returns the loss as a Python float and steps/clipped as ints"""
    spec = make_spec(seed, n=12)
    got, expected, problems = run_epoch(student, spec, {"max_grad_norm": 1e6})
    result = got["result"]
    if not isinstance(result, dict):
        raise Failure(f"train_one_epoch should return a dict, got {checks.fmt(result)}")
    for key, kind in (("loss", float), ("steps", int), ("clipped", int)):
        value = result.get(key)
        if isinstance(value, bool) or not isinstance(value, kind):
            raise Failure(
                f"the returned {key!r}: expected a Python {kind.__name__}, got "
                f"{checks.fmt(value)} ({type(value).__name__})",
                "use loss.item() for the loss; count steps with an int"
                if isinstance(value, torch.Tensor)
                else "",
            )
    check_epoch_result(result, expected["result"], problems)


def test_losses_are_accumulated_as_floats(student, seed):
    """The loop keeps no autograd graph alive across batches (losses summed as floats)"""
    spec = make_spec(seed)
    got, _, problems = run_epoch(student, spec, {})
    fail_with(problems, "graph")


def test_batches_are_moved_to_the_device(student, device, seed):
    """Every batch reaches the model on the device that train_one_epoch was given"""
    spec = make_spec(seed, n=12)
    got, _, problems = run_epoch(student, spec, {"device": device}, device=device)
    fail_with(problems, "device")


@pytest.mark.points(2)
def test_evaluate_matches_the_reference(student, seed):
    """evaluate returns the mean batch loss and the accuracy (uneven last batch)"""
    spec = make_spec(seed, n=23, batch_size=5, sizes=(4, 8, 4))
    got = student.scenario("evaluate", spec=spec, start_training=False, repeats=1)
    expected = reference_evaluate(ref, spec)
    result = got["result"][0]
    if not isinstance(result, dict) or "loss" not in result or "accuracy" not in result:
        raise Failure(f"evaluate should return {{'loss', 'accuracy'}}, got {checks.fmt(result)}")
    check_number(result["loss"], expected["loss"], "evaluate's 'loss' (mean of batch losses)")
    check_number(result["accuracy"], expected["accuracy"], "evaluate's 'accuracy'")


def test_evaluate_uses_eval_mode_without_gradients(student, seed):
    """evaluate runs in eval mode without gradient tracking: two calls give the same result"""
    spec = make_spec(seed, dropout=0.5, sizes=(4, 16, 3))
    got = student.scenario("evaluate", spec=spec, start_training=True, repeats=2)
    forwards = [e for e in got["events"] if e["kind"] == "forward"]
    if any(e["training"] for e in forwards):
        raise Failure("evaluate ran the model in train mode (dropout active)", HINTS["eval_mode"])
    if any(e["grad"] for e in forwards):
        raise Failure("evaluate ran the model with gradient tracking on", HINTS["eval_grad"])
    first, second = got["result"]
    checks.equal(second, first, "evaluate called twice on the same model")
    expected = reference_evaluate(ref, spec)
    check_number(first["loss"], expected["loss"], "evaluate's 'loss' with dropout in the model")


@pytest.mark.parametrize("start_training", [True, False], ids=["from-train", "from-eval"])
def test_evaluate_restores_the_previous_mode(student, seed, start_training):
    """evaluate leaves the model in the mode it found it in"""
    spec = make_spec(seed, dropout=0.5, n=8)
    got = student.scenario("evaluate", spec=spec, start_training=start_training, repeats=1)
    if got["training_after"] != start_training:
        before, after = ("train", "eval") if start_training else ("eval", "train")
        raise Failure(
            f"the model was in {before} mode before evaluate and in {after} mode after it",
            HINTS["eval_mode_left"] if start_training else HINTS["eval_forced_train"],
        )


@pytest.mark.points(3)
def test_fit_reproduces_figure_6(student):
    """Figure 6: losses 0.8517 / 0.8307 / 0.7130, clipping at E0B2 and E1B2, lr 0.4/0.32/0.256"""
    spec = figure6_spec()
    kwargs = {"epochs": 3, "scheduler": True, "scheduler_interval": "epoch", "max_grad_norm": 1.0}
    got = student.scenario("fit", spec=spec, kwargs=kwargs)
    expected = reference_fit(ref, spec, kwargs)
    problems = audit(got["events"], batches=3, max_norm=1.0, scheduler="epoch")
    check_history(got["result"], expected["result"], problems, patience=None)
    losses = [round(row["train_loss"], 4) for row in got["result"]]
    checks.equal(losses, [0.8517, 0.8307, 0.7130], "figure 6's epoch losses (4 decimals)")
    for row, lr in zip(got["result"], [0.4, 0.32, 0.256]):
        checks.scalar_close(row["lr"], lr, f"the lr after epoch {row['epoch']}", rtol=1e-12)
    clipped = clipped_positions(got["events"], 1.0)
    checks.equal(clipped, [(0, 2), (1, 2)], "the (epoch, batch) of the clipped steps")
    fail_with(problems)
    check_params(got["params"], expected["params"], "after figure 6's three epochs", problems)


@pytest.mark.points(2)
def test_fit_history_rows(student, seed):
    """fit returns one row per epoch: epoch, train_loss, val_loss, val_accuracy and lr"""
    spec = make_spec(
        seed,
        epochs=3,
        n_val=11,
        dropout=0.2,
        scheduler={"name": "exponential", "gamma": 0.7},
    )
    kwargs = {"epochs": 3, "scheduler": True}
    got = student.scenario("fit", spec=spec, kwargs=kwargs)
    expected = reference_fit(ref, spec, kwargs)
    problems = audit(got["events"], batches=6, scheduler="epoch")
    check_history(got["result"], expected["result"], problems, patience=None)
    check_params(got["params"], expected["params"], "after fit", problems)


@pytest.mark.points(2)
def test_fit_scheduler_interval_step(student, seed):
    """With scheduler_interval='step' fit steps the scheduler after every optimizer step"""
    spec = make_spec(
        seed, epochs=2, n_val=6, scheduler={"name": "cosine", "T_max": 12, "eta_min": 0.01}
    )
    kwargs = {"epochs": 2, "scheduler": True, "scheduler_interval": "step"}
    got = student.scenario("fit", spec=spec, kwargs=kwargs)
    expected = reference_fit(ref, spec, kwargs)
    problems = audit(got["events"], batches=6, scheduler="step")
    fail_with(problems, "sched")
    check_history(got["result"], expected["result"], problems, patience=None)


def early_stopping_spec(seed):
    """Validation labels disagree with the training labels, so val loss rises after a while."""
    spec = make_spec(seed, epochs=8, n=16, n_val=16, optimizer={"name": "sgd", "lr": 0.5})
    spec["X_val"] = spec["X"].clone()
    spec["y_val"] = (spec["y"] + 1) % 3
    spec["y_val"][: len(spec["y"]) // 2] = spec["y"][: len(spec["y"]) // 2]
    return spec


@pytest.mark.points(2)
def test_fit_early_stopping_restores_the_best_weights(student):
    """With patience, fit stops after `patience` epochs without improvement and keeps the best"""
    spec = early_stopping_spec(5)  # val loss: best at epoch 2, after a worse epoch 1
    kwargs = {"epochs": 8, "patience": 2}
    got = student.scenario("fit", spec=spec, kwargs=kwargs)
    expected = reference_fit(ref, spec, kwargs)
    problems = audit(got["events"], batches=4)
    check_history(got["result"], expected["result"], problems, patience=2)
    best = min(range(len(expected["result"])), key=lambda i: expected["result"][i]["val_loss"])
    try:
        check_params(got["params"], expected["params"], "at the end of fit", problems)
    except Failure as failure:
        raise Failure(
            f"{failure.message} (the best epoch was {best})",
            "keep a copy of the best epoch's weights ({k: v.clone() for k, v in "
            "model.state_dict().items()}) and load it back at the end",
        ) from None
