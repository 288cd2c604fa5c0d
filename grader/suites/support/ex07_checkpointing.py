"""Specs and diagnoses for exercise-7 (checkpointing and resuming), shared by its suites.

The worker (``grader/worker/scenarios/ex07_checkpointing.py``) trains with its own trusted loop,
calls the student's ``save_checkpoint`` / ``load_checkpoint`` and reports parameters,
optimizer and scheduler states, batch orders and RNG draws as data. Here that data is compared
(``torch.equal``: a resume must be bit-identical) and, when it differs, explained: which state
was not restored, and what that looks like in a training run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from grader.judge import checks
from grader.judge.failures import Failure, StudentError

HINTS = {
    "model": "restore the weights with model.load_state_dict(checkpoint['model'])",
    "optimizer": (
        "a loss spike after resume: the optimizer's state (momentum buffers, Adam's moments "
        "and step count) was not restored, so the first steps after loading behave like those "
        "of a new run; save optimizer.state_dict() and restore it with "
        "optimizer.load_state_dict()"
    ),
    "scheduler": (
        "the learning rate was reset after resume: the scheduler's state was not restored, so "
        "the schedule started over; save scheduler.state_dict() and restore it with "
        "scheduler.load_state_dict()"
    ),
    "rng_order": (
        "the resumed run diverged in data order: the RNG state was not restored, and a "
        "shuffling DataLoader draws each epoch's permutation from torch's global generator; "
        "save torch.get_rng_state() and restore it with torch.set_rng_state()"
    ),
    "rng_torch": (
        "the dropout masks differed after resume: torch's RNG state was not restored; save "
        "torch.get_rng_state() and restore it with torch.set_rng_state()"
    ),
    "rng_torch_state": (
        "torch's global RNG state was not restored: save torch.get_rng_state() and restore it "
        "with torch.set_rng_state() (when restore_rng is True)"
    ),
    "rng_numpy": (
        "NumPy's global RNG state was not restored: save np.random.get_state() (its key array "
        "as a list) and restore it with np.random.set_state()"
    ),
    "rng_python": (
        "Python's random state was not restored: save random.getstate() and restore it with "
        "random.setstate()"
    ),
    "numpy_pickle": (
        "NumPy's RNG state was stored as np.random.get_state() returns it, with an ndarray "
        "inside, and torch.load(weights_only=True) refuses ndarrays: store the key array as a "
        "list (keys.tolist()) and rebuild it with np.array(keys, dtype=np.uint32) on restore"
    ),
    "pickled_objects": (
        "the checkpoint pickles whole objects, which weights_only loading refuses: save "
        "model.state_dict() and optimizer.state_dict(), never the objects themselves"
    ),
    "weights_only": (
        "load with torch.load(path, weights_only=True), passed explicitly: only then is "
        "unpickling limited to tensors and plain data, whatever the environment says"
    ),
    "atomic": (
        "write to a temporary file in the same directory, then os.replace() it onto path: a "
        "rename is atomic, so a failed save leaves the previous checkpoint as it was"
    ),
    "stray": (
        "delete the temporary file when the save fails (try/except around torch.save, remove "
        "the file, re-raise)"
    ),
    "swallowed": "let the error propagate, so the caller knows the checkpoint was not saved",
}


def mlp_state(sizes: Sequence[int], dropout: float, seed: int) -> dict[str, Tensor]:
    """Initial weights for the worker's MLP (Linear, ReLU, Dropout, ..., Linear; float64)."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b, dtype=torch.float64))
        if i < len(sizes) - 2:
            layers += [nn.ReLU(), nn.Dropout(dropout)]
    return {k: v.detach().clone() for k, v in nn.Sequential(*layers).state_dict().items()}


