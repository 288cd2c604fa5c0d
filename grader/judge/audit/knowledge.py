"""What the judge knows about the libraries a submission may use, learnt by looking at them.

The judge imports torch anyway, so the audit asks the installed torch rather than a list kept
by hand: which object each ``FORBIDDEN`` entry names, under which other names that object is
bound (re-exports, deprecated aliases: the *forbidden leaves*), and what a dotted name in the
student's file refers to. Looking never runs library code: attributes are read with
``inspect.getattr_static`` (no ``__getattr__``, no descriptors), and only modules already
imported are walked -- a fixed list is imported first, so every audit in a process sees the
same snapshot.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType, ModuleType

from grader.judge.audit import policy

MISSING: object = object()  # "no such attribute", distinct from an attribute whose value is None

# Imported before the snapshot, so that what the audit can resolve does not depend on what else
# the judge happened to import first. Stdlib modules a submission may name are here too, so that
# `import sys; sys.modules` resolves (and is refused) by object, like `torch.sys.modules`.
PRELOAD: tuple[str, ...] = (
    "torch",
    "torch.nn",
    "torch.nn.functional",
    "torch.nn.init",
    "torch.nn.utils",
    "torch.optim",
    "torch.optim.lr_scheduler",
    "torch.autograd",
    "torch.autograd.graph",
    "torch.autograd.forward_ad",
    "torch.autograd.functional",
    "torch.func",
    "torch.linalg",
    "torch.special",
    "torch.serialization",
    "torch.utils.data",
    "numpy",
    "numpy.random",
    *policy.BASELINE_IMPORTS,
    *policy.FILE_IMPORTS,
    "os",
    "sys",
    "operator",
    "threading",
    "gc",
    "inspect",
    "builtins",
    "importlib",
    "pickle",
    "ctypes",
    "signal",
    "atexit",
    "subprocess",
    "multiprocessing",
)
WATCHED_ROOTS: frozenset[str] = frozenset(name.split(".")[0] for name in PRELOAD)


@functools.lru_cache(maxsize=1)
def modules() -> Mapping[str, ModuleType]:
    """The modules the resolver may walk: those under ``WATCHED_ROOTS`` once ``PRELOAD`` is in."""
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # an optional module missing here (cffi-like): nothing to resolve
            continue
    found = {
        name: mod
        for name, mod in list(sys.modules.items())
        if isinstance(mod, ModuleType) and name.split(".")[0] in WATCHED_ROOTS
    }
    return MappingProxyType(found)


def lookup(obj: object, name: str) -> object:
    """``obj.name`` without running any code of ``obj``'s (MISSING if there is none)."""
    if obj is MISSING:
        return MISSING
    try:
        found = inspect.getattr_static(obj, name, MISSING)
    except Exception:  # a library object with an exotic metaclass: treat as unknown
        return MISSING
    if found is MISSING and isinstance(obj, ModuleType):
        return modules().get(f"{obj.__name__}.{name}", MISSING)
    return found


def resolve(dotted: str) -> object:
    """The object a dotted name refers to in the snapshot (MISSING if it does not resolve)."""
    parts = dotted.split(".")
    mods = modules()
    for i in range(len(parts), 0, -1):
        mod = mods.get(".".join(parts[:i]))
        if mod is not None:
            obj: object = mod
            for part in parts[i:]:
                obj = lookup(obj, part)
            return obj
    return MISSING


def _import_resolve(dotted: str) -> object:
    """Like `resolve`, but imports the longest module prefix first: for the judge's own lists
    (FORBIDDEN names modules such as ``torch.nn.utils.clip_grad`` that may not be loaded)."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except Exception:
            continue
        for part in parts[i:]:
            obj = lookup(obj, part)
        return obj
    return MISSING


def identities(obj: object) -> tuple[int, ...]:
    """ids of ``obj`` and of what it wraps (``__wrapped__`` chains, static/class methods), so a
    decorated function and its undecorated body count as the same thing."""
    out: list[int] = []
    for _ in range(8):
        out.append(id(obj))
        if issubclass(type(obj), staticmethod | classmethod):
            # issubclass(type(obj), ...) does not narrow obj; isinstance would, but it reads
            # obj.__class__, which student objects can fake.
            obj = obj.__func__  # type: ignore[attr-defined]
            continue
        namespace = getattr_dict(obj)
        inner = namespace.get("__wrapped__", MISSING) if namespace is not None else MISSING
        if inner is MISSING:
            break
        obj = inner
    return tuple(out)


def getattr_dict(obj: object) -> dict[str, object] | None:
    """``obj``'s instance dictionary, read without running its code (None if it has none)."""
    try:
        namespace = object.__getattribute__(obj, "__dict__")
    except Exception:
        return None
    return namespace if isinstance(namespace, dict) else None


def _class_namespaces(classes: Iterable[type]) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for cls in classes:
        for klass in cls.__mro__:
            out.extend(vars(klass).items())
    return out


