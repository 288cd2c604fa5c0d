"""The judge's source audit on real files: correct code passes, every cheat route is caught.

Correct code is every solution, every stub, the honest (correct or buggy-but-honest) files of
tests/submissions, and the unusual-but-correct files of tests/submissions/audit. Cheats are the
cheating files of tests/submissions plus one small snippet per route; a snippet marks the line
it expects a finding on with ``# <-``, so no test depends on where things sit in shipped files.
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from pathlib import Path

import pytest

from grader.judge import exercises
from grader.judge.audit import (
    BASELINE_IMPORTS,
    FILE_IMPORTS,
    Finding,
    allowed_imports,
    audit_source,
    forbidden_leaves,
    unresolved_forbidden,
)
from grader.judge.exercises import Exercise
from grader.judge.notebook_source import notebook_to_python

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "tests" / "submissions"
EXERCISE_IN_PATH = re.compile(r"ex(\d\d)")


def exercise_for(path: Path) -> Exercise:
    match = EXERCISE_IN_PATH.search(path.relative_to(ROOT).as_posix())
    assert match, f"{path}: no exNN in its path"
    return exercises.find(match.group(1))


def audit_file(path: Path) -> list[Finding]:
    return audit_source(path.read_text(encoding="utf-8"), exercise_for(path), filename=str(path))


def described(findings: list[Finding]) -> str:
    return "\n".join(
        f"  {f.line}:{f.col} [{f.rule}] in {f.function}: {f.construct} -- {f.why}" for f in findings
    )


# -- correct code: no findings -------------------------------------------------------------

# Files of tests/submissions whose code is honest: correct, or wrong in the ordinary way a
# student's code is wrong. The others cheat, attack the grader, or do not parse.
HONEST = [
    "ex01/grad_sign_flipped.py",
    "ex01/grad_sum_over_batch.py",
    "ex01/numerical_modifies_input.py",
    "ex01/numerical_one_sided.py",
    "ex01/zero_the_inputs.py",  # stopped by pristine inputs, not by the audit
    "ex02/bias_averaged.py",
    "ex02/grad_w1_transposed.py",
    "ex02/log_of_softmax.py",
    "ex02/per_sample_loop.py",
    "ex02/relu_mask_ge.py",
    "ex02/relu_mask_missing.py",
    "ex02/softmax_overflow.py",
    "ex03/correct.py",
    "ex03/element_loop.py",
    "ex03/endless_loop.py",
    "ex03/huge_alloc.py",
    "ex03/huge_stdout.py",  # sys.stdout is fine: the worker caps what it keeps
    "ex03/ignores_norm_type.py",
    "ex03/missing_function.py",
    "ex03/no_epsilon.py",
    "ex03/no_sqrt.py",
    "ex03/per_tensor.py",
    "ex03/post_clip_norm.py",
    "ex03/scales_up.py",
    "ex03/sysexit_at_import.py",
    "ex03/sysexit_in_function.py",
    "ex03/wrong_but_loud.py",  # prints and writes lies: the judge ignores both
    "ex03/wrong_signature.py",
    "ex04/group_mistakes_and_forgotten_step.py",
    "ex04/off_by_one.py",
    "ex05/adam_no_bias_correction_and_lost_state.py",
    "ex05/sgd_momentum_mistakes.py",
    "ex06/clip_after_step_loss_tensors.py",
    "ex06/clip_before_backward_eval_tracks_grad.py",
    "ex06/no_zero_grad_eval_mode_left.py",
    "ex06/scheduler_per_epoch.py",
    "ex06/scheduler_per_step_in_fit.py",
    "ex07/numpy_state_raw.py",
    "ex07/only_model_restored.py",
    "ex07/rng_not_restored.py",
    "ex08/assign_grad.py",
    "ex08/micrograd_subset.py",
    "ex08/wrong_topo.py",
    "ex09/bad_grads.py",
    "ex10/wrong_inits.py",
    "platforms/ex03_crash.py",  # crashes through allowed code: the worker's death is the test
    "platforms/ex03_hang.py",
    "platforms/ex03_inject.py",
    "platforms/ex03_partial.py",
]
CORRECT = [
    *sorted((ROOT / "solutions").glob("ex*.py")),
    *sorted((ROOT / "exercises").glob("ex*.py")),
    *(SUBMISSIONS / name for name in HONEST),
    *sorted((SUBMISSIONS / "audit").glob("ex*.py")),
]


def test_the_unusual_but_correct_files_cover_every_exercise() -> None:
    covered = {exercise_for(p).number for p in (SUBMISSIONS / "audit").glob("ex*.py")}
    assert covered == {ex.number for ex in exercises.all_exercises()}


@pytest.mark.parametrize("path", CORRECT, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_correct_code_has_no_findings(path: Path) -> None:
    findings = audit_file(path)
    assert findings == [], f"{path.name} is correct code, yet:\n{described(findings)}"


NOTEBOOKS = [
    *sorted((ROOT / "exercises").glob("ex*.ipynb")),
    SUBMISSIONS / "notebooks" / "ex03_with_demos.ipynb",
]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebooks_read_as_the_judge_converts_them_have_no_findings(path: Path) -> None:
    source = notebook_to_python(path.read_bytes(), path.name).source
    findings = audit_source(source, exercise_for(path), filename=path.name)
    assert findings == [], described(findings)


# -- cheating files of tests/submissions: who answers for what -----------------------------

# file -> (the functions/classes with findings, None for module level; rules that must be there)
CHEATS: dict[str, tuple[set[str | None], set[str]]] = {
    "ex01/cheat_autograd.py": ({"mse_gradients", "gradient_descent"}, {"forbidden", "runtime"}),
    "ex02/cheat_autograd.py": ({"softmax_cross_entropy", "mlp_backward"}, {"forbidden", "extra"}),
    "ex03/builtin_alias.py": ({None, "clip_grad_norm"}, {"forbidden"}),
    "ex03/builtin_direct.py": ({"clip_grad_norm"}, {"forbidden"}),
    "ex03/builtin_exec_in_threading.py": ({None, "clip_grad_norm"}, {"dynamic", "runtime"}),
    "ex03/builtin_getattr.py": ({"clip_grad_norm"}, {"dynamic"}),
    "ex03/builtin_private.py": ({"clip_grad_norm"}, {"forbidden"}),
    "ex03/builtin_profiler_off.py": ({None, "clip_grad_norm"}, {"runtime", "forbidden"}),
    "ex03/builtin_thread.py": ({None, "clip_grad_norm"}, {"runtime", "forbidden"}),
    "ex03/builtin_value.py": ({"clip_grad_value"}, {"forbidden"}),
    "ex03/exit_at_import.py": ({None}, {"import", "runtime"}),
    "ex03/exit_in_function.py": ({None, "clip_grad_norm"}, {"import", "runtime"}),
    "ex03/forged_reply.py": ({None, "_reply_fd", "clip_grad_norm"}, {"import"}),
    "ex03/fork_bomb.py": ({None, "clip_grad_norm"}, {"runtime"}),
    "ex03/lying_tensor.py": ({"Liar", "clip_grad_norm"}, {"patch"}),
    "ex03/monkeypatch.py": ({None}, {"patch", "dynamic"}),
    "ex03/syntax_error.py": ({None}, {"unreadable"}),
    "ex04/cheat_torch_schedulers.py": ({None, "step_decay", "WarmupCosineLR"}, {"forbidden"}),
    "ex05/adam_eps_hat_adamw_coupled.py": ({"SGD"}, {"runtime"}),
    "ex05/cheat_torch_optimizers.py": ({None, "SGD", "Adam", "AdamW"}, {"forbidden"}),
    "ex07/in_place_save_unsafe_load.py": ({"load_checkpoint"}, {"unsafe-load"}),
    "ex07/stash_on_builtins.py": (
        {None, "_stash", "save_checkpoint", "load_checkpoint"},
        {"dynamic"},
    ),
    "ex08/uses_torch.py": ({"Value"}, {"extra", "forbidden"}),
    "ex09/cheats.py": ({"LinearFunction", "SiLUFunction"}, {"forbidden"}),
    "ex10/uses_nn_init.py": ({"init_mlp_"}, {"extra"}),
}


@pytest.mark.parametrize("name", sorted(CHEATS))
def test_cheating_files_are_caught_in_the_functions_that_cheat(name: str) -> None:
    """Exactly the functions that cheat answer for it: the honest ones of a partly honest file
    (exercise 4's cosine schedules, exercise 5's RMSprop) keep a clean record."""
    functions, rules = CHEATS[name]
    findings = audit_file(SUBMISSIONS / name)
    assert {f.function for f in findings} == functions, described(findings)
    assert rules <= {f.rule for f in findings}, described(findings)
    for f in findings:
        assert f.why and f.instead and f.construct, f


def test_every_submission_file_is_classified() -> None:
    """A new file in tests/submissions must be listed as honest or as a cheat here."""
    known = set(HONEST) | set(CHEATS)
    found = {
        p.relative_to(SUBMISSIONS).as_posix()
        for folder in [*(f"ex{n:02d}" for n in range(1, 11)), "platforms"]
        for p in (SUBMISSIONS / folder).glob("*.py")
    }
    assert found - known == set()


# -- one snippet per cheat route -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Route:
    """A cheat route: ``code`` for exercise ``number`` must give a finding of ``rule`` on the
    line marked ``# <-``, attributed to ``function`` (None: module level)."""

    name: str
    number: int
    rule: str
    function: str | None
    code: str


