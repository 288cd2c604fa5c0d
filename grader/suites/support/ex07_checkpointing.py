"""Specs, two-process measurements and diagnoses for exercise-7 (checkpointing and resuming).

COURSE.md's criterion is a resume across processes, so every test that saves and loads runs in
two workers: the save half (``grader/worker/scenarios/ex07_checkpointing.py``) trains, calls the
student's ``save_checkpoint`` and sends back the file's bytes; the judge starts a fresh worker,
which never ran the saving code, and the load half writes the bytes into its own folder,
rebuilds everything, loads and trains on. What that fresh worker restores is what counts: state
kept in memory (on ``builtins``, in a module global) dies with the first worker.

Its report is compared with the judge's own run, never with another number from a worker: the
straight training, the state at the save and the random draws a restored generator gives come
from ``reference/support/ex07_checkpointing.py`` (through :func:`grader.judge.expectations.answers`,
so a student release replays them). Comparisons are bit for bit -- a resume must be
bit-identical -- except in a student release, whose recorded runs were computed on the
instructor's machine: there, float64 rounding (another CPU may sum in another order) is
allowed. When a run differs, :func:`diagnose_resume` says which state was not restored and
what that looks like in training.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from grader.judge import checks
from grader.judge.expectations import answers, in_release
from grader.judge.failures import Failure, StudentError
from grader.worker.scenarios.common.training import initial_state

ref = answers("ex07_checkpointing")  # the reference, or its recorded answers in a release
# The judge's own runs (see reference/support/ex07_checkpointing.py):
# (ref, spec, epochs, split, seed, scramble) -> {"straight": {"params", "epochs"}, "at_save"};
# (spec, seed, untouched) -> {"at_save": draws, "untouched": draws}.
_answers = answers("support.ex07_checkpointing")
reference_resume = _answers.reference_resume
reference_draws = _answers.reference_draws

SCRAMBLE = 1_000_003  # the load half's generators start from seed + SCRAMBLE: not the run's
RTOL, ATOL = 1e-9, 1e-11  # float64 after a few dozen steps: a release's cross-machine slack
MAX_CHECKPOINT_MB = 32

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
    "no_file": (
        "write the checkpoint to the path you are given (torch.save to a temporary file next "
        "to it, then os.replace onto it)"
    ),
}


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
        "state": initial_state(sizes, dropout, seed),
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


def saved_bytes(data: Any) -> bytes:
    """The checkpoint bytes a save half sent back, or a failure that says why there are none."""
    blob = data.get("checkpoint") if isinstance(data, dict) else None
    size = data.get("size") if isinstance(data, dict) else None
    if isinstance(blob, bytes):
        return blob
    if isinstance(size, int) and size > MAX_CHECKPOINT_MB << 20:
        raise Failure(
            f"save_checkpoint wrote a file of {size / 2**20:.0f} MB for a model of a few "
            f"hundred weights (the grader reads at most {MAX_CHECKPOINT_MB} MB)",
            "store the state_dicts, the epoch and the RNG states, nothing more",
        )
    raise Failure("save_checkpoint wrote no file at the path it was given", HINTS["no_file"])


def without_initial_weights(spec: dict[str, Any]) -> dict[str, Any]:
    """What a load half needs of ``spec``: data and settings, not where training started."""
    return {k: v for k, v in spec.items() if k != "state"}


def save_then_load(
    student: Any,
    spec: dict[str, Any],
    save: tuple[str, dict[str, Any]],
    load: tuple[str, dict[str, Any]],
) -> dict[str, Any]:
    """Scenario ``save`` (name, arguments) in the current worker, then ``load`` in a fresh one,
    given the checkpoint's bytes and the spec without its initial weights: what it reports."""
    checkpoint = saved_bytes(run(student, save[0], spec=spec, **save[1]))
    student.fresh_worker()
    loaded: dict[str, Any] = run(  # a load scenario's report
        student, load[0], spec=without_initial_weights(spec), checkpoint=checkpoint, **load[1]
    )
    return loaded


