"""Worker-side harness for exercise-6: build a training run from a spec and record every call.

The judge sends a *spec* (plain data: layer sizes, initial weights, data tensors, the batch
order of each epoch, optimizer and scheduler settings). Here it becomes real objects -- a
model, loaders, a loss function, an optimizer, a scheduler -- each made to record what happens
to it, in order, as plain dicts:

- ``forward``: the model ran (its mode, whether autograd was recording, the batch's device);
- ``mode``: ``model.train(mode)`` / ``model.eval()`` was called;
- ``loss``: the loss function ran (its value; ``stale``: how many *older* batches' autograd
  graphs were still alive, which only happens when loss tensors are kept);
- ``backward``: a backward pass reached the loss (``clean``: whether every gradient was zero
  or ``None`` just before it; ``dloss``: the gradient flowing into the loss, 1/k when the loss
  was divided by k);
- ``zero_grad``, ``step`` (the total gradient norm right after backward, ``pre_norm``, and at
  the moment of the step, ``norm``; the learning rate used), ``sched`` (the new lr);
- ``clip``: ``torch.nn.utils.clip_grad_norm_`` was called (see the probe below);
- ``changed_after_step``: gradients were modified after ``optimizer.step()`` used them;
- ``epoch_start`` / ``val_start``: a loader began a pass.

Every event carries ``epoch`` and ``batch``: the training batch most recently handed out. The
judge decides what the record means; nothing here judges. The objects themselves are built by
:func:`grader.worker.scenarios.common.training.build`, exactly as the judge builds them for its
reference run; this module only makes them record.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import Any, cast

import torch
import torch._dynamo  # noqa: F401  (an optimizer's constructor imports it: do it while the judge starts)
from torch import Tensor, nn

from grader.worker.harness import Student, scenario
from grader.worker.scenarios.common import training

# -- the clip probe ------------------------------------------------------------------------------
# Installed when the worker imports this module, before the submission is imported, so that a
# student's ``from torch.nn.utils import clip_grad_norm_`` gets it too. It only records (into the
# recorder of the running scenario, if any) and then does exactly what torch's function does.
_ACTIVE: list[Recorder] = []
_TORCH_CLIP = torch.nn.utils.clip_grad_norm_


@functools.wraps(_TORCH_CLIP)
def _probed_clip_grad_norm_(*args: Any, **kwargs: Any) -> Tensor:
    total = _TORCH_CLIP(*args, **kwargs)
    if _ACTIVE:
        max_norm = args[1] if len(args) > 1 else kwargs.get("max_norm")
        _ACTIVE[-1].add("clip", returned=float(total), max_norm=max_norm)
    return total


torch.nn.utils.clip_grad_norm_ = _probed_clip_grad_norm_
torch.nn.utils.clip_grad.clip_grad_norm_ = _probed_clip_grad_norm_


class _Marker:
    """Lives exactly as long as one loss's autograd graph (held by its grad_fn as a hook)."""

    def __call__(self, *_: Any) -> None:
        return None