# One snippet per route, each headed "### name | exercise | rule | function" ("-": module level).
ROUTES_TEXT = r"""
### alias at import | 3 | forbidden | -
from torch.nn.utils import clip_grad_norm_ as c  # <-
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    return c(parameters, max_norm, norm_type)

### alias used in a function | 3 | forbidden | clip_grad_norm
from torch.nn.utils import clip_grad_norm_ as c
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    return c(parameters, max_norm, norm_type)  # <-

### module alias | 3 | forbidden | clip_grad_norm
import torch.nn.utils as U
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    return U.clip_grad_norm_(parameters, max_norm, norm_type)  # <-

### submodule imported from its parent | 3 | forbidden | clip_grad_norm
from torch.nn import utils
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    return utils.clip_grad_norm_(parameters, max_norm, norm_type)  # <-

### re-binding | 3 | forbidden | clip_grad_norm
import torch
f = torch.nn.utils.clip_grad_norm_
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    return f(parameters, max_norm, norm_type)  # <-

### re-export in the defining module | 3 | forbidden | clip_grad_norm
import torch
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    return torch.nn.utils.clip_grad.clip_grad_norm_(parameters, max_norm)  # <-

### deprecated leaf on an unknown object | 3 | forbidden | clip_grad_norm
def clip_grad_norm(parameters, max_norm, norm_type=2.0, lib=None):
    return lib.clip_grad_norm(parameters, max_norm)  # <-

### literal getattr of a forbidden name | 3 | forbidden | clip_grad_norm
import torch
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    return getattr(torch.nn.utils, "clip_grad_norm_")(parameters, max_norm)  # <-

### getattr with a built string | 3 | dynamic | clip_grad_norm
import torch
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    fn = getattr(torch.nn.utils, "clip_" + "grad_norm_")  # <-
    return fn(parameters, max_norm)

### getattr passed around | 3 | dynamic | clip_grad_norm
import functools
import torch
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    names = ["nn", "utils", "clip_grad_norm_"]
    return functools.reduce(getattr, names, torch)(parameters, max_norm)  # <-

### importlib | 3 | dynamic | clip_grad_norm
import importlib
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    utils = importlib.import_module("torch.nn.utils")  # <-
    return utils.clip_grad_norm_(parameters, max_norm)

### __import__ | 3 | dynamic | clip_grad_norm
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    return __import__("torch").nn.utils.clip_grad_norm_(parameters, max_norm)  # <-

### eval | 3 | dynamic | clip_grad_norm
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    return eval("torch.nn.utils.clip_grad_norm_")(parameters, max_norm)  # <-

### exec | 3 | dynamic | -
exec("from torch.nn.utils import clip_grad_norm_ as clip_grad_norm")  # <-

### compile | 3 | dynamic | clip_grad_norm
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    code = compile("1", "<x>", "eval")  # <-

### vars of a module | 3 | dynamic | clip_grad_norm
import torch
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    return vars(torch.nn.utils)["clip_grad_norm_"](parameters, max_norm)  # <-

### globals | 3 | dynamic | clip_grad_norm
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    return globals()["helper"](parameters)  # <-

### __dict__ of a module | 3 | dynamic | clip_grad_norm
import torch
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    return torch.nn.utils.__dict__["clip_grad_norm_"](parameters, max_norm)  # <-

### operator.attrgetter | 3 | dynamic | clip_grad_norm
import operator
import torch
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    get = operator.attrgetter("nn.utils.clip_grad_norm_")  # <-
    return get(torch)(parameters, max_norm)

### a module as a value | 3 | dynamic | clip_grad_norm
import torch
def helper(lib, parameters, max_norm):
    return lib.nn.utils.clip_grad_norm_(parameters, max_norm)
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    return helper(torch, parameters, max_norm)  # <-

### torch._C | 1 | private | mse_gradients
import torch
def mse_gradients(X, y, w, b):
    engine = torch._C._EngineBase  # <-

### torch._foreach_norm | 3 | private | clip_grad_norm
import torch
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    norms = torch._foreach_norm([p.grad for p in parameters])  # <-

### x.__class__.__mro__ | 3 | private | clip_grad_norm
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    classes = parameters.__class__.__mro__  # <-

### __subclasses__ | 3 | private | -
everything = object.__subclasses__()  # <-

### sys._getframe | 3 | runtime | clip_grad_norm
import sys
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    caller = sys._getframe(1)  # <-

### inspect.currentframe | 3 | runtime | clip_grad_norm
import inspect
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    frame = inspect.currentframe()  # <-

### frame attributes | 3 | runtime | clip_grad_norm
def clip_grad_norm(parameters, max_norm, norm_type=2.0, frame=None):
    harness = frame.f_back.f_globals  # <-

### traceback frames | 3 | runtime | clip_grad_norm
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    try:
        raise ValueError
    except ValueError as exc:
        frame = exc.__traceback__.tb_frame  # <-

### gc.get_objects | 3 | runtime | clip_grad_norm
import gc
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    for obj in gc.get_objects():  # <-
        pass

### threading.Thread | 3 | runtime | clip_grad_norm
import threading
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    threading.Thread(target=print).start()  # <-

### a thread pool | 3 | runtime | -
from concurrent.futures import ThreadPoolExecutor  # <-

### os.forkpty where os is allowed | 7 | runtime | save_checkpoint
import os
def save_checkpoint(path, *, model, optimizer, scheduler=None, epoch, **kw):
    pid, fd = os.forkpty()  # <-

### os.system where os is allowed | 7 | runtime | save_checkpoint
import os
def save_checkpoint(path, *, model, optimizer, scheduler=None, epoch, **kw):
    os.system("true")  # <-

### os.execv by a re-export | 7 | runtime | save_checkpoint
import torch
def save_checkpoint(path, *, model, optimizer, scheduler=None, epoch, **kw):
    torch.os.execv("/bin/true", ["true"])  # <-

### subprocess | 3 | runtime | clip_grad_norm
import subprocess
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    subprocess.run(["true"])  # <-

### multiprocessing | 3 | runtime | -
import multiprocessing  # <-

### signal | 3 | runtime | -
import signal  # <-

### atexit | 3 | runtime | clip_grad_norm
import atexit
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    atexit.register(print)  # <-

### ctypes | 3 | runtime | clip_grad_norm
import ctypes
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    libc = ctypes.CDLL(None)  # <-

### builtins | 3 | dynamic | clip_grad_norm
import builtins
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    builtins.stash = parameters  # <-

### __builtins__ | 3 | dynamic | clip_grad_norm
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    __builtins__["stash"] = parameters  # <-

### pickle | 7 | unsafe-load | load_checkpoint
import pickle
def load_checkpoint(path, *, model, **kw):
    state = pickle.loads(open(path, "rb").read())  # <-

### marshal | 7 | unsafe-load | -
import marshal  # <-

### torch.load(weights_only=False) | 7 | unsafe-load | load_checkpoint
import torch
def load_checkpoint(path, *, model, **kw):
    state = torch.load(path, weights_only=False)  # <-

### torch.load without weights_only | 7 | unsafe-load | load_checkpoint
from torch import load
def load_checkpoint(path, *, model, **kw):
    state = load(path, map_location="cpu")  # <-

### numpy.load(allow_pickle=True) | 7 | unsafe-load | load_checkpoint
import numpy as np
def load_checkpoint(path, *, model, **kw):
    state = np.load(path, allow_pickle=True)  # <-

### import grader.worker.guards | 3 | import | -
import grader.worker.guards  # <-

### from grader import ... | 3 | import | clip_grad_norm
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    from grader.worker import guards  # <-

### import reference | 3 | import | -
import reference  # <-

### import solutions | 3 | import | -
from solutions.ex03_gradient_clipping import clip_grad_norm  # <-

### an import outside the list | 3 | import | -
import socket  # <-

### a private module | 3 | private | -
import torch._dynamo  # <-

### a relative import | 3 | import | -
from . import helpers  # <-

### a star import | 3 | import | -
from torch.nn.utils import *  # <-

### torch.ops | 1 | dynamic | mse_loss
import torch
def mse_loss(y_hat, y):
    return torch.ops.aten.mse_loss(y_hat, y)  # <-

### grad_fn.next_functions | 1 | extra | mse_gradients
def mse_gradients(X, y, w, b):
    loss = ((X @ w + b - y) ** 2).mean()
    node = loss.grad_fn.next_functions[0][0]  # <-

### register_hook | 1 | extra | mse_gradients
def mse_gradients(X, y, w, b):
    w.register_hook(print)  # <-

### loss.backward | 1 | forbidden | mse_gradients
def mse_gradients(X, y, w, b):
    ((X @ w + b - y) ** 2).mean().backward()  # <-
    return w.grad, b.grad

### Tensor.backward through super() | 1 | forbidden | Leaf
import torch
class Leaf(torch.Tensor):
    def backward(self, gradient=None):
        return super().backward(gradient)  # <-

### torch.autograd.graph in exercise 1 | 1 | extra | mse_gradients
import torch
def mse_gradients(X, y, w, b):
    hooks = torch.autograd.graph.saved_tensors_hooks  # <-

### torch.autograd.graph in exercise 2 | 2 | extra | -
from torch.autograd import graph  # <-

### torch.func in exercise 2 | 2 | extra | mlp_backward
import torch
def mlp_backward(X, y, W1, b1, W2, b2):
    return torch.func.vmap(print)  # <-

### Tensor.log_softmax | 2 | forbidden | softmax_cross_entropy
def softmax_cross_entropy(logits, y):
    log_p = logits.log_softmax(dim=1)  # <-

### import torch in exercise 8 | 8 | extra | -
import torch  # <-

### import numpy in exercise 8 | 8 | extra | Value
class Value:
    def tanh(self):
        import numpy as np  # <-

### DisableTorchFunction from torch._C | 3 | private | clip_grad_norm
import torch
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    with torch._C.DisableTorchFunction():  # <-
        pass

### DisableTorchFunction re-exported | 3 | patch | clip_grad_norm
import torch
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    with torch.DisableTorchFunction():  # <-
        pass

### __torch_function__ | 3 | patch | Liar
import torch
class Liar(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):  # <-
        return True

### monkeypatching torch | 3 | patch | -
import torch
torch.allclose = lambda *a, **k: True  # <-

### setattr on torch | 3 | patch | -
import torch
setattr(torch.Tensor, "__eq__", lambda a, b: True)  # <-

### sys.modules | 3 | dynamic | clip_grad_norm
import sys
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    utils = sys.modules["torch.nn.utils"]  # <-

### sys.setprofile | 3 | runtime | clip_grad_norm
import sys
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    sys.setprofile(None)  # <-

### type() building a class | 3 | dynamic | -
Sneaky = type("Sneaky", (), {})  # <-

### a concrete scheduler as a base class | 4 | forbidden | StepDecayLR
from torch.optim import lr_scheduler
class StepDecayLR(lr_scheduler.StepLR):  # <-
    pass

### torch.optim.Adam in disguise | 5 | forbidden | Adam
import torch
class Adam(torch.optim.Adam):  # <-
    pass

### torch.nn.init | 10 | extra | init_mlp_
from torch import nn
def init_mlp_(model):
    nn.init.kaiming_normal_(model[0].weight)  # <-

### autograd in exercise 9's backward | 9 | forbidden | LinearFunction
import torch
class LinearFunction(torch.autograd.Function):
    @staticmethod
    def backward(ctx, grad_output):
        out = ctx.saved_tensors[0] * 2
        out.backward(grad_output)  # <-

### code in a string annotation | 3 | dynamic | _
from functools import singledispatch
@singledispatch
def norm(x):
    return x
@norm.register
def _(x: "__import__('os').system('true')"):  # <-
    return x

### typing.get_type_hints | 3 | dynamic | clip_grad_norm
import typing
def clip_grad_norm(parameters, max_norm, norm_type: "torch.nn.utils.clip_grad_norm_" = 2.0):
    return typing.get_type_hints(clip_grad_norm)["norm_type"](parameters, max_norm)  # <-

### torch.fx names methods by string | 1 | dynamic | mse_gradients
import torch
def mse_gradients(X, y, w, b):
    graph = torch.fx.Graph()  # <-

### torch.utils.benchmark runs strings | 1 | dynamic | mse_gradients
import torch.utils.benchmark as bench
def mse_gradients(X, y, w, b):
    bench.Timer("loss.backward()", globals={"loss": X}).timeit(1)  # <-

### an extra reached by another path | 9 | extra | LayerNormFunction
import torch
class LayerNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        norm = torch.nn.modules.normalization.LayerNorm(x.shape[-1])  # <-

### group norm with one group is layer norm | 9 | extra | LayerNormFunction
import torch.nn.functional as F
class LayerNormFunction:
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        return F.group_norm(x, 1, weight, bias, eps)  # <-

### ASGD with lambd=0 is SGD | 5 | extra | SGD
import torch
class SGD(torch.optim.ASGD):  # <-
    pass

### SWALR is cosine annealing | 4 | extra | CosineAnnealingLR
from torch.optim.swa_utils import SWALR
class CosineAnnealingLR(SWALR):  # <-
    pass

### another log-softmax kernel | 2 | extra | softmax_cross_entropy
import torch
def softmax_cross_entropy(logits, y):
    log_p = torch.masked.log_softmax(logits, dim=1)  # <-

### a helper that cheats answers for its callers | 3 | forbidden | clip_grad_norm
import torch
def _norm(grads):
    return torch.nn.utils.get_total_norm(grads)
def clip_grad_norm(parameters, max_norm, norm_type=2.0):
    return _norm([p.grad for p in parameters])  # <-
"""