def make_spec(
    seed: int,
    *,
    sizes: Sequence[int] = (4, 16, 3),
    n: int = 20,
    batch_size: int = 4,
    dropout: float = 0.3,
    optimizer: dict[str, Any] | None = None,
    scheduler: dict[str, Any] | None = None,
    max_grad_norm: float | None = None,
    augment: bool = False,
) -> dict[str, Any]:
    gen = torch.Generator().manual_seed(seed)
    return {
        "sizes": list(sizes),
        "dropout": dropout,
        "state": mlp_state(sizes, dropout, seed),
        "X": torch.randn(n, sizes[0], generator=gen, dtype=torch.float64),
        "y": torch.randint(0, sizes[-1], (n,), generator=gen),
        "batch_size": batch_size,
        "optimizer": optimizer or {"name": "sgd", "lr": 0.1, "momentum": 0.9},
        "scheduler": scheduler,
        "max_grad_norm": max_grad_norm,
        "augment": augment,
    }


def run(student: Any, name: str, **kwargs: Any) -> Any:
    """``student.scenario(name, ...)``, with a hint when the failure is a known one."""
    try:
        return student.scenario(name, **kwargs)
    except StudentError as failure:
        if (
            not failure.hint
            and "numpy" in failure.message
            and "Unsupported global" in (failure.message)
        ):
            failure.hint = HINTS["numpy_pickle"]
        raise


# -- resume ----------------------------------------------------------------------------------------
def _first_param_difference(a: dict[str, Tensor], b: dict[str, Tensor]) -> str | None:
    for name, x in a.items():
        y = b.get(name)
        if y is None or y.shape != x.shape:
            return f"parameter {name} is missing or has another shape"
        if not torch.equal(x, y):
            diff = (x.double() - y.double()).abs()
            i = int(diff.flatten().argmax())
            idx = checks.index_str(i, x.shape)
            return (
                f"parameter {name}{idx}: {checks.fmt(x.flatten()[i].item())} vs "
                f"{checks.fmt(y.flatten()[i].item())} ({int((diff > 0).sum())} of {x.numel()} "
                "values differ)"
            )
    return None


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return (
            isinstance(a, Tensor)
            and isinstance(b, Tensor)
            and a.shape == b.shape
            and torch.equal(a, b)
        )
    return a == b


def optimizer_difference(saved: list[list[Any]], loaded: list[list[Any]]) -> str | None:
    """The first optimizer state entry that differs after loading, in words."""
    saved_keys = [(r[0], r[1]) for r in saved]
    loaded_map = {(r[0], r[1]): r[2] for r in loaded}
    for (pid, key), value in zip(saved_keys, [r[2] for r in saved]):
        if (pid, key) not in loaded_map:
            what = f"param group {-1 - pid}'s {key}" if pid < 0 else f"{key!r} of parameter {pid}"
            return f"the optimizer has no {what} after loading (it was saved)"
        if not _equal(value, loaded_map[(pid, key)]):
            what = f"param group {-1 - pid}'s {key}" if pid < 0 else f"{key!r} of parameter {pid}"
            return f"the optimizer's {what} differs from the saved one after loading"
    return None


def scheduler_difference(saved: Any, loaded: Any) -> str | None:
    """How the scheduler's position after loading differs from the saved one, in words."""
    if saved == loaded:
        return None
    if saved is None or loaded is None:
        return f"the scheduler's state after loading is {loaded}, it was saved as {saved}"
    return (
        f"after loading, the scheduler is at step {loaded['last_epoch']} with lr "
        f"{loaded['last_lr']}; it was saved at step {saved['last_epoch']} with lr "
        f"{saved['last_lr']}"
    )


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else math.nan