class Recorder:
    """The event log of one run, plus the gradient snapshots needed to interpret steps."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.params: list[nn.Parameter] = []
        self.after_backward: list[Tensor | None] = []
        self.at_step: list[Tensor | None] | None = None
        self.markers: list[weakref.ref[_Marker]] = []
        self.epoch, self.batch = -1, -1

    def add(self, kind: str, **info: Any) -> None:
        self.events.append({"kind": kind, "epoch": self.epoch, "batch": self.batch, **info})

    # -- gradients -------------------------------------------------------------------------------
    def watch(self, params: list[nn.Parameter]) -> None:
        self.params = params
        self.after_backward = [None] * len(params)
        for i, p in enumerate(params):
            # torch leaves Tensor.register_post_accumulate_grad_hook unannotated.
            hook = functools.partial(self._accumulated, i)
            p.register_post_accumulate_grad_hook(hook)  # type: ignore[no-untyped-call]

    def _accumulated(self, i: int, p: Tensor) -> None:
        self.after_backward[i] = None if p.grad is None else p.grad.detach().clone()

    def grads(self) -> list[Tensor | None]:
        return [None if p.grad is None else p.grad.detach().clone() for p in self.params]

    @staticmethod
    def norm(grads: list[Tensor | None]) -> float:
        norms = [torch.linalg.vector_norm(g.double()) for g in grads if g is not None]
        return float(torch.linalg.vector_norm(torch.stack(norms))) if norms else 0.0

    def clean(self) -> bool:
        return all(p.grad is None or not bool(p.grad.any()) for p in self.params)

    def check_after_step(self) -> None:
        """Record whether the gradients the last step used were changed since (not zeroed)."""
        if self.at_step is None:
            return
        for before, p in zip(self.at_step, self.params):
            now = p.grad
            if before is None or now is None or not bool(now.any()):
                continue
            if not torch.equal(before, now.detach()):
                self.add("changed_after_step", norm=self.norm(self.grads()))
                break
        self.at_step = None

    # -- hooks the wrapped objects call ----------------------------------------------------------
    def on_step(self, optimizer: torch.optim.Optimizer) -> None:
        current = self.grads()
        self.add(
            "step",
            pre_norm=self.norm(self.after_backward),
            norm=self.norm(current),
            lr=float(optimizer.param_groups[0]["lr"]),
        )
        self.at_step = current

    def on_loss(self, loss: Tensor) -> None:
        stale = sum(ref() is not None for ref in self.markers[:-1])
        self.add("loss", value=float(loss.detach()), stale=stale, grad=loss.requires_grad)
        if loss.grad_fn is not None:
            marker = _Marker()
            loss.grad_fn.register_prehook(marker)
            self.markers.append(weakref.ref(marker))
            loss.register_hook(self.on_backward)  # type: ignore[no-untyped-call]  # torch: unannotated

    def on_backward(self, grad: Tensor) -> None:
        self.check_after_step()
        self.add("backward", clean=self.clean(), dloss=float(grad.detach().double().sum()))

    # -- the loaders' observer (see training.BatchLoader) ----------------------------------------
    def pass_started(self, kind: str, epoch: int) -> None:
        if kind == "train":
            self.epoch, self.batch = epoch, -1
        self.add(f"{'epoch' if kind == 'train' else 'val'}_start", pass_=epoch)

    def batch_started(self, kind: str, batch: int) -> None:
        if kind == "train":
            self.batch = batch


# -- recording objects ---------------------------------------------------------------------------
_RECORDERS: weakref.WeakKeyDictionary[Any, Recorder] = weakref.WeakKeyDictionary()


class RecordedMLP(nn.Sequential):
    """Linear -> ReLU -> (Dropout) -> Linear -> ... that logs forward passes and mode changes."""

    def forward(self, x: Tensor) -> Tensor:
        rec = _RECORDERS.get(self)
        if rec is not None:
            rec.add(
                "forward",
                training=self.training,
                grad=torch.is_grad_enabled(),
                device=x.device.type,
                rows=int(x.shape[0]) if x.ndim else 0,
            )
        # torch leaves Sequential.forward unannotated (it returns whatever the last layer does).
        out: Tensor = super().forward(x)  # type: ignore[no-untyped-call]
        return out

    def train(self, mode: bool = True) -> RecordedMLP:
        rec = _RECORDERS.get(self)
        if rec is not None:
            rec.add("mode", training=bool(mode))
        return super().train(mode)

    def zero_grad(self, set_to_none: bool = True) -> None:
        rec = _RECORDERS.get(self)
        if rec is not None:
            rec.check_after_step()
            rec.add("zero_grad", via="model")
        super().zero_grad(set_to_none)


@functools.cache
def _recorded(cls: type) -> type:
    """A subclass of an optimizer or scheduler class whose zero_grad / step are logged."""
    if issubclass(cls, torch.optim.Optimizer):

        def zero_grad(self: Any, set_to_none: bool = True) -> None:
            rec = _RECORDERS.get(self)
            if rec is not None:
                rec.check_after_step()
                rec.add("zero_grad", via="optimizer")
            cls.zero_grad(self, set_to_none)

        return type(cls.__name__, (cls,), {"zero_grad": zero_grad})

    # Otherwise cls is a scheduler class (training.SCHEDULERS): issubclass narrows only the branch.
    scheduler_cls = cast(type[torch.optim.lr_scheduler.LRScheduler], cls)

    def step(self: Any, *args: Any, **kwargs: Any) -> None:
        scheduler_cls.step(self, *args, **kwargs)
        rec = _RECORDERS.get(self)
        if rec is not None:
            rec.add("sched", lr=float(self.optimizer.param_groups[0]["lr"]))

    return type(cls.__name__, (cls,), {"step": step})


class RecordedLoss:
    """The loss function the student receives: computes the loss and logs it."""

    def __init__(self, fn: Callable[[Tensor, Tensor], Tensor], rec: Recorder) -> None:
        self.fn = fn
        self.rec = rec

    def __call__(self, outputs: Tensor, targets: Tensor) -> Tensor:
        loss = self.fn(outputs, targets)
        self.rec.on_loss(loss)
        return loss


def build(spec: dict[str, Any], device: str) -> dict[str, Any]:
    """The objects of ``spec``, built as the judge builds them but recording into a new
    :class:`Recorder` (``"rec"``), which also becomes the clip probe's."""
    rec = Recorder()
    _ACTIVE[:] = [rec]
    objs = training.build(spec, device, container=RecordedMLP, wrap=_recorded, observer=rec)
    model, optimizer, scheduler = objs["model"], objs["optimizer"], objs["scheduler"]
    rec.watch(list(model.parameters()))
    optimizer.register_step_pre_hook(lambda opt, args, kwargs: rec.on_step(opt))
    for obj in (model, optimizer, scheduler):
        if obj is not None:
            _RECORDERS[obj] = rec
    return {**objs, "rec": rec, "loss_fn": RecordedLoss(objs["loss_fn"], rec)}