def _routes(text: str) -> list[Route]:
    routes = []
    for chunk in text.split("### ")[1:]:
        header, _, code = chunk.partition("\n")
        name, number, rule, function = (part.strip() for part in header.split("|"))
        routes.append(Route(name, int(number), rule, None if function == "-" else function, code))
    return routes


ROUTES = _routes(ROUTES_TEXT)


def _marked_line(code: str) -> int:
    lines = [i for i, text in enumerate(code.splitlines(), start=1) if "# <-" in text]
    assert len(lines) == 1, "mark exactly one line with # <-"
    return lines[0]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_every_cheat_route_is_caught_where_it_is(route: Route) -> None:
    code = route.code
    findings = audit_source(code, exercises.find(str(route.number)), filename="snippet.py")
    line = _marked_line(code)
    on_line = [f for f in findings if f.line == line]
    assert on_line, f"nothing found on line {line}:\n{code}\nfound:\n{described(findings)}"
    assert any(f.rule == route.rule and f.function == route.function for f in on_line), (
        f"expected [{route.rule}] in {route.function} on line {line}, got:\n{described(on_line)}"
    )


def test_a_finding_says_where_what_why_and_instead() -> None:
    code = (
        "import torch\n\n\ndef clip_grad_norm(p, m, n=2.0):\n"
        "    return torch.nn.utils.clip_grad_norm_(p, m)\n"
    )
    (finding,) = audit_source(code, exercises.find("3"), filename="x.py")
    assert (finding.line, finding.col) == (5, 12)  # 1-based, like an editor
    assert finding.construct == "torch.nn.utils.clip_grad_norm_"
    assert finding.function == "clip_grad_norm"
    assert "clip_grad_norm_" in finding.why and "vector_norm" in finding.instead
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.line = 1  # type: ignore[misc]


