"""Forbidden-API detection inside the worker: a second layer behind the judge's source audit.

While a student call runs, a profile hook (``sys.setprofile`` plus every thread the call
starts) watches each Python call and each C call. A call whose code object (Python functions,
unwrapped) or builtin identity matches an exercise's forbidden names is recorded, however the
student reached it: an alias at import, ``getattr`` with a built string, a private helper, a
helper thread. Switching the hook off is itself recorded, and so is starting a process (which
would escape the hook).
"""

from __future__ import annotations

import _thread
import functools
import importlib
import inspect
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import CodeType, FrameType
from typing import Any

PROCESS_STARTERS = {
    "posix.fork": "started a new process (os.fork)",
    "posix.system": "started a new process (os.system)",
    "posix.posix_spawn": "started a new process (os.posix_spawn)",
    "posix.posix_spawnp": "started a new process (os.posix_spawnp)",
    "_posixsubprocess.fork_exec": "started a new process (subprocess)",
}
TAMPERING = "switched off the grader's call tracing (sys.setprofile/threading.setprofile)"
# Where threading installs threading.setprofile's hook in a new thread.
# (A private CPython method: typeshed does not declare it.)
BOOTSTRAP_CODE = threading.Thread._bootstrap_inner.__code__  # type: ignore[attr-defined]


def resolve(dotted: str) -> Any:
    """Import the longest module prefix of ``dotted`` and walk the rest as attributes."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def builtin_key(obj: Any) -> tuple[str, str] | None:
    """A stable identity for builtins: (owner, name), equal for a descriptor and a bound call."""
    name = getattr(obj, "__name__", None)
    if name is None:
        return None
    objclass = getattr(obj, "__objclass__", None)
    if objclass is not None:
        return (objclass.__qualname__, name)
    owner = getattr(obj, "__self__", None)
    if owner is None or inspect.ismodule(owner):
        module = getattr(obj, "__module__", None) or getattr(owner, "__name__", "")
        return (str(module), name)
    owner_cls: type = type(owner)  # type(<Any>) is type[Any], which mypy will not hash
    return (_defining_class(owner_cls, name), name)


def _own_function(cls: type, member: Any) -> Any:
    """The plain function a forbidden class defines for ``member`` (unwrapped from its
    decorators), or None. A decorator's shared inner function (torch's optimizers wrap
    ``step`` in one) is not the class's own code: registering it would make every other class
    using that decorator look like this one."""
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    if not callable(member):
        return None
    function = inspect.unwrap(member)
    if not inspect.isfunction(function):
        return None
    if not function.__qualname__.startswith(f"{cls.__qualname__}."):
        return None
    return function


@functools.lru_cache(maxsize=4096)
def _defining_class(cls: type, name: str) -> str:
    """The class in ``cls``'s MRO that defines ``name``: a bound builtin method such as
    ``x.log_softmax`` (``x`` a ``Tensor``) then gets the same key as its descriptor
    ``torch.Tensor.log_softmax`` (whose ``__objclass__`` is ``TensorBase``)."""
    for klass in getattr(cls, "__mro__", (cls,)):
        if name in vars(klass):
            return klass.__qualname__
    return cls.__qualname__


class Guard:
    """Records forbidden calls made while :meth:`watching` is active."""

    def __init__(self, forbidden: list[str]) -> None:
        # Keyed by id() and checked with ``is``: code objects compare *equal* when their
        # contents are, so an equality match would flag a student's verbatim copy of torch's
        # own function as "calling torch".
        self.codes: dict[int, tuple[CodeType, str]] = {}
        self.builtins: dict[tuple[str, str], str] = {}
        for dotted in forbidden:
            try:
                self._add(dotted, resolve(dotted), f"called {dotted}")
            except (ImportError, AttributeError):
                continue  # not present in this torch version: nothing to catch
        for dotted, why in PROCESS_STARTERS.items():
            try:
                self._add(dotted, resolve(dotted), why)
            except (ImportError, AttributeError):
                continue
        for setter in (sys.setprofile, threading.setprofile):
            self._add("setprofile", setter, TAMPERING)
        self.found: list[str] = []
        self.pending: list[str] = []  # trap hits outside a watched call (at import)
        self.active = False  # the profile hook records (off while the harness pauses it)
        self.in_call = False  # inside watching(), paused or not
        self.trace = self.hook  # one bound-method object, so identity checks work
        self._install_thread_patch()

    def _add(self, dotted: str, obj: Any, why: str) -> None:
        target = inspect.unwrap(obj) if callable(obj) else obj
        if isinstance(target, type):
            for member in vars(target).values():
                function = _own_function(target, member)
                if function is not None:
                    self._add_code(function.__code__, why)
            return
        code = getattr(target, "__code__", None)
        if isinstance(code, CodeType):
            self._add_code(code, why)
            return
        key = builtin_key(target)
        if key is not None:
            self.builtins[key] = why

    def _add_code(self, code: CodeType, why: str) -> None:
        self.codes[id(code)] = (code, why)

    def _flag(self, why: str) -> None:
        if why not in self.found:
            self.found.append(why)

    def flag_always(self, why: str) -> None:
        """Record a use seen outside the profile hook (a trap), even while the harness has
        paused watching; one made outside any call (at import) is kept for the next report."""
        if self.in_call:
            self._flag(why)
        else:
            self.pending.append(why)

    def hook(self, frame: FrameType, event: str, arg: Any) -> None:
        if not self.active:
            return
        if event == "call":
            entry = self.codes.get(id(frame.f_code))
            if entry is not None and entry[0] is frame.f_code:
                self._flag(entry[1])
        elif event == "c_call":
            key = builtin_key(arg)
            if key is not None:
                why = self.builtins.get(key)
                if why is not None and not (why == TAMPERING and self._installs_hook(frame)):
                    self._flag(why)

    def _installs_hook(self, frame: FrameType) -> bool:
        """``threading`` itself calling ``sys.setprofile(_profile_hook)`` as a watched thread
        starts, with our hook as the value: that installs the tracing, it does not remove it."""
        # The exact code object, not the module's globals: exec(code, vars(threading)) would
        # otherwise pass for threading itself.
        return (
            frame.f_code is BOOTSTRAP_CODE
            and getattr(threading, "_profile_hook", None) is self.trace
        )

    def _install_thread_patch(self) -> None:
        """Make raw ``_thread`` starts carry the hook too (threading.setprofile covers Thread)."""
        guard = self

        def wrap(start: Callable[..., Any]) -> Callable[..., Any]:
            def start_traced(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
                def traced(*a: Any, **k: Any) -> Any:
                    if guard.active:
                        sys.setprofile(guard.trace)
                    return function(*a, **k)

                return start(traced, *args, **kwargs)

            return start_traced

        for module, attr in (
            (_thread, "start_new_thread"),
            (_thread, "start_joinable_thread"),
            (threading, "_start_new_thread"),
            (threading, "_start_joinable_thread"),
        ):
            original = getattr(module, attr, None)
            if original is not None:
                setattr(module, attr, wrap(original))

    @contextmanager
    def watching(self) -> Iterator[list[str]]:
        """Trace the block; yields the list that collects what was found."""
        self.found = list(dict.fromkeys(self.pending))
        self.pending = []
        self.active = True
        self.in_call = True
        threading.setprofile(self.trace)
        sys.setprofile(self.trace)
        try:
            yield self.found
        finally:
            tampered = sys.getprofile() is not self.trace
            self.active = False
            self.in_call = False
            sys.setprofile(None)
            threading.setprofile(None)
            if tampered:
                self._flag(TAMPERING)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Harness code's own calls (references, setup) inside a watched block."""
        was = self.active
        self.active = False
        try:
            yield
        finally:
            self.active = was


