"""Worker-side harness for exercise-7: train, checkpoint with the student's code, resume, report.

A resume is two scenarios in two worker processes. The *save* half (``resume_save``,
``roundtrip_save``, ``rng_save``, ``atomic_save``, ``map_location_save``) trains and calls the
student's ``save_checkpoint``, then returns the checkpoint file's bytes. The judge starts a
fresh worker -- one that never ran the saving code, so whatever the student's code kept in
memory is gone -- and the *load* half writes those bytes into its own scratch folder, rebuilds
every object from scratch, calls ``load_checkpoint`` and reports what it restored and how
training went on. Bytes travel through the protocol only: the judge never opens a file in a
worker's folder, and never loads a file the student wrote.

The scenarios measure and report; they decide nothing. The judge compares what the load half
reports with its own reference run (``reference/support/ex07_checkpointing.py``), which builds
and trains with the functions below -- :func:`seed_all`, :func:`build`, :func:`train_epoch`,
:func:`snapshot` -- so both sides see the same weights, batches and dropout masks. The model,
optimizer and scheduler come from :mod:`grader.worker.scenarios.common.training`, as exercise
6's do. The load
half is given only what continuing needs: not the initial weights, not the training seed.

The training loop here is trusted harness code (a plain SGD/Adam loop with dropout, a shuffling
``DataLoader`` that draws from torch's global RNG, and optionally NumPy/Python randomness in
the inputs), so the only student code in a resumed run is ``save_checkpoint`` and
``load_checkpoint``.
"""

from __future__ import annotations

import contextlib
import os
import random
import resource
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch._dynamo  # noqa: F401  (an optimizer's constructor imports it: do it while the judge starts)
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from grader.worker.harness import Student, scenario
from grader.worker.scenarios.common.training import mlp, optimizer_for, params_of, scheduler_for


class LoggedDataset(Dataset[tuple[Tensor, Tensor]]):
    """``(X[i], y[i])``, logging every index it hands out (the order the sampler chose)."""

    def __init__(self, X: Tensor, y: Tensor) -> None:
        self.X, self.y = X, y
        self.log: list[int] = []

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        self.log.append(int(i))
        return self.X[i], self.y[i]


def seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def build(spec: dict[str, Any], *, fresh: bool = False) -> dict[str, Any]:
    """Model, optimizer, scheduler and loader of ``spec``; ``fresh``: new random weights."""
    model = mlp(spec["sizes"], spec.get("dropout", 0.0))
    if not fresh:
        model.load_state_dict(spec["state"])
    optimizer = optimizer_for(spec["optimizer"], model.parameters())
    scheduler = scheduler_for(spec.get("scheduler"), optimizer)
    dataset = LoggedDataset(spec["X"], spec["y"])
    loader = DataLoader(dataset, batch_size=spec["batch_size"], shuffle=True)
    return {
        "model": model,
        "optimizer": optimizer,
        "scheduler": scheduler,
        "dataset": dataset,
        "loader": loader,
    }


def train_epoch(objs: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """One epoch of the harness's own loop; what it saw, for the judge to compare."""
    model, optimizer, scheduler = objs["model"], objs["optimizer"], objs["scheduler"]
    order: list[int] = []
    objs["dataset"].log = order
    losses, lrs, np_draws, py_draws = [], [], [], []
    model.train()
    for x, y in objs["loader"]:
        if spec.get("augment"):
            noise = np.random.standard_normal(tuple(x.shape))
            factor = random.uniform(0.5, 1.5)
            np_draws.append(float(noise.flat[0]))
            py_draws.append(factor)
            x = x + 0.05 * factor * torch.from_numpy(noise)
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves backward() unannotated
        if spec.get("max_grad_norm"):
            nn.utils.clip_grad_norm_(model.parameters(), spec["max_grad_norm"])
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.item())
        lrs.append(float(optimizer.param_groups[0]["lr"]))
    return {"order": order, "losses": losses, "lrs": lrs, "np": np_draws, "py": py_draws}