def test_columns_count_characters_not_bytes() -> None:
    code = 'import torch\nx = "é"; y = torch._C\n'
    (finding,) = audit_source(code, exercises.find("3"), filename="x.py")
    assert (finding.line, finding.col) == (2, 14)


def test_harmless_dunder_and_private_forms_pass() -> None:
    code = textwrap.dedent(
        """
        import torch

        class Params(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self._cache = {}
                self.__dict__["plain"] = 1

            def __repr__(self) -> str:
                return f"{type(self).__name__} {self.__class__.__name__} {vars(self)}"

            def copy(self, other: "Params | None") -> "tuple[dict, str | None]":
                return other._cache, clip_grad_norm.__name__, clip_grad_norm.__doc__

        def clip_grad_norm(parameters, max_norm, norm_type=2.0):
            print(f"torch {torch.__version__}")
            backend = torch.linalg if norm_type else torch
            backend.vector_norm(parameters)
            torch.nn.Module.__init__(Params())
            return getattr(parameters, "grad"), hasattr(parameters, "grad")
        """
    )
    findings = audit_source(code, exercises.find("3"), filename="x.py")
    assert findings == [], described(findings)


def test_a_file_that_does_not_parse_gives_one_finding() -> None:
    findings = audit_source("def f(:\n    pass\n", exercises.find("3"), filename="x.py")
    assert [(f.rule, f.line, f.function) for f in findings] == [("unreadable", 1, None)]