class ForbiddenCall(PermissionError):
    """Graded code called an API its exercise forbids (raised by a trap)."""


def install_traps(guard: Guard, forbidden: list[str], student_file: str) -> list[str]:
    """Replace each forbidden callable with a trap, before the submission is imported.

    A trap refuses -- records the use with ``guard`` and raises :class:`ForbiddenCall` -- when
    its immediate Python caller is code from ``student_file``; any other caller (the trusted
    harness, torch calling its own functions) gets the original. So a plain call fails loudly
    even if the profile hook were silenced. A forbidden class gets its ``__init__`` trapped,
    which also catches subclasses that call it. Returns the names trapped.
    """
    trapped = []
    for dotted in forbidden:
        parent_name, _, attr = dotted.rpartition(".")
        try:
            parent = resolve(parent_name)
            original = getattr(parent, attr)
        except (ImportError, AttributeError):
            continue
        why = f"called {dotted}"
        try:
            if isinstance(original, type):
                init = original.__dict__.get("__init__")
                if init is None or getattr(init, "__tlg_trap__", False):
                    continue
                # Replacing a forbidden class's __init__ (on the class itself) is the trap.
                original.__init__ = _trap(init, why, guard, student_file)  # type: ignore[misc]
            elif callable(original) and not getattr(original, "__tlg_trap__", False):
                setattr(parent, attr, _trap(original, why, guard, student_file))
            else:
                continue
        except (AttributeError, TypeError):  # a C type or read-only attribute: the hook remains
            continue
        trapped.append(dotted)
    return trapped


def _trap(original: Callable[..., Any], why: str, guard: Guard, student_file: str) -> Any:
    @functools.wraps(original)
    def trap(*args: Any, **kwargs: Any) -> Any:
        if sys._getframe(1).f_code.co_filename == student_file:
            guard.flag_always(why)
            raise ForbiddenCall(f"{why}: that is not allowed in this exercise; write it yourself")
        return original(*args, **kwargs)

    trap.__tlg_trap__ = True  # type: ignore[attr-defined]  # our marker on the function object
    return trap