def optimizer_state(optimizer: torch.optim.Optimizer) -> list[list[Any]]:
    """``[param id, key, value]`` rows of the optimizer's state, then each group's lr."""
    sd = optimizer.state_dict()
    rows: list[list[Any]] = []
    for pid, state in sorted(sd["state"].items()):
        for key, value in sorted(state.items()):
            v = value.detach().to("cpu").clone() if isinstance(value, Tensor) else value
            rows.append([int(pid), str(key), v])
    for g, group in enumerate(sd["param_groups"]):
        rows.append([-1 - g, "lr", float(group["lr"])])
    return rows


def scheduler_state(scheduler: Any) -> dict[str, Any] | None:
    if scheduler is None:
        return None
    return {"last_epoch": int(scheduler.last_epoch), "last_lr": list(scheduler.get_last_lr())}


def snapshot(objs: dict[str, Any]) -> dict[str, Any]:
    return {
        "params": params_of(objs["model"]),
        "optimizer": optimizer_state(objs["optimizer"]),
        "scheduler": scheduler_state(objs["scheduler"]),
    }


def draws() -> dict[str, Any]:
    """A few numbers from each global generator (torch, Python ``random``, NumPy)."""
    return {
        "torch": torch.rand(4, dtype=torch.float64),
        "python": [random.random() for _ in range(4)],
        "numpy": np.random.random_sample(4).tolist(),
    }


def rng_states() -> tuple[Any, Any, Any]:
    return torch.get_rng_state(), random.getstate(), np.random.get_state()


def set_rng_states(states: tuple[Any, Any, Any]) -> None:
    torch.set_rng_state(states[0])
    random.setstate(states[1])
    np.random.set_state(states[2])


def fresh_dir(name: str) -> Path:
    folder = Path.cwd() / "checkpoints" / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def probe(path: Path) -> dict[str, Any]:
    """What ``torch.load(weights_only=True)`` makes of the file (loaded here, in the sandbox)."""
    out: dict[str, Any] = {"exists": path.is_file(), "ok": False, "error": "", "unsafe": []}
    if not out["exists"]:
        return out
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
        out["ok"] = True
        out["keys"] = sorted(str(k) for k in loaded) if isinstance(loaded, dict) else []
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {str(exc)[:600]}"
        with contextlib.suppress(Exception):
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
            out["unsafe"] = [str(u) for u in unsafe]
    return out


MAX_CHECKPOINT_BYTES = 32 << 20  # a checkpoint of these tiny models is a few kilobytes


def checkpoint_bytes(path: str | Path) -> dict[str, Any]:
    """The file at ``path`` as bytes, for the judge to hand to a fresh worker.

    ``size`` is -1 when there is no regular file there; ``checkpoint`` is None then, and when
    the file is too large to be worth sending.
    """
    path = Path(path)
    if not path.is_file():
        return {"checkpoint": None, "size": -1}
    size = path.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        return {"checkpoint": None, "size": size}
    data = path.read_bytes()[: MAX_CHECKPOINT_BYTES + 1]
    return {"checkpoint": data, "size": len(data)}


def place(name: str, checkpoint: bytes, as_pathlike: bool = False) -> str | Path:
    """Write the judge's ``checkpoint`` bytes into this worker's own scratch folder."""
    target = _path(fresh_dir(name), as_pathlike)
    Path(target).write_bytes(bytes(checkpoint))
    return target


class RunsCode:
    """Pickles as "call os.mkdir(sentinel)": loading it with weights_only=False runs that."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = str(sentinel)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.mkdir, (self.sentinel,))


def write_malicious(path: Path, sentinel: Path) -> None:
    """A file shaped like a checkpoint whose unpickling would create ``sentinel``."""
    torch.save({"model": RunsCode(sentinel), "optimizer": {}, "epoch": 0, "extra": None}, path)


def _path(folder: Path, as_pathlike: bool) -> str | Path:
    target = folder / "checkpoint.pt"
    return target if as_pathlike else str(target)


# -- scenarios -----------------------------------------------------------------------------------
@scenario
def resume_save(
    student: Student, *, spec: dict[str, Any], split: int, seed: int, as_pathlike: bool = False
) -> dict[str, Any]:
    """Train ``split`` epochs from ``seed``, save with the student's code, return the bytes."""
    path = _path(fresh_dir("resume"), as_pathlike)
    seed_all(seed)
    objs = build(spec)
    for _ in range(split):
        train_epoch(objs, spec)
    student.save_checkpoint(
        path,
        model=objs["model"],
        optimizer=objs["optimizer"],
        scheduler=objs["scheduler"],
        epoch=split - 1,
        best_val_loss=0.5,
        extra={"run": "resume"},
    )
    return checkpoint_bytes(path)