def test_hostile_nesting_is_refused_or_read_without_crashing() -> None:
    """The protocol-jamming shapes of the threat model: a sum of 990 terms and parentheses
    nested past the parser's limit."""
    long_sum = "x = " + " + ".join(["1"] * 990) + "\n"
    assert audit_source(long_sum, exercises.find("3"), filename="x.py") == []
    deep = "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n"
    assert [f.rule for f in audit_source(deep, exercises.find("3"), filename="x.py")] == [
        "unreadable"
    ]
    chain = "import torch\ny = torch" + ".a" * 3000 + "\n"
    audit_source(chain, exercises.find("3"), filename="x.py")  # no RecursionError


# -- the policy and the torch scan -----------------------------------------------------------


@pytest.mark.parametrize("ex", exercises.all_exercises(), ids=lambda e: e.id)
def test_every_forbidden_entry_names_something_in_the_installed_torch(ex: Exercise) -> None:
    assert unresolved_forbidden(ex) == []


def test_a_misspelled_forbidden_entry_is_reported() -> None:
    ex = exercises.find("3")
    typos = ("torch.nn.utils.clip_grad_nrom_", "torch.nn.utilz.clip_grad_norm_")
    broken = dataclasses.replace(ex, forbidden=ex.forbidden + typos)
    assert unresolved_forbidden(broken) == list(typos)


