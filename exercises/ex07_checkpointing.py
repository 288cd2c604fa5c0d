r"""Exercise 7 - Checkpointing and resuming.

Long runs get interrupted: a preempted job, a crash at hour 30, a laptop lid closed. A
*checkpoint* lets you stop and resume so that the resumed run cannot tell it was interrupted:
training $E$ epochs straight and training $E/2$, saving, restarting the process, loading and
training $E/2$ more must give **bit-identical** parameters.

That only works if the checkpoint holds *everything* the rest of the run depends on:

- the **model**'s ``state_dict()`` -- its parameters and buffers;
- the **optimizer**'s ``state_dict()`` -- not just the learning rate but its per-parameter
  state: SGD's momentum buffers, Adam's moments $m$, $v$ and step count $t$. Without them the
  first steps after a resume behave like the first steps of a new run (Adam's bias correction
  restarts at $t = 1$): the loss jumps;
- the **scheduler**'s ``state_dict()`` -- its position in the schedule. Without it the learning
  rate schedule restarts from step 0;
- the **epoch** (and anything else the loop needs, such as the best validation loss so far);
- the **random number generator states**: torch's CPU generator (``torch.get_rng_state()``),
  every CUDA device's (``torch.cuda.get_rng_state_all()``), Python's ``random.getstate()`` and
  NumPy's global state. A shuffling ``DataLoader`` draws a seed from torch's global generator
  each time an epoch starts, and dropout draws its masks from it too; restore the states and
  the resumed run shuffles and drops out exactly as the straight run did.

Save ``state_dict()``s, never the pickled model or optimizer objects: a pickle stores the
*classes* by import path and runs their code when loaded.

**Why ``weights_only=True``.** ``torch.load`` unpickles, and unpickling can call any function
named in the file -- a checkpoint from the internet can run ``os.system`` on your machine.
With ``weights_only=True`` (the default since PyTorch 2.6, but pass it explicitly: the
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` environment variable switches the default off) only
tensors, numbers, strings, ``None`` and plain containers load. So store everything in those
forms: ``random.getstate()`` is a tuple of ints and loads fine, but NumPy's
``np.random.get_state()`` holds an ``ndarray`` that ``weights_only`` refuses -- store its keys
as a list (``keys.tolist()``) and rebuild the array when restoring.

**Atomic saves.** ``torch.save(state, path)`` writes ``path`` in place: if the process dies or
the disk fills up half-way, ``path`` holds a truncated file and the *previous* good checkpoint
is gone too. Write to a temporary file in the same directory and then ``os.replace`` it onto
``path``: a rename within one file system is atomic, so a reader sees either the old file or the
new one, never half of one. If the save fails, delete the temporary file.

**Devices.** ``map_location`` (e.g. ``"cpu"``) lets a checkpoint saved on a GPU load on a
machine without one; RNG states must go back to the CPU before ``torch.set_rng_state``.

What the grader checks: bit-identical resume (``torch.equal``) with dropout, a shuffling
``DataLoader``, momentum or Adam, and a learning-rate schedule, after every object was rebuilt
from scratch; the optimizer moments and scheduler position after loading; that the file loads
with ``weights_only=True``; that a crafted checkpoint whose unpickling would run code is
refused with no side effect; that a save failing part-way leaves the previous checkpoint
loadable and no stray temporary files; ``map_location``; and that ``restore_rng=False`` leaves
the random number generators alone.

**What your file may use.** The grader reads your file before running any of it. You may import
``torch`` and ``numpy`` (with their public submodules) and, from Python's standard library,
``math``, ``cmath``, ``random``, ``functools``, ``itertools``, ``operator``, ``collections``,
``dataclasses``, ``typing``, ``typing_extensions``, ``copy``, ``numbers``, ``abc``, ``enum``,
``warnings``, ``time``, ``contextlib``, ``json``, ``re``, ``string``, ``statistics``,
``fractions``, ``decimal``, ``heapq``, ``bisect``, ``array``, ``textwrap``, ``pprint``,
``__future__`` and, of ``sys``, only its streams, limits and version (``sys.stdout``,
``sys.maxsize``, ``sys.float_info``, ``sys.setrecursionlimit``, ...), plus ``os``, ``pathlib``,
``tempfile`` and ``io`` to write files. Not: any other module (``threading``, ``subprocess``,
``pickle``, ``importlib``, ...); private or dunder attributes of objects that are not your own
(``torch._C``, ``torch._foreach_norm``, ``x.__class__.__mro__``); attribute names computed at
run time (``getattr(obj, name)`` with a built ``name`` -- a literal name is fine), ``eval``,
``exec``, ``vars()`` of a module; assigning to torch's attributes; ``torch.load`` without
``weights_only=True``, ``numpy.load`` with ``allow_pickle``; ``os.system``, ``os.fork`` and the
other process functions. A function or class that uses any of these, or a name this exercise
does not allow, has its tests voided, with a message saying what to write instead.
"""

from __future__ import annotations

import os
import random  # noqa: F401 (used by the solution bodies)
import tempfile  # noqa: F401 (used by the solution bodies)
from pathlib import Path  # noqa: F401 (used by the solution bodies)
from typing import Any  # noqa: F401 (used by the solution bodies)

import numpy as np  # noqa: F401 (used by the solution bodies)
import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: LRScheduler | None = None,
    epoch: int,
    best_val_loss: float | None = None,
    extra: dict | None = None,
) -> None:
    r"""Save everything needed to resume training to ``path``, atomically.

    Stores the model, optimizer and scheduler ``state_dict``s, ``epoch``, ``best_val_loss``,
    ``extra`` and the RNG states (torch CPU, every CUDA device if available, Python ``random``,
    NumPy's global generator), all in forms that ``torch.load(..., weights_only=True)`` accepts.
    A reader never sees a partial file at ``path``; if saving fails, the previous checkpoint
    at ``path`` is left intact and no temporary file remains.

    Example:
        >>> import tempfile, os
        >>> model = nn.Linear(2, 1)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> folder = tempfile.mkdtemp()
        >>> save_checkpoint(os.path.join(folder, "ckpt.pt"), model=model, optimizer=opt, epoch=3)
        >>> os.listdir(folder)
        ['ckpt.pt']
    """
    raise NotImplementedError("exercise-7: write save_checkpoint")


def load_checkpoint(
    path: str | os.PathLike,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: LRScheduler | None = None,
    map_location: str | torch.device | None = None,
    restore_rng: bool = True,
) -> dict:
    r"""Load a checkpoint written by :func:`save_checkpoint` into the objects given.

    Loads with ``weights_only=True`` (a file that needs anything else is refused), restores the
    model and -- when given -- the optimizer and scheduler, and, with ``restore_rng``, the RNG
    states. ``map_location`` is passed to ``torch.load`` (``"cpu"`` loads a GPU checkpoint on a
    machine without one).

    Returns:
        ``{"epoch": ..., "best_val_loss": ..., "extra": ...}`` as they were saved.
    """
    raise NotImplementedError("exercise-7: write load_checkpoint")