@scenario
def resume_load(
    student: Student,
    *,
    spec: dict[str, Any],
    checkpoint: bytes,
    more: int,
    scramble: int,
    as_pathlike: bool = False,
) -> dict[str, Any]:
    """Scrambled generators, every object new (new random weights), load, train ``more``."""
    path = place("resume", checkpoint, as_pathlike)
    seed_all(scramble)
    torch.rand(17)
    objs = build(spec, fresh=True)
    student.load_checkpoint(
        path, model=objs["model"], optimizer=objs["optimizer"], scheduler=objs["scheduler"]
    )
    after_load = snapshot(objs)
    resumed = [train_epoch(objs, spec) for _ in range(more)]
    return {
        "after_load": after_load,
        "resumed": {"params": params_of(objs["model"]), "epochs": resumed},
    }


@scenario
def inspect(student: Student, *, spec: dict[str, Any]) -> dict[str, Any]:
    """Save once after a short run; report how the file loads with ``weights_only=True``."""
    folder = fresh_dir("inspect")
    seed_all(0)
    objs = build(spec)
    train_epoch(objs, spec)
    path = folder / "checkpoint.pt"
    student.save_checkpoint(
        str(path),
        model=objs["model"],
        optimizer=objs["optimizer"],
        scheduler=objs["scheduler"],
        epoch=0,
    )
    return {**probe(path), "files": sorted(os.listdir(folder))}


@scenario
def roundtrip_save(
    student: Student,
    *,
    spec: dict[str, Any],
    seed: int,
    best_val_loss: float | None,
    extra: Any,
) -> dict[str, Any]:
    """One epoch from ``seed``, then a save with epoch 7 and the judge's metadata."""
    path = _path(fresh_dir("roundtrip"), False)
    seed_all(seed)
    objs = build(spec)
    train_epoch(objs, spec)
    student.save_checkpoint(
        path,
        model=objs["model"],
        optimizer=objs["optimizer"],
        scheduler=objs["scheduler"],
        epoch=7,
        best_val_loss=best_val_loss,
        extra=extra,
    )
    return checkpoint_bytes(path)


@scenario
def roundtrip_load(student: Student, *, spec: dict[str, Any], checkpoint: bytes) -> dict[str, Any]:
    """Load into a fresh model alone (no optimizer, no scheduler)."""
    path = place("roundtrip", checkpoint)
    model = build(spec, fresh=True)["model"]
    info = student.load_checkpoint(path, model=model)
    return {"info": info, "loaded": params_of(model)}


@scenario
def rng_save(student: Student, *, spec: dict[str, Any], seed: int) -> dict[str, Any]:
    """Save right after building the objects from ``seed``: the generators' states then."""
    path = _path(fresh_dir("rng"), False)
    seed_all(seed)
    objs = build(spec)
    student.save_checkpoint(path, model=objs["model"], optimizer=objs["optimizer"], epoch=0)
    return checkpoint_bytes(path)


@scenario
def rng_load(
    student: Student, *, spec: dict[str, Any], checkpoint: bytes, scramble: int, untouched: int
) -> dict[str, Any]:
    """Draws after a load that restores the RNG states, and after one with restore_rng=False
    (the generators seeded with ``untouched`` just before it)."""
    path = place("rng", checkpoint)
    model = build(spec, fresh=True)["model"]  # built first: initializing it draws numbers
    seed_all(scramble)
    student.load_checkpoint(path, model=model)
    restored = draws()

    model = build(spec, fresh=True)["model"]
    seed_all(untouched)
    student.load_checkpoint(path, model=model, restore_rng=False)
    return {"restored": restored, "untouched": draws()}