def diagnose_resume(data: dict[str, Any], split: int) -> tuple[str, str]:
    """(evidence, hint) for a resumed run that is not bit-identical to the straight one."""
    at, after = data["at_save"], data["after_load"]
    diff = _first_param_difference(at["params"], after["params"])
    if diff is not None:
        return f"right after load_checkpoint, {diff} (saved vs loaded)", HINTS["model"]
    straight = data["straight"]["epochs"][split:]
    resumed = data["resumed"]["epochs"]
    diff = optimizer_difference(at["optimizer"], after["optimizer"])
    if diff is not None:
        if straight and resumed:
            s, r = _mean(straight[0]["losses"]), _mean(resumed[0]["losses"])
            diff += f"; the first epoch after resume had mean loss {r:.6g} (straight run: {s:.6g})"
        return diff, HINTS["optimizer"]
    evidence = scheduler_difference(at["scheduler"], after["scheduler"])
    if evidence is not None:
        return evidence, HINTS["scheduler"]
    for i, (s, r) in enumerate(zip(straight, resumed)):
        epoch = split + i
        if s["order"] != r["order"]:
            return (
                f"epoch {epoch} saw the samples in the order {r['order'][:8]}... after resume, "
                f"{s['order'][:8]}... in the straight run",
                HINTS["rng_order"],
            )
        if s["np"] != r["np"]:
            return f"epoch {epoch}'s NumPy draws differ after resume", HINTS["rng_numpy"]
        if s["py"] != r["py"]:
            return f"epoch {epoch}'s Python random draws differ after resume", HINTS["rng_python"]
        if s["losses"] != r["losses"]:
            j = next(k for k, (a, b) in enumerate(zip(s["losses"], r["losses"])) if a != b)
            return (
                f"epoch {epoch}, batch {j}: loss {r['losses'][j]!r} after resume, "
                f"{s['losses'][j]!r} in the straight run (same batch order)",
                HINTS["rng_torch"],
            )
    return "", ""


def check_resume(data: dict[str, Any], epochs: int, split: int) -> None:
    """The resumed run's parameters are bit-identical to the straight run's."""
    straight, resumed = data["straight"]["params"], data["resumed"]["params"]
    diff = _first_param_difference(straight, resumed)
    if diff is None:
        return
    evidence, hint = diagnose_resume(data, split)
    raise Failure(
        f"training {epochs} epochs straight and {split} + save + load + {epochs - split} gave "
        f"different parameters: {diff} (straight vs resumed)"
        + (f"; {evidence}" if evidence else ""),
        hint,
    )


def check_weights_only(probe: dict[str, Any]) -> None:
    """The file exists and loads with ``torch.load(weights_only=True)``."""
    if not probe["exists"]:
        raise Failure("save_checkpoint wrote no file at the path it was given")
    if probe["ok"]:
        return
    unsafe = probe.get("unsafe") or []
    hint = ""
    if any(u.startswith("numpy") for u in unsafe):
        hint = HINTS["numpy_pickle"]
    elif any(u.startswith("torch.nn.modules") or u.startswith("torch.optim") for u in unsafe):
        hint = HINTS["pickled_objects"]
    needs = f" (it needs {', '.join(unsafe[:4])})" if unsafe else ""
    raise Failure(
        f"torch.load(path, weights_only=True) refuses the checkpoint{needs}: "
        f"{probe['error'].splitlines()[0][:200]}",
        hint or "store only tensors, numbers, strings, None and lists/tuples/dicts of them",
    )


def check_atomic(data: dict[str, Any]) -> None:
    """The failed save raised, left the previous checkpoint loadable and no stray files."""
    if not data["raised"]:
        raise Failure(
            "save_checkpoint returned normally although writing the file failed (the disk "
            "was full)",
            HINTS["swallowed"],
        )
    probe = data["probe"]
    if not probe["ok"] and probe["unsafe"]:
        check_weights_only(probe)  # complete but refused: not an atomicity problem
    if not probe["ok"] or data["loaded_epoch"] != data["saves"] - 1:
        state = "is missing" if not probe["exists"] else "no longer loads"
        why = data["load_error"] or probe["error"]
        raise Failure(
            f"after a save that failed part-way, the previous checkpoint {state}"
            + (f" ({why.splitlines()[0][:160]})" if why else "")
            + (f"; load_checkpoint returned epoch {data['loaded_epoch']}" if probe["ok"] else ""),
            HINTS["atomic"],
        )
    stray = [f for f in data["files"] if f != "checkpoint.pt"] + data["stray_tmp"]
    if stray:
        raise Failure(
            f"a failed save left files behind: {', '.join(stray)} (only checkpoint.pt should "
            "remain)",
            HINTS["stray"],
        )