def resume(
    student: Any,
    spec: dict[str, Any],
    *,
    epochs: int,
    split: int,
    seed: int,
    as_pathlike: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the judge's straight run, the fresh worker's resumed one): ``split`` epochs + save in
    one worker; rebuild + load + ``epochs - split`` epochs in another."""
    scramble = seed + SCRAMBLE
    loaded = save_then_load(
        student,
        spec,
        ("resume_save", {"split": split, "seed": seed, "as_pathlike": as_pathlike}),
        ("resume_load", {"more": epochs - split, "scramble": scramble, "as_pathlike": as_pathlike}),
    )
    return reference_resume(ref, spec, epochs, split, seed, scramble), loaded


def roundtrip(
    student: Any, spec: dict[str, Any], *, seed: int, best_val_loss: float | None, extra: Any
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """(the parameters saved, as the judge computes them; what a model-only load in a fresh
    worker returned and restored): one epoch from ``seed``, saved with epoch 7 and metadata."""
    loaded = save_then_load(
        student,
        spec,
        ("roundtrip_save", {"seed": seed, "best_val_loss": best_val_loss, "extra": extra}),
        ("roundtrip_load", {}),
    )
    expected = reference_resume(ref, spec, 1, 1, seed, seed + SCRAMBLE)
    return expected["at_save"]["params"], loaded


def rng_round_trip(
    student: Any, spec: dict[str, Any], seed: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the judge's draws, the fresh worker's): a save right after building from ``seed``, then
    in a new process a load that restores the generators and one that must leave them alone."""
    untouched = seed + 29
    loaded = save_then_load(
        student,
        spec,
        ("rng_save", {"seed": seed}),
        ("rng_load", {"scramble": seed + 17, "untouched": untouched}),
    )
    return reference_draws(spec, seed, untouched), loaded


MAP_LOCATION_LR = 0.5  # one SGD step with gradients of ones: p - 0.5, rounded once anywhere


def map_location_round_trip(
    student: Any, spec: dict[str, Any]
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """(the judge's parameters, the fresh worker's report): a model saved from the GPU after
    one known SGD step, loaded into a CPU model with ``map_location="cpu"``."""
    lr = {"lr": MAP_LOCATION_LR}
    loaded = save_then_load(student, spec, ("map_location_save", lr), ("map_location_load", lr))
    return {k: v - MAP_LOCATION_LR for k, v in spec["state"].items()}, loaded


# -- comparisons -----------------------------------------------------------------------------------
def same(a: Any, b: Any) -> bool:
    """Equal bit for bit (to float64 rounding in a student release, see the module)."""
    exact = not in_release()
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
            return False
        if a.shape != b.shape or a.dtype != b.dtype or a.device != b.device:
            return False
        if torch.equal(a, b):
            return True
        return not exact and a.is_floating_point() and torch.allclose(a, b, RTOL, ATOL)
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (not exact and math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL))
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


# -- resume ----------------------------------------------------------------------------------------
def _first_param_difference(a: dict[str, Tensor], b: Any) -> str | None:
    if not isinstance(b, dict):
        return f"the parameters came back as {type(b).__name__}"
    for name, x in a.items():
        y = b.get(name)
        if not isinstance(y, Tensor) or y.shape != x.shape or y.dtype != x.dtype:
            return f"parameter {name} is missing or has another shape or dtype"
        if not same(x, y):
            diff = (x.double() - y.double()).abs()
            i = int(diff.flatten().argmax())
            idx = checks.index_str(i, x.shape)
            return (
                f"parameter {name}{idx}: {checks.fmt(x.flatten()[i].item())} vs "
                f"{checks.fmt(y.flatten()[i].item())} ({int((diff > 0).sum())} of {x.numel()} "
                "values differ)"
            )
    return None


def optimizer_difference(saved: list[list[Any]], loaded: list[list[Any]]) -> str | None:
    """The first optimizer state entry that differs after loading, in words."""
    saved_keys = [(r[0], r[1]) for r in saved]
    loaded_map = {(r[0], r[1]): r[2] for r in loaded}
    for (pid, key), value in zip(saved_keys, [r[2] for r in saved]):
        if (pid, key) not in loaded_map:
            what = f"param group {-1 - pid}'s {key}" if pid < 0 else f"{key!r} of parameter {pid}"
            return f"the optimizer has no {what} after loading (it was saved)"
        if not same(value, loaded_map[(pid, key)]):
            what = f"param group {-1 - pid}'s {key}" if pid < 0 else f"{key!r} of parameter {pid}"
            return f"the optimizer's {what} differs from the saved one after loading"
    return None


