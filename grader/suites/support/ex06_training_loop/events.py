"""Reading the worker's record of an exercise-6 run: what went wrong, step by step.

The worker (``grader/worker/scenarios/ex06_training_loop.py``, whose docstring lists the
events) records every call the student's loop makes on the objects it was given. :func:`audit`
reads that record and lists the problems in the order a student should fix them, each with a
hint (:data:`HINTS`) that names the classic mistake it fits. A test fails with the first problem
of the kinds it is about (:func:`fail_with`); :mod:`.results` cites the first one when a number
is wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from grader.judge.failures import Failure

CLIP_EPS = 1e-6  # torch's clip_grad_norm_ scales by max_norm / (norm + 1e-6)

HINTS = {
    "zero_grad": (
        "gradients accumulate across steps: backward() adds into .grad, it never overwrites, "
        "so call optimizer.zero_grad() once per optimizer step, before backward()"
    ),
    "zero_grad_in_window": (
        "with accumulation_steps > 1, zero the gradients once per optimizer step (at the start "
        "of each window of k batches), not before every batch"
    ),
    "unscaled_loss": (
        "with accumulation_steps=k, call backward() on loss / k, so that one step uses the "
        "mean gradient of its k batches"
    ),
    "step_every_batch": (
        "with accumulation_steps=k, call optimizer.step() once every k batches (and once more "
        "for a remainder at the end of the epoch), not after every batch"
    ),
    "remainder": (
        "the last batches of the epoch did not fill a window of accumulation_steps: they still "
        "need their own optimizer step after the loop"
    ),
    "clip_before_backward": (
        "clipping ran before backward(), when the gradients were still zero or None, so "
        "nothing was clipped: clip after loss.backward() and before optimizer.step()"
    ),
    "clip_after_step": (
        "the gradients were clipped after optimizer.step(), when the update had already used "
        "them: clip after loss.backward() and before optimizer.step()"
    ),
    "not_clipped": (
        "the gradients that reached optimizer.step() were not clipped: call "
        "torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm) between backward() "
        "and optimizer.step()"
    ),
    "sched_per_epoch": (
        "the scheduler was stepped once per epoch instead of once per optimizer step: call "
        "scheduler.step() right after every optimizer.step()"
    ),
    "sched_per_step": (
        "the scheduler was stepped after every optimizer step, but scheduler_interval='epoch' "
        "asks for one step per epoch: pass scheduler=None to train_one_epoch and call "
        "scheduler.step() once after each epoch"
    ),
    "sched_missing": "scheduler.step() was never called: call it after every optimizer.step()",
    "sched_before_step": (
        "call scheduler.step() after optimizer.step(), not before it: stepping the scheduler "
        "first skips the initial learning rate"
    ),
    "train_mode": "call model.train() at the start of train_one_epoch (evaluate may have left "
    "the model in eval mode, which switches dropout off)",
    "eval_mode_left": (
        "evaluate left the model in eval mode: remember model.training before calling "
        "model.eval() and restore it afterwards with model.train(was_training)"
    ),
    "eval_forced_train": (
        "evaluate switched the model to train mode at the end although it was in eval mode "
        "before: restore the previous mode (model.train(was_training)), don't force train mode"
    ),
    "eval_mode": "call model.eval() before evaluating, so that dropout is switched off",
    "eval_grad": (
        "evaluate tracked gradients: run its loop under torch.no_grad() (or "
        "torch.inference_mode()), since nothing is trained there"
    ),
    "loss_tensors": (
        "loss tensors were kept across batches (e.g. total += loss): each one keeps its "
        "batch's autograd graph alive; accumulate loss.item(), a Python float"
    ),
    "device": "move every batch to the device first: x, y = x.to(device), y.to(device)",
}


@dataclass
class Problem:
    """One thing wrong in the record; ``kind`` is what a test asks about (``fail_with``)."""

    kind: str
    message: str
    hint: str = ""


def where(event: dict[str, Any]) -> str:
    return f"epoch {event['epoch']}, batch {event['batch']}"


def training_segments(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The events of each training pass: from ``epoch_start`` to ``val_start`` (or the next)."""
    segments: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] | None = None
    for e in events:
        if e["kind"] == "epoch_start":
            current = []
            segments.append(current)
        elif e["kind"] == "val_start":
            current = None
        elif current is not None:
            current.append(e)
    return segments