@functools.lru_cache(maxsize=1)
def _bindings() -> tuple[tuple[tuple[str, tuple[int, ...]], ...], dict[str, list[tuple[int, ...]]]]:
    """Every (name, identities) bound in a snapshot module or in the classes of the objects a
    student's code handles; and, for those classes only, name -> identities of each binding.

    The second part decides which names are leaves. An attribute on a receiver the audit cannot
    resolve is on an object -- a tensor, an array, a generator, a number, the student's own --
    never on a module (modules are followed by name, and passing one around is refused). So a
    name is a leaf unless one of those classes binds it to something allowed: ``normal_`` is
    ``Tensor.normal_`` as well as ``torch.nn.init.normal_``, ``grad`` is ``Tensor.grad``, but
    ``log_softmax`` on any tensor is forbidden in exercise 2.
    """
    import numpy
    import torch

    everything: list[tuple[str, tuple[int, ...]]] = []
    with warnings.catch_warnings():  # deprecated module attributes warn when touched
        warnings.simplefilter("ignore")
        for mod in modules().values():
            namespace = getattr_dict(mod) or {}
            everything.extend((name, identities(v)) for name, v in list(namespace.items()))
    plain = (str, bytes, list, dict, set, tuple, int, float, complex)
    classes = (torch.Tensor, numpy.ndarray, numpy.random.Generator, *plain)
    on_objects: dict[str, list[tuple[int, ...]]] = {}
    for name, value in _class_namespaces(classes):
        ids = identities(value)
        everything.append((name, ids))
        on_objects.setdefault(name, []).append(ids)
    return tuple(everything), on_objects


@dataclass(frozen=True)
class Known:
    """What the audit knows about one exercise's FORBIDDEN list."""

    forbidden: Mapping[int, str]  # id of a forbidden object (or what it wraps) -> its entry
    leaves: Mapping[str, str]  # name bound only to forbidden objects -> its entry
    unresolved: tuple[str, ...]  # entries that name nothing in the installed torch
    keep: tuple[object, ...]  # the forbidden objects, kept alive so their ids stay theirs


@functools.lru_cache(maxsize=64)
def known(forbidden: tuple[str, ...]) -> Known:
    """Resolve FORBIDDEN and scan for its leaves (cached: the scan is the costly part)."""
    ids: dict[int, str] = {}
    keep: list[object] = []
    unresolved: list[str] = []
    parents: list[type] = []
    for entry in forbidden:
        obj = _import_resolve(entry)
        if obj is MISSING:
            unresolved.append(entry)
            continue
        keep.append(obj)
        for i in identities(obj):
            ids.setdefault(i, entry)
        parent = _import_resolve(entry.rpartition(".")[0])
        parent_cls = parent if isinstance(parent, type) else type(parent)
        if parent_cls.__module__ != "builtins" and not isinstance(parent, ModuleType):
            parents.append(parent_cls)
    everything, public = _bindings()
    candidates: dict[str, str] = {}
    # Later bindings win: a class's (``Tensor.log_softmax``) over a module's, since a leaf is
    # met as an attribute of an object.
    for name, bound in (*everything, *_class_scan(parents)):
        found = next((ids[i] for i in bound if i in ids), None)
        if found is not None and not policy.is_dunder(name):
            candidates[name] = found
    leaves = {
        name: entry
        for name, entry in candidates.items()
        if all(any(i in ids for i in bound) for bound in public.get(name, ()))
    }
    return Known(
        forbidden=MappingProxyType(ids),
        leaves=MappingProxyType(dict(sorted(leaves.items()))),
        unresolved=tuple(unresolved),
        keep=tuple(keep),
    )


def _class_scan(classes: list[type]) -> list[tuple[str, tuple[int, ...]]]:
    return [(name, identities(value)) for name, value in _class_namespaces(classes)]


@dataclass(frozen=True)
class Extras:
    """An exercise's extras that name objects, by identity, so ``torch.nn.LayerNorm`` is also
    caught as ``torch.nn.modules.normalization.LayerNorm``; and the entries naming nothing."""

    ids: Mapping[int, str]
    unresolved: tuple[str, ...]
    keep: tuple[object, ...]


@functools.lru_cache(maxsize=64)
def extras(entries: tuple[str, ...]) -> Extras:
    ids: dict[int, str] = {}
    keep: list[object] = []
    unresolved: list[str] = []
    for entry in entries:
        if entry.startswith("."):  # an attribute name: nothing to resolve
            continue
        obj = _import_resolve(entry)
        if obj is MISSING:
            unresolved.append(entry)
        elif not isinstance(obj, ModuleType):  # modules are matched by name, and all below
            keep.append(obj)
            ids.update((i, entry) for i in identities(obj))
    return Extras(MappingProxyType(ids), tuple(unresolved), tuple(keep))


@dataclass(frozen=True)
class Refused:
    """Library objects refused in every exercise, by identity."""

    denied: Mapping[int, tuple[str, policy.Denial]]  # id -> (dotted name, why)
    torch_load: frozenset[int]
    numpy_load: frozenset[int]
    keep: tuple[object, ...]


@functools.lru_cache(maxsize=1)
def refused() -> Refused:
    """DENIED_APIS (with ``os.exec*``/``spawn*``/``posix_spawn*``) resolved to objects."""
    import os

    names = dict(policy.DENIED_APIS)
    for name in vars(os):
        if name.startswith(policy.OS_PROCESS_PREFIXES):
            names[f"os.{name}"] = policy.DENIED_APIS["os.system"]
    denied: dict[int, tuple[str, policy.Denial]] = {}
    keep: list[object] = []
    for dotted, denial in names.items():
        obj = resolve(dotted)
        if obj is MISSING:
            continue
        keep.append(obj)
        for i in identities(obj):
            denied.setdefault(i, (dotted, denial))
    loads = {name: resolve(name) for name in ("torch.load", "numpy.load")}
    keep.extend(loads.values())
    load_ids = {
        k: frozenset(identities(v)) if v is not MISSING else frozenset() for k, v in loads.items()
    }
    return Refused(
        denied=MappingProxyType(denied),
        torch_load=load_ids["torch.load"],
        numpy_load=load_ids["numpy.load"],
        keep=tuple(keep),
    )
