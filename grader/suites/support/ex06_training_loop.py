"""Specs, reference runs and the reading of recorded calls for exercise-6 (the training loop).

A *spec* is the plain data a training run is made of: layer sizes and initial weights, data
tensors, the batch order of every epoch, the loss, optimizer and scheduler settings, and the
seed for dropout. The worker (``grader/worker/scenarios/ex06_training_loop.py``) builds
recorded objects from it and runs the student's code; :func:`build` here builds the same
objects, unrecorded, for the reference loop in the judge. Both sides build them the same way,
so the two runs see identical weights, batches and dropout masks. The reference runs
themselves (:data:`reference_epoch`, :data:`reference_fit`, :data:`reference_evaluate`) are
answers, kept in ``reference/support/ex06_training_loop.py`` (see
:mod:`grader.judge.expectations`).

:func:`audit` reads the worker's event record (see the scenario module's docstring for the
events) and lists what went wrong, step by step, each problem with a hint that names the
classic mistake it fits.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from grader.judge import checks
from grader.judge.expectations import answers
from grader.judge.failures import Failure

LOSSES = {"cross_entropy": nn.functional.cross_entropy, "mse": nn.functional.mse_loss}
OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
SCHEDULERS = {
    "step": torch.optim.lr_scheduler.StepLR,
    "exponential": torch.optim.lr_scheduler.ExponentialLR,
    "cosine": torch.optim.lr_scheduler.CosineAnnealingLR,
}
RTOL, ATOL = 1e-9, 1e-11  # float64 after up to 100 steps (notes/torch-reference-semantics §7)
CLIP_EPS = 1e-6

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


# -- specs ---------------------------------------------------------------------------------------
def mlp(sizes: Sequence[int], dropout: float = 0.0) -> nn.Sequential:
    """Linear -> ReLU -> (Dropout) -> ... -> Linear, float64 (the worker builds the same)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b, dtype=torch.float64))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def make_spec(
    seed: int,
    *,
    sizes: Sequence[int] = (4, 8, 3),
    n: int = 24,
    batch_size: int = 4,
    epochs: int = 1,
    dropout: float = 0.0,
    loss: str = "cross_entropy",
    optimizer: dict[str, Any] | None = None,
    scheduler: dict[str, Any] | None = None,
    n_val: int = 0,
    val_batch_size: int = 5,
    scale: float = 1.0,
) -> dict[str, Any]:
    """A random but reproducible run: data, weights and one shuffled batch order per epoch."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = mlp(sizes, dropout)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    d, c = sizes[0], sizes[-1]

    def data(m: int) -> tuple[Tensor, Tensor]:
        X = torch.randn(m, d, generator=gen, dtype=torch.float64) * scale
        if loss == "mse":
            return X, torch.randn(m, c, generator=gen, dtype=torch.float64)
        return X, torch.randint(0, c, (m,), generator=gen)

    X, y = data(n)
    spec: dict[str, Any] = {
        "seed": seed,
        "sizes": list(sizes),
        "dropout": dropout,
        "state": state,
        "X": X,
        "y": y,
        "orders": [torch.randperm(n, generator=gen).tolist() for _ in range(epochs)],
        "batch_size": batch_size,
        "loss": loss,
        "optimizer": optimizer or {"name": "sgd", "lr": 0.1},
        "scheduler": scheduler,
    }
    if n_val:
        spec["X_val"], spec["y_val"] = data(n_val)
        spec["val_batch_size"] = val_batch_size
    return spec


def figure6_spec() -> dict[str, Any]:
    """Course figure 6: six points, MLP 2-4-2 from NumPy seed 7, three fixed epoch orders."""
    import numpy as np

    rs = np.random.RandomState(7)
    W1, W2 = 1.5 * rs.randn(2, 4), 1.5 * rs.randn(4, 2)
    X = torch.tensor(
        [[0.5, 0.1], [0.2, 0.8], [0.9, 0.6], [0.1, 0.5], [0.8, 0.2], [0.6, 0.9]],
        dtype=torch.float64,
    )
    y = torch.tensor([0, 0, 0, 1, 1, 1])
    return {
        "seed": 0,
        "sizes": [2, 4, 2],
        "dropout": 0.0,
        "state": {
            "0.weight": torch.from_numpy(W1.T.copy()),
            "0.bias": torch.zeros(4, dtype=torch.float64),
            "2.weight": torch.from_numpy(W2.T.copy()),
            "2.bias": torch.zeros(2, dtype=torch.float64),
        },
        "X": X,
        "y": y,
        "orders": [[0, 1, 5, 2, 4, 3], [3, 0, 1, 2, 5, 4], [4, 1, 0, 3, 5, 2]],
        "batch_size": 2,
        "loss": "cross_entropy",
        "optimizer": {"name": "sgd", "lr": 0.5},
        "scheduler": {"name": "step", "step_size": 1, "gamma": 0.8},
        "X_val": X.clone(),
        "y_val": y.clone(),
        "val_batch_size": 6,
    }


class Loader:
    """``(X[idx], y[idx])`` batches in the spec's order for each pass (as in the worker)."""

    def __init__(self, X: Tensor, y: Tensor, orders: list[list[int]], batch_size: int) -> None:
        self.X, self.y, self.orders, self.batch_size = X, y, orders, batch_size
        self.passes = 0

    def __len__(self) -> int:
        return math.ceil(len(self.orders[0]) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        order = self.orders[min(self.passes, len(self.orders) - 1)]
        self.passes += 1
        for start in range(0, len(order), self.batch_size):
            idx = torch.tensor(order[start : start + self.batch_size])
            yield self.X[idx], self.y[idx]


def build(spec: dict[str, Any], device: str = "cpu") -> dict[str, Any]:
    """The plain objects of ``spec`` for the judge's reference run."""
    model = mlp(spec["sizes"], spec.get("dropout", 0.0))
    model.load_state_dict(spec["state"])
    model.to(device)
    opt = dict(spec["optimizer"])
    optimizer = OPTIMIZERS[opt.pop("name")](model.parameters(), **opt)
    scheduler = None
    if spec.get("scheduler"):
        sch = dict(spec["scheduler"])
        scheduler = SCHEDULERS[sch.pop("name")](optimizer, **sch)
    val = None
    if spec.get("X_val") is not None:
        order = list(range(len(spec["X_val"])))
        val = Loader(spec["X_val"], spec["y_val"], [order], spec["val_batch_size"])
    torch.manual_seed(int(spec["seed"]))
    return {
        "model": model,
        "train": Loader(spec["X"], spec["y"], spec["orders"], spec["batch_size"]),
        "val": val,
        "loss_fn": LOSSES[spec.get("loss", "cross_entropy")],
        "optimizer": optimizer,
        "scheduler": scheduler,
    }


def _arguments(kwargs: dict[str, Any], objs: dict[str, Any], device: str) -> dict[str, Any]:
    call = dict(kwargs)
    if call.get("scheduler"):
        call["scheduler"] = objs["scheduler"]
    if device != "cpu" or "device" in call:
        call["device"] = device
    return call


def params_of(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread: a second one only spins on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# The reference loop on a spec, in the judge: (ref, spec, kwargs) -> {"result", "params",
# "lr_after"} after one train_one_epoch; (ref, spec, kwargs) -> {"result": history, "params"}
# after fit; (ref, spec) -> evaluate's result on the training data. ``ref`` is the reference
# module (or its answers), which they call.
_answers = answers("support.ex06_training_loop")
reference_epoch = _answers.reference_epoch
reference_fit = _answers.reference_fit
reference_evaluate = _answers.reference_evaluate


@one_thread()
def first_gradient_norm(spec: dict[str, Any]) -> float:
    """Total gradient norm of the first batch: a max_grad_norm near it clips some steps."""
    objs = build(spec)
    x, y = next(iter(objs["train"]))
    objs["loss_fn"](objs["model"](x), y).backward()
    grads = [p.grad.flatten() for p in objs["model"].parameters() if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.cat(grads)))


# -- reading the event record --------------------------------------------------------------------
@dataclass
class Problem:
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


# -- comparisons ---------------------------------------------------------------------------------
def check_params(
    got: dict[str, Tensor], expected: dict[str, Tensor], when: str, problems: list[Problem]
) -> None:
    """Every parameter equals the reference loop's; a mismatch names the first likely cause."""
    for name, exp in expected.items():
        if name not in got:
            raise Failure(f"parameter {name} is missing from the model {when}")
        try:
            checks.close(got[name], exp, f"parameter {name} {when}", rtol=RTOL, atol=ATOL)
        except Failure as failure:
            p = first_problem(problems)
            if p is not None:
                raise Failure(f"{failure.message}; {p.message}", p.hint) from None
            raise


def check_number(got: Any, expected: float, what: str, *, integer: bool = False) -> None:
    if integer:
        if isinstance(got, bool) or not isinstance(got, int):
            raise Failure(
                f"{what}: expected a Python int, got {checks.fmt(got)} ({type(got).__name__})"
            )
        checks.equal(got, int(expected), what)
        return
    if isinstance(got, Tensor):
        raise Failure(
            f"{what}: expected a Python float, got a tensor ({checks.fmt(got)})",
            "return loss.item()-based floats: a tensor keeps its autograd graph alive",
        )
    checks.scalar_close(got, expected, what, rtol=RTOL, atol=ATOL)


def check_epoch_result(got: Any, expected: dict[str, Any], problems: list[Problem]) -> None:
    if not isinstance(got, dict):
        raise Failure(f"train_one_epoch should return a dict, got {checks.fmt(got)}")
    for key in ("loss", "steps", "clipped"):
        if key not in got:
            raise Failure(f"train_one_epoch's result has no {key!r} key (got {sorted(got)})")
    try:
        check_number(got["steps"], expected["steps"], "the returned 'steps'", integer=True)
    except Failure as failure:
        p = first_problem(problems, "steps")
        raise Failure(failure.message, p.hint if p else failure.hint) from None
    check_number(got["clipped"], expected["clipped"], "the returned 'clipped'", integer=True)
    check_number(got["loss"], expected["loss"], "the returned 'loss' (mean batch loss)")


def clipped_positions(events: list[dict[str, Any]], max_norm: float) -> list[tuple[int, int]]:
    """(epoch, batch) of every step whose gradient norm after backward exceeded ``max_norm``."""
    return [
        (e["epoch"], e["batch"]) for e in events if e["kind"] == "step" and e["pre_norm"] > max_norm
    ]


def check_history(
    got: Any, expected: list[dict[str, Any]], problems: list[Problem], *, patience: int | None
) -> None:
    """``fit``'s rows against the reference's: one per epoch run, keys, epoch numbers, values."""
    if not isinstance(got, list) or not all(isinstance(r, dict) for r in got):
        raise Failure(f"fit should return a list of dicts (one per epoch), got {checks.fmt(got)}")
    if len(got) != len(expected):
        hint = ""
        if patience is not None and len(got) > len(expected):
            hint = (
                f"with patience={patience}, stop once {patience} epochs in a row brought no new "
                "best (lowest) validation loss"
            )
        elif patience is not None:
            hint = "an epoch counts as an improvement only if its val_loss is strictly lower "
            hint += "than the best so far; stop after `patience` epochs without one"
        p = first_problem(problems)
        raise Failure(
            f"fit returned {len(got)} history rows, expected {len(expected)} (one per epoch "
            "that ran)" + (f"; {p.message}" if p else ""),
            hint or (p.hint if p else ""),
        )
    for i, (row, exp) in enumerate(zip(got, expected)):
        missing = [k for k in exp if k not in row]
        if missing:
            raise Failure(f"history row {i} has no {missing[0]!r} key (it has {sorted(row)})")
        check_number(row["epoch"], exp["epoch"], f"history row {i}: 'epoch'", integer=True)
        for key in ("train_loss", "val_loss", "val_accuracy", "lr"):
            try:
                check_number(row[key], exp[key], f"epoch {i}: {key!r}")
            except Failure as failure:
                p = first_problem(problems)
                if p is None or failure.hint:
                    raise
                raise Failure(f"{failure.message}; {p.message}", p.hint) from None