def test_the_import_policy_is_the_course_baseline_except_where_files_or_purity_matter() -> None:
    for ex in exercises.all_exercises():
        expected = set(BASELINE_IMPORTS)
        if ex.number == 7:
            expected |= set(FILE_IMPORTS)
        if ex.number == 8:
            expected -= {"torch", "numpy"}
        assert set(allowed_imports(ex)) == expected, ex.id


def test_forbidden_leaves_come_from_the_torch_scan() -> None:
    leaves = {n: set(forbidden_leaves(exercises.find(str(n)))) for n in (1, 2, 3, 10)}
    assert {"clip_grad_norm_", "clip_grad_norm", "get_total_norm", "_get_total_norm"} <= leaves[3]
    assert {"backward", "mse_loss"} <= leaves[1] and "grad" not in leaves[1]  # Tensor.grad
    assert "log_softmax" in leaves[2]  # Tensor.log_softmax is forbidden too
    assert {"kaiming_normal_", "zeros_", "calculate_gain"} <= leaves[10]
    assert not {"normal_", "uniform_"} & leaves[10]  # Tensor.normal_/uniform_ are the way


@pytest.mark.parametrize("ex", exercises.all_exercises(), ids=lambda e: e.id)
def test_each_stub_tells_the_student_its_policy(ex: Exercise) -> None:
    """The stub's docstring names every module the exercise allows and every extra."""
    doc = (ROOT / "exercises" / f"{ex.module}.py").read_text(encoding="utf-8").split('"""')[1]
    assert "**What your file may use.**" in doc
    for name in (*allowed_imports(ex), *ex.audit_extras):
        if name != "collections.abc":
            assert f"``{name}``" in doc, f"{ex.id}: the stub does not mention {name}"