def epoch_segments(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """All events from one ``epoch_start`` to the next (validation included)."""
    segments: list[list[dict[str, Any]]] = []
    for e in events:
        if e["kind"] == "epoch_start":
            segments.append([])
        elif segments:
            segments[-1].append(e)
    return segments


def _windows(segment: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split one training pass at each ``step``: window j ends with step j (the rest trails)."""
    windows: list[list[dict[str, Any]]] = [[]]
    for e in segment:
        windows[-1].append(e)
        if e["kind"] == "step":
            windows.append([])
    return windows


def audit(
    events: list[dict[str, Any]],
    *,
    batches: int,
    k: int = 1,
    max_norm: float | None = None,
    scheduler: str | None = None,
    device: str = "cpu",
) -> list[Problem]:
    """Everything wrong with the recorded training passes, in the order a student should fix it.

    ``batches`` per epoch; ``scheduler`` is ``"step"`` (one ``scheduler.step()`` after every
    optimizer step), ``"epoch"`` (one per epoch, after its steps) or ``None``.
    """
    problems: list[Problem] = []
    segments = training_segments(events)
    if not segments:
        return [Problem("loader", "the training loader was never iterated")]
    expected_steps = math.ceil(batches / k)
    for epoch, segment in enumerate(segments):
        problems += _audit_pass(epoch, segment, batches, k, expected_steps, max_norm, device)
    if scheduler is not None:
        problems += _audit_scheduler(events, expected_steps, scheduler)
    order = ["loader", "mode", "device", "steps", "zero_grad", "order", "clip", "sched", "graph"]
    return sorted(problems, key=lambda p: order.index(p.kind) if p.kind in order else 99)


def _audit_pass(
    epoch: int,
    segment: list[dict[str, Any]],
    batches: int,
    k: int,
    expected_steps: int,
    max_norm: float | None,
    device: str,
) -> list[Problem]:
    problems: list[Problem] = []
    forwards = [e for e in segment if e["kind"] == "forward"]
    if len(forwards) != batches:
        problems.append(
            Problem(
                "order",
                f"epoch {epoch}: expected {batches} forward passes (one per batch), "
                f"got {len(forwards)}",
            )
        )
    bad_mode = next((e for e in forwards if not e["training"]), None)
    if bad_mode is not None:
        problems.append(
            Problem(
                "mode",
                f"the model was in eval mode during training ({where(bad_mode)})",
                HINTS["train_mode"],
            )
        )
    bad_device = next((e for e in forwards if e["device"] != device), None)
    if bad_device is not None:
        problems.append(
            Problem(
                "device",
                f"a batch reached the model on {bad_device['device']}, not on {device} "
                f"({where(bad_device)})",
                HINTS["device"],
            )
        )
    stale = next((e for e in segment if e["kind"] == "loss" and e["stale"]), None)
    if stale is not None:
        problems.append(
            Problem(
                "graph",
                f"at {where(stale)} the autograd graphs of {stale['stale']} earlier batches were "
                "still alive",
                HINTS["loss_tensors"],
            )
        )
    steps = [e for e in segment if e["kind"] == "step"]
    if len(steps) != expected_steps:
        hint = ""
        if not steps:
            hint = "optimizer.step() was never called"
        elif k > 1 and len(steps) == batches:
            hint = HINTS["step_every_batch"]
        elif k > 1 and len(steps) == batches // k:
            hint = HINTS["remainder"]
        problems.append(
            Problem(
                "steps",
                f"epoch {epoch}: expected {expected_steps} optimizer steps for {batches} batches"
                f" with accumulation_steps={k}, got {len(steps)}",
                hint,
            )
        )
    windows = _windows(segment)
    for j, window in enumerate(windows[:-1]):
        problems += _audit_window(epoch, j, window, windows[j + 1], k, max_norm)
    return problems


def _audit_window(
    epoch: int,
    j: int,
    window: list[dict[str, Any]],
    after: list[dict[str, Any]],
    k: int,
    max_norm: float | None,
) -> list[Problem]:
    problems: list[Problem] = []
    step = window[-1]
    at = f"epoch {epoch}, optimizer step {j} (after batch {step['batch']})"
    backwards = [e for e in window if e["kind"] == "backward"]
    if not backwards:
        return [Problem("order", f"{at}: optimizer.step() ran without a backward() before it")]
    if not backwards[0]["clean"]:
        problems.append(
            Problem(
                "zero_grad",
                f"{at}: the gradients of the previous step were still there when backward() ran",
                HINTS["zero_grad"],
            )
        )
    if k > 1 and any(b["clean"] for b in backwards[1:]):
        problems.append(
            Problem(
                "zero_grad",
                f"{at}: the gradients were zeroed between the batches of one step",
                HINTS["zero_grad_in_window"],
            )
        )
    if k > 1 and any(abs(b["dloss"] - 1.0) < 1e-12 for b in backwards):
        problems.append(
            Problem(
                "order",
                f"{at}: backward() ran on the undivided loss (gradient 1 into the loss, "
                f"expected 1/{k})",
                HINTS["unscaled_loss"],
            )
        )
    core = [t for t in _tokens(window) if t in ("forward", "loss", "backward")]
    n = sum(t == "forward" for t in core)
    if core != ["forward", "loss", "backward"] * n:
        problems.append(
            Problem(
                "order",
                f"{at}: expected forward -> loss -> backward for each batch of the step, got "
                f"{' -> '.join(core) or 'nothing'}",
            )
        )
    if max_norm is not None:
        problems += _audit_clip(at, window, after, step, max_norm)
    return problems


def _tokens(events: list[dict[str, Any]]) -> list[str]:
    tokens: list[str] = []
    for e in events:
        if e["kind"] in ("forward", "backward", "step", "zero_grad", "clip", "sched"):
            tokens.append(e["kind"])
        elif e["kind"] == "loss" and tokens[-1:] != ["loss"]:
            tokens.append("loss")
    return tokens


def _audit_clip(
    at: str,
    window: list[dict[str, Any]],
    after: list[dict[str, Any]],
    step: dict[str, Any],
    max_norm: float,
) -> list[Problem]:
    pre, norm = step["pre_norm"], step["norm"]
    expected = pre * min(1.0, max_norm / (pre + CLIP_EPS))
    if math.isclose(norm, expected, rel_tol=1e-6, abs_tol=1e-12):
        return []
    # A clip between this step's first forward and its last backward ran too early; one
    # between this step and the next step's first forward / zero_grad ran too late.
    first_forward = next((i for i, e in enumerate(window) if e["kind"] == "forward"), 0)
    last_backward = max(i for i, e in enumerate(window) if e["kind"] == "backward")
    early_clip = any(e["kind"] == "clip" for e in window[first_forward:last_backward])
    next_start = next(
        (i for i, e in enumerate(after) if e["kind"] in ("forward", "zero_grad")), len(after)
    )
    late = any(e["kind"] in ("clip", "changed_after_step") for e in after[:next_start])
    message = (
        f"{at}: the gradients had total norm {pre:.6g} after backward() and {norm:.6g} at "
        f"optimizer.step(); with max_grad_norm={max_norm:g} expected {expected:.6g} at the step"
    )
    if pre <= max_norm and norm > pre:
        hint = "gradients below max_grad_norm must stay as they are (scale min(1, ...))"
    elif math.isclose(norm, pre, rel_tol=1e-9, abs_tol=1e-15) and late:
        hint = HINTS["clip_after_step"]
    elif math.isclose(norm, pre, rel_tol=1e-9, abs_tol=1e-15) and early_clip:
        hint = HINTS["clip_before_backward"]
    elif math.isclose(norm, pre, rel_tol=1e-9, abs_tol=1e-15):
        hint = HINTS["not_clipped"]
    else:
        hint = ""
    return [Problem("clip", message, hint)]


def _audit_scheduler(
    events: list[dict[str, Any]], expected_steps: int, interval: str
) -> list[Problem]:
    problems: list[Problem] = []
    for epoch, segment in enumerate(epoch_segments(events)):
        tokens = [t for t in _tokens(segment) if t in ("forward", "step", "sched")]
        steps, scheds = tokens.count("step"), tokens.count("sched")
        if interval == "step":
            ok = scheds == steps and all(
                tokens[i + 1 : i + 2] == ["sched"] for i, t in enumerate(tokens) if t == "step"
            )
            if ok:
                continue
            if scheds == 0:
                hint = HINTS["sched_missing"]
            elif scheds == 1 and steps > 1:
                hint = HINTS["sched_per_epoch"]
            elif scheds == steps:
                hint = HINTS["sched_before_step"]
            else:
                hint = ""
            got = f"got {scheds} scheduler steps" + (
                ", but not each right after its optimizer step" if scheds == steps else ""
            )
            problems.append(
                Problem(
                    "sched",
                    f"epoch {epoch}: expected scheduler.step() right after each of the {steps} "
                    f"optimizer steps, {got}",
                    hint,
                )
            )
        else:
            last_step = max((i for i, t in enumerate(tokens) if t == "step"), default=-1)
            if scheds == 1 and "sched" in tokens[last_step + 1 :]:
                continue
            hint = HINTS["sched_per_step"] if scheds == steps and steps > 1 else ""
            if scheds == 0:
                hint = "scheduler.step() was never called: call it once after each epoch"
            problems.append(
                Problem(
                    "sched",
                    f"epoch {epoch}: with scheduler_interval='epoch' expected one "
                    f"scheduler.step() after the epoch's {steps} optimizer steps, got {scheds}",
                    hint,
                )
            )
    return problems


def first_problem(problems: list[Problem], *kinds: str) -> Problem | None:
    return next((p for p in problems if not kinds or p.kind in kinds), None)


def fail_with(problems: list[Problem], *kinds: str) -> None:
    """Raise the first problem of the given kinds (any kind if none given), if there is one."""
    p = first_problem(problems, *kinds)
    if p is not None:
        raise Failure(p.message, p.hint)


def clipped_positions(events: list[dict[str, Any]], max_norm: float) -> list[tuple[int, int]]:
    """(epoch, batch) of every step whose gradient norm after backward exceeded ``max_norm``."""
    return [
        (e["epoch"], e["batch"]) for e in events if e["kind"] == "step" and e["pre_norm"] > max_norm
    ]
