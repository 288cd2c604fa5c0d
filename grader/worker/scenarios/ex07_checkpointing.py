"""Worker-side harness for exercise-7: train, checkpoint with the student's code, resume, report.

Every checkpoint file lives in the worker's scratch directory (its working directory) and is
opened only here, inside the sandbox: the judge never loads a file the student wrote. The
scenarios report what they saw as data -- parameters, optimizer and scheduler states, RNG
draws, batch orders, directory listings, what ``torch.load(weights_only=True)`` said -- and the
judge decides.

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

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
}
SCHEDULERS: dict[str, type[torch.optim.lr_scheduler.LRScheduler]] = {
    "step": torch.optim.lr_scheduler.StepLR,
    "cosine": torch.optim.lr_scheduler.CosineAnnealingLR,
}


class LoggedDataset(Dataset):
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
    sizes, dropout = spec["sizes"], float(spec.get("dropout", 0.0))
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b, dtype=torch.float64))
        if i < len(sizes) - 2:
            layers += [nn.ReLU(), nn.Dropout(dropout)]
    model = nn.Sequential(*layers)
    if not fresh:
        model.load_state_dict(spec["state"])
    opt = dict(spec["optimizer"])
    optimizer = OPTIMIZERS[opt.pop("name")](model.parameters(), **opt)
    scheduler = None
    if spec.get("scheduler"):
        sch = dict(spec["scheduler"])
        scheduler = SCHEDULERS[sch.pop("name")](optimizer, **sch)
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
    objs["dataset"].log = order = []
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
        loss.backward()
        if spec.get("max_grad_norm"):
            nn.utils.clip_grad_norm_(model.parameters(), spec["max_grad_norm"])
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.item())
        lrs.append(float(optimizer.param_groups[0]["lr"]))
    return {"order": order, "losses": losses, "lrs": lrs, "np": np_draws, "py": py_draws}


def params_of(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}


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
def resume(
    student: Student,
    *,
    spec: dict[str, Any],
    epochs: int,
    split: int,
    seed: int,
    as_pathlike: bool = False,
) -> dict[str, Any]:
    """``epochs`` straight vs ``split`` + save + rebuild everything + load + the rest."""
    save, load = student.save_checkpoint, student.load_checkpoint
    folder = fresh_dir("resume")
    seed_all(seed)
    objs = build(spec)
    straight = [train_epoch(objs, spec) for _ in range(epochs)]
    straight_params = params_of(objs["model"])

    seed_all(seed)
    objs = build(spec)
    for _ in range(split):
        train_epoch(objs, spec)
    at_save = snapshot(objs)
    save(
        _path(folder, as_pathlike),
        model=objs["model"],
        optimizer=objs["optimizer"],
        scheduler=objs["scheduler"],
        epoch=split - 1,
        best_val_loss=0.5,
        extra={"run": "resume"},
    )
    # A new process, as far as the run can tell: other seeds, new objects, new weights.
    seed_all(seed + 1_000_003)
    torch.rand(17)
    objs = build(spec, fresh=True)
    info = load(
        _path(folder, as_pathlike),
        model=objs["model"],
        optimizer=objs["optimizer"],
        scheduler=objs["scheduler"],
    )
    after_load = snapshot(objs)
    resumed = [train_epoch(objs, spec) for _ in range(split, epochs)]
    resumed_params = params_of(objs["model"])
    return {
        "straight": {"params": straight_params, "epochs": straight},
        "resumed": {"params": resumed_params, "epochs": resumed},
        "at_save": at_save,
        "after_load": after_load,
        "info": info,
        "identical": all(torch.equal(straight_params[k], v) for k, v in resumed_params.items()),
        "files": sorted(os.listdir(folder)),
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
def roundtrip(
    student: Student, *, spec: dict[str, Any], best_val_loss: float | None, extra: Any
) -> dict[str, Any]:
    """Save with metadata; load into a fresh model alone (no optimizer, no scheduler)."""
    folder = fresh_dir("roundtrip")
    seed_all(1)
    objs = build(spec)
    train_epoch(objs, spec)
    saved = params_of(objs["model"])
    student.save_checkpoint(
        str(folder / "checkpoint.pt"),
        model=objs["model"],
        optimizer=objs["optimizer"],
        scheduler=objs["scheduler"],
        epoch=7,
        best_val_loss=best_val_loss,
        extra=extra,
    )
    fresh = build(spec, fresh=True)
    info = student.load_checkpoint(str(folder / "checkpoint.pt"), model=fresh["model"])
    return {"info": info, "saved": saved, "loaded": params_of(fresh["model"])}


@scenario
def rng(student: Student, *, spec: dict[str, Any], seed: int) -> dict[str, Any]:
    """Draws after restoring the checkpoint's RNG states, and after ``restore_rng=False``."""
    folder = fresh_dir("rng")
    path = str(folder / "checkpoint.pt")
    seed_all(seed)
    objs = build(spec)
    states = rng_states()
    student.save_checkpoint(path, model=objs["model"], optimizer=objs["optimizer"], epoch=0)
    set_rng_states(states)
    at_save = draws()

    model = build(spec, fresh=True)["model"]  # built first: initializing it draws numbers
    seed_all(seed + 17)
    student.load_checkpoint(path, model=model)
    restored = draws()

    model = build(spec, fresh=True)["model"]
    seed_all(seed + 29)
    untouched_expected = draws()
    seed_all(seed + 29)
    student.load_checkpoint(path, model=model, restore_rng=False)
    untouched = draws()
    return {
        "at_save": at_save,
        "restored": restored,
        "untouched": untouched,
        "untouched_expected": untouched_expected,
    }


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
def atomic(student: Student, *, spec: dict[str, Any], saves: int, blob: int) -> dict[str, Any]:
    """``saves`` good saves, then one that runs out of disk space part-way through."""
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
    files = sorted(os.listdir(folder))
    stray_tmp = sorted(set(os.listdir(tempfile.gettempdir())) - tmp_before)
    loaded_epoch: Any = None
    load_error = ""
    try:
        info = student.load_checkpoint(path, model=build(spec, fresh=True)["model"])
        loaded_epoch = info.get("epoch") if isinstance(info, dict) else None
    except NotImplementedError:
        raise
    except Exception as exc:
        load_error = f"{type(exc).__name__}: {str(exc)[:300]}"
    return {
        "files_after_good": files_after_good,
        "raised": raised,
        "message": message,
        "files": files,
        "stray_tmp": stray_tmp,
        "probe": probe(Path(path)),
        "loaded_epoch": loaded_epoch,
        "load_error": load_error,
        "saves": saves,
    }


@scenario
def map_location(student: Student, *, spec: dict[str, Any]) -> dict[str, Any]:
    """Save a model that lives on the GPU, load it into a CPU model with map_location="cpu"."""
    folder = fresh_dir("map_location")
    path = str(folder / "checkpoint.pt")
    objs = build(spec)
    objs["model"].to("cuda")
    optimizer = torch.optim.SGD(objs["model"].parameters(), lr=0.1, momentum=0.9)
    x = spec["X"].to("cuda")
    nn.functional.cross_entropy(objs["model"](x), spec["y"].to("cuda")).backward()
    optimizer.step()
    student.save_checkpoint(path, model=objs["model"], optimizer=optimizer, epoch=0)
    cpu = build(spec, fresh=True)
    cpu_optimizer = torch.optim.SGD(cpu["model"].parameters(), lr=0.1, momentum=0.9)
    student.load_checkpoint(path, model=cpu["model"], optimizer=cpu_optimizer, map_location="cpu")
    devices = sorted({p.device.type for p in cpu["model"].parameters()})
    return {
        "saved": params_of(objs["model"]),
        "loaded": params_of(cpu["model"]),
        "devices": devices,
    }
