"""Exercise 7's answers: the straight run a resumed one must equal, computed in the judge.

A student's resume is measured in two worker processes (see the scenario module); what the
second one reports is compared with these runs, made here with the worker's own trusted loop
(:func:`~grader.worker.scenarios.ex07_checkpointing.build` and ``train_epoch``) from the same
spec and seeds, so the two sides see the same weights, batches and dropout masks. Nothing a
worker reports is an expectation.
"""

from __future__ import annotations

import contextlib
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from grader.worker.scenarios.common.training import params_of
from grader.worker.scenarios.ex07_checkpointing import build, draws, seed_all, snapshot, train_epoch


@contextlib.contextmanager
def _judge_state() -> Iterator[None]:
    """One thread, as in the worker (a matmul's summation order may depend on the thread
    count), and the judge's own generators left as they were: the run reseeds them."""
    threads = torch.get_num_threads()
    python, numpy_state = random.getstate(), np.random.get_state()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        random.setstate(python)
        np.random.set_state(numpy_state)
        torch.set_num_threads(threads)


def reference_resume(
    ref: Any, spec: dict[str, Any], epochs: int, split: int, seed: int, scramble: int
) -> dict[str, Any]:
    """``epochs`` epochs straight from ``seed``: the final parameters, what each epoch saw, and
    the state after ``split`` epochs (what a checkpoint saved then holds).

    The reference's own checkpoint code then resumes from ``split`` (from generators seeded
    with ``scramble``, as the worker does) and must land on the same parameters bit for bit:
    if even the reference cannot resume exactly on this machine, a student's resume cannot be
    judged here, and the test stops with a grader error instead of failing the student.
    """
    with _judge_state(), tempfile.TemporaryDirectory(prefix="tlg-ex07-") as folder:
        path = Path(folder) / "checkpoint.pt"
        seed_all(seed)
        objs = build(spec)
        logs = [train_epoch(objs, spec) for _ in range(split)]
        at_save = snapshot(objs)
        ref.save_checkpoint(
            path,
            model=objs["model"],
            optimizer=objs["optimizer"],
            scheduler=objs["scheduler"],
            epoch=split - 1,
        )
        logs += [train_epoch(objs, spec) for _ in range(split, epochs)]
        straight = params_of(objs["model"])

        seed_all(scramble)
        torch.rand(17)
        again = build(spec, fresh=True)
        ref.load_checkpoint(
            path, model=again["model"], optimizer=again["optimizer"], scheduler=again["scheduler"]
        )
        for _ in range(split, epochs):
            train_epoch(again, spec)
        resumed = params_of(again["model"])
    if any(not torch.equal(straight[k], v) for k, v in resumed.items()):
        raise RuntimeError(
            "the reference's own checkpoint resume is not bit-identical to its straight run on "
            "this machine, so no resume can be judged here"
        )
    return {"straight": {"params": straight, "epochs": logs}, "at_save": at_save}


def reference_draws(spec: dict[str, Any], seed: int, untouched: int) -> dict[str, Any]:
    """The draws a checkpoint saved right after building from ``seed`` restores, and the draws
    of generators seeded with ``untouched`` that a ``restore_rng=False`` load leaves alone."""
    with _judge_state():
        seed_all(seed)
        build(spec)
        at_save = draws()
        seed_all(untouched)
        return {"at_save": at_save, "untouched": draws()}