@scenario
def malicious(student: Student, *, spec: dict[str, Any], force_env: bool) -> dict[str, Any]:
    """A checkpoint whose unpickling would create a directory: does load_checkpoint refuse it?

    With ``force_env``, ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` is set (as anyone who controls
    the environment could), so only an explicit ``weights_only=True`` still refuses.
    """
    folder = fresh_dir("malicious")
    sentinel = folder / "code-ran"
    path = folder / "checkpoint.pt"
    write_malicious(path, sentinel)
    model = build(spec, fresh=True)["model"]
    old = os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")
    if force_env:
        os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    raised, message = "", ""
    try:
        student.load_checkpoint(str(path), model=model)
    except NotImplementedError:
        raise
    except Exception as exc:
        raised, message = type(exc).__name__, str(exc)[:300]
    finally:
        if old is None:
            os.environ.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
        else:
            os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = old
    return {"raised": raised, "message": message, "code_ran": sentinel.exists()}


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Writes past ``limit`` bytes fail with EFBIG (a full disk, as far as the writer knows)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


@scenario
def atomic_save(student: Student, *, spec: dict[str, Any], saves: int, blob: int) -> dict[str, Any]:
    """``saves`` good saves, then one that runs out of disk space part-way through; what is
    left at the path goes back as bytes, to be loaded in a fresh worker."""
    folder = fresh_dir("atomic")
    path = str(folder / "checkpoint.pt")
    tmp_before = set(os.listdir(tempfile.gettempdir()))
    seed_all(2)
    objs = build(spec)
    for epoch in range(saves):
        train_epoch(objs, spec)
        student.save_checkpoint(path, model=objs["model"], optimizer=objs["optimizer"], epoch=epoch)
    files_after_good = sorted(os.listdir(folder))
    size = os.path.getsize(path) if os.path.exists(path) else 0
    raised, message = "", ""
    with file_size_limit(size + 2048):
        try:
            student.save_checkpoint(
                path,
                model=objs["model"],
                optimizer=objs["optimizer"],
                epoch=saves,
                extra={"blob": torch.zeros(blob, dtype=torch.float64)},
            )
        except NotImplementedError:
            raise
        except Exception as exc:
            raised, message = type(exc).__name__, str(exc)[:300]
    return {
        **checkpoint_bytes(path),
        "files_after_good": files_after_good,
        "raised": raised,
        "message": message,
        "files": sorted(os.listdir(folder)),
        "stray_tmp": sorted(set(os.listdir(tempfile.gettempdir())) - tmp_before),
    }


@scenario
def atomic_load(student: Student, *, spec: dict[str, Any], checkpoint: bytes) -> dict[str, Any]:
    """How the file a failed save left behind loads: ``weights_only=True``, then the
    student's ``load_checkpoint`` into a fresh model."""
    path = place("atomic", checkpoint)
    loaded_epoch: Any = None
    load_error = ""
    try:
        info = student.load_checkpoint(str(path), model=build(spec, fresh=True)["model"])
        loaded_epoch = info.get("epoch") if isinstance(info, dict) else None
    except NotImplementedError:
        raise
    except Exception as exc:
        load_error = f"{type(exc).__name__}: {str(exc)[:300]}"
    return {"probe": probe(Path(path)), "loaded_epoch": loaded_epoch, "load_error": load_error}


MAP_LOCATION_LR = 0.5  # p - 0.5 * 1 rounds once, on any device: the judge knows the result


@scenario
def map_location_save(student: Student, *, spec: dict[str, Any]) -> dict[str, Any]:
    """A model on the GPU after one SGD step with gradients of ones, saved by the student."""
    path = _path(fresh_dir("map_location"), False)
    model = build(spec)["model"].to("cuda")
    optimizer = torch.optim.SGD(model.parameters(), lr=MAP_LOCATION_LR, momentum=0.9)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    optimizer.step()
    student.save_checkpoint(path, model=model, optimizer=optimizer, epoch=0)
    return checkpoint_bytes(path)


@scenario
def map_location_load(
    student: Student, *, spec: dict[str, Any], checkpoint: bytes
) -> dict[str, Any]:
    """Load the GPU checkpoint into a CPU model and optimizer with map_location="cpu"."""
    path = place("map_location", checkpoint)
    model = build(spec, fresh=True)["model"]
    optimizer = torch.optim.SGD(model.parameters(), lr=MAP_LOCATION_LR, momentum=0.9)
    student.load_checkpoint(path, model=model, optimizer=optimizer, map_location="cpu")
    return {
        "loaded": params_of(model),
        "devices": sorted({p.device.type for p in model.parameters()}),
    }