def scheduler_difference(saved: Any, loaded: Any) -> str | None:
    """How the scheduler's position after loading differs from the saved one, in words."""
    if same(saved, loaded):
        return None
    if not isinstance(saved, dict) or not isinstance(loaded, dict):
        return f"the scheduler's state after loading is {loaded}, it was saved as {saved}"
    return (
        f"after loading, the scheduler is at step {loaded['last_epoch']} with lr "
        f"{loaded['last_lr']}; it was saved at step {saved['last_epoch']} with lr "
        f"{saved['last_lr']}"
    )


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else math.nan


def diagnose_resume(
    expected: dict[str, Any], loaded: dict[str, Any], split: int
) -> tuple[str, str]:
    """(evidence, hint) for a resumed run that does not end where the judge's straight run
    does: the first state the fresh worker did not get back, or the first epoch that went
    differently."""
    at, after = expected["at_save"], loaded["after_load"]
    diff = _first_param_difference(at["params"], after["params"])
    if diff is not None:
        return f"right after load_checkpoint, {diff} (saved vs loaded)", HINTS["model"]
    straight = expected["straight"]["epochs"][split:]
    resumed = loaded["resumed"]["epochs"]
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
        if not same(s["np"], r["np"]):
            return f"epoch {epoch}'s NumPy draws differ after resume", HINTS["rng_numpy"]
        if not same(s["py"], r["py"]):
            return f"epoch {epoch}'s Python random draws differ after resume", HINTS["rng_python"]
        if not same(s["losses"], r["losses"]):
            j = next(k for k, (a, b) in enumerate(zip(s["losses"], r["losses"])) if not same(a, b))
            return (
                f"epoch {epoch}, batch {j}: loss {r['losses'][j]!r} after resume, "
                f"{s['losses'][j]!r} in the straight run (same batch order)",
                HINTS["rng_torch"],
            )
    return "", ""


def check_resume(expected: dict[str, Any], loaded: dict[str, Any], epochs: int, split: int) -> None:
    """The fresh worker's resumed parameters are bit-identical to the judge's straight run."""
    diff = _first_param_difference(expected["straight"]["params"], loaded["resumed"]["params"])
    if diff is None:
        return
    evidence, hint = diagnose_resume(expected, loaded, split)
    raise Failure(
        f"training {epochs} epochs straight and {split} + save + load in a new process + "
        f"{epochs - split} gave different parameters: {diff} (straight vs resumed)"
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


def check_atomic(student: Any, spec: dict[str, Any], data: dict[str, Any], saves: int) -> None:
    """After ``saves`` good saves, the failed one raised, left the previous checkpoint --
    loaded in a fresh worker -- loadable with the last good save's epoch, and no stray files."""
    if not data["raised"]:
        raise Failure(
            "save_checkpoint returned normally although writing the file failed (the disk "
            "was full)",
            HINTS["swallowed"],
        )
    if data.get("size", -1) < 0:
        raise Failure(
            "after a save that failed part-way, the previous checkpoint is missing", HINTS["atomic"]
        )
    student.fresh_worker()
    loaded = run(
        student, "atomic_load", spec=without_initial_weights(spec), checkpoint=saved_bytes(data)
    )
    probe = loaded["probe"]
    if not probe["ok"] and probe["unsafe"]:
        check_weights_only(probe)  # complete but refused: not an atomicity problem
    if not probe["ok"] or loaded["loaded_epoch"] != saves - 1:
        why = loaded["load_error"] or probe["error"]
        raise Failure(
            "after a save that failed part-way, the previous checkpoint no longer loads"
            + (f" ({why.splitlines()[0][:160]})" if why else "")
            + (f"; load_checkpoint returned epoch {loaded['loaded_epoch']}" if probe["ok"] else ""),
            HINTS["atomic"],
        )
    stray = [f for f in data["files"] if f != "checkpoint.pt"] + data["stray_tmp"]
    if stray:
        raise Failure(
            f"a failed save left files behind: {', '.join(stray)} (only checkpoint.pt should "
            "remain)",
            HINTS["stray"],
        )