def _report(objs: dict[str, Any], result: Any, **extra: Any) -> dict[str, Any]:
    rec: Recorder = objs["rec"]
    rec.check_after_step()
    _ACTIVE.clear()
    model = objs["model"]
    return {
        "result": result,
        "params": training.params_of(model),
        "events": rec.events,
        "training_after": model.training,
        "grad_enabled_after": torch.is_grad_enabled(),
        "lr_after": float(objs["optimizer"].param_groups[0]["lr"]),
        **extra,
    }


@scenario
def train_epoch(
    student: Student,
    *,
    spec: dict[str, Any],
    kwargs: dict[str, Any],
    device: str = "cpu",
    start_training: bool = False,
) -> dict[str, Any]:
    """One call of the student's ``train_one_epoch`` on the recorded objects of ``spec``.

    ``kwargs`` are passed through (only those the judge chose to give); ``scheduler=True`` in
    them means "pass the spec's scheduler". The model starts in train mode only if
    ``start_training``, so a missing ``model.train()`` shows.
    """
    fn = student.train_one_epoch
    objs = build(spec, device)
    objs["model"].train(start_training)
    objs["rec"].events.clear()
    call = training.call_arguments(kwargs, objs, device)
    result = fn(objs["model"], objs["train"], objs["loss_fn"], objs["optimizer"], **call)
    return _report(objs, result)


@scenario
def evaluate(
    student: Student,
    *,
    spec: dict[str, Any],
    start_training: bool,
    repeats: int = 2,
    device: str = "cpu",
) -> dict[str, Any]:
    """``evaluate`` ``repeats`` times on the spec's training data (one pass each)."""
    fn = student.evaluate
    objs = build(spec, device)
    objs["model"].train(start_training)
    objs["rec"].events.clear()
    results, modes = [], []
    for _ in range(repeats):
        results.append(fn(objs["model"], objs["train"], objs["loss_fn"], device=device))
        modes.append(objs["model"].training)
    return _report(objs, results, modes=modes)


@scenario
def fit(
    student: Student, *, spec: dict[str, Any], kwargs: dict[str, Any], device: str = "cpu"
) -> dict[str, Any]:
    """The student's ``fit`` on the recorded objects; ``scheduler=True`` passes the spec's."""
    fn = student.fit
    objs = build(spec, device)
    objs["rec"].events.clear()
    call = training.call_arguments(kwargs, objs, device)
    history = fn(
        objs["model"], objs["train"], objs["val"], objs["loss_fn"], objs["optimizer"], **call
    )
    return _report(objs, history)
