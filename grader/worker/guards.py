"""Forbidden-API detection inside the worker.

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
    return (_defining_class(type(owner), name), name)


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
        self.codes: dict[CodeType, str] = {}
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
        self.active = False
        self.trace = self.hook  # one bound-method object, so identity checks work
        self._install_thread_patch()

    def _add(self, dotted: str, obj: Any, why: str) -> None:
        target = inspect.unwrap(obj) if callable(obj) else obj
        if isinstance(target, type):
            for member in vars(target).values():
                if inspect.isfunction(member):
                    self.codes[member.__code__] = why
            return
        code = getattr(target, "__code__", None)
        if isinstance(code, CodeType):
            self.codes[code] = why
            return
        key = builtin_key(target)
        if key is not None:
            self.builtins[key] = why

    def _flag(self, why: str) -> None:
        if why not in self.found:
            self.found.append(why)

    def hook(self, frame: FrameType, event: str, arg: Any) -> None:
        if not self.active:
            return
        if event == "call":
            why = self.codes.get(frame.f_code)
            if why is not None:
                self._flag(why)
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
        self.found = []
        self.active = True
        threading.setprofile(self.trace)
        sys.setprofile(self.trace)
        try:
            yield self.found
        finally:
            tampered = sys.getprofile() is not self.trace
            self.active = False
            sys.setprofile(None)
            threading.setprofile(None)  # type: ignore[arg-type]
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
