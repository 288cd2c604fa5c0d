"""The judge's source audit: what a submission's code may use, decided before any of it runs.

The worker's own detection of forbidden calls runs inside the sandbox, next to the student's
code, which can silence it. This audit runs in the judge, on the submission's *text* (a ``.py``
file, or the module the judge makes from a notebook), and reports every construct the exercise
does not allow, each with where it is, why it is refused and what to write instead:

- the exercise's ``FORBIDDEN`` APIs by any route the audit can follow: dotted chains, aliases
  at import (``from torch.nn.utils import clip_grad_norm_ as c``), re-bindings (``f = ...``),
  literal ``getattr``, and attributes whose name is a *forbidden leaf* (a name that torch binds
  only to forbidden objects, found by scanning the installed torch);
- routes the audit cannot follow, refused as such: names computed at run time (``getattr``
  with a built string, ``vars``, ``__dict__``, ``eval``, ``importlib``), private and dunder
  attributes of anything but the file's own objects, frames, ``gc``, ``ctypes``, ``sys``,
  threads, processes, signals, pickles, unsafe ``torch.load``/``numpy.load``, imports of the
  grader, and any import outside the exercise's list;
- the exercise's extras (``AUDIT["extras"]`` in the reference: autograd's graph in exercises
  1-2, torch itself in exercise 8, ``torch.nn.init`` in exercise 10, and other routes to the
  same result, such as ``torch.optim.ASGD`` in exercise 5), by path and, for an API, by object;
- code that changes torch for everyone (assignments into it, ``__torch_function__``).

A finding at module level (``function`` None) that a function or class uses -- an import, an
alias, a helper -- is reported again at that use, attributed to that function or class; so is
a finding inside a top-level helper, at each function that calls it. What a module-level
finding that nothing uses means (import-time code) is for the caller to decide.

Modules: ``policy`` (what is refused everywhere, and the words), ``knowledge`` (the installed
torch, looked at without running it), ``scopes`` (bindings and what a name refers to),
``checks`` (the rules), ``findings`` (the result and its location).

The per-exercise policy is the ``AUDIT`` literal next to ``FORBIDDEN`` in ``reference/``; what is
refused everywhere is in :mod:`grader.judge.audit.policy`. The torch scan is cached per process
and per FORBIDDEN list; an audit after that takes milliseconds.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Mapping

from grader.judge.audit import checks, findings, knowledge, policy, scopes
from grader.judge.audit.findings import Finding
from grader.judge.audit.policy import BASELINE_IMPORTS, FILE_IMPORTS
from grader.judge.exercises import Exercise

__all__ = [
    "BASELINE_IMPORTS",
    "FILE_IMPORTS",
    "Finding",
    "allowed_imports",
    "audit_source",
    "forbidden_leaves",
    "unresolved_forbidden",
]


def audit_source(source: str, exercise: Exercise, *, filename: str) -> list[Finding]:
    """Every construct in ``source`` that ``exercise`` does not allow, in file order.

    ``filename`` is only named in messages. Nothing in ``source`` runs: it is parsed with
    ``ast`` and read. A file that does not parse gives one finding (rule ``unreadable``).
    """
    try:
        with warnings.catch_warnings():  # SyntaxWarning for odd escapes is not ours to print
            warnings.simplefilter("ignore")
            module = ast.parse(source, filename=filename)
        tree = scopes.build(module)
        return checks.Auditor(source, tree, exercise).run()
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return [findings.unreadable(source, exc)]


def forbidden_leaves(exercise: Exercise) -> Mapping[str, str]:
    """Each name torch binds only to this exercise's forbidden objects (on modules, on
    ``Tensor`` and on the classes of forbidden methods), mapped to the FORBIDDEN entry it names.

    ``normal_`` is not one in exercise 10 (``Tensor.normal_`` is allowed), nor ``grad`` in
    exercise 1 (``Tensor.grad``); ``clip_grad_norm`` (deprecated) is one in exercise 3.
    """
    return knowledge.known(exercise.forbidden).leaves


def unresolved_forbidden(exercise: Exercise) -> list[str]:
    """The FORBIDDEN entries, then the ``AUDIT["extras"]`` entries naming a module or an API,
    that name nothing in the installed torch (a typo, or an API that moved): the audit cannot
    recognise what they were meant to forbid."""
    known = knowledge.known(exercise.forbidden)
    return [*known.unresolved, *knowledge.extras(exercise.audit_extras).unresolved]


def allowed_imports(exercise: Exercise) -> tuple[str, ...]:
    """The modules the exercise's files may import (each with its public submodules)."""
    if exercise.audit_imports is None:
        return policy.BASELINE_IMPORTS
    return exercise.audit_imports
