"""What the public suites check against: the references in the instructor's checkout, their
recorded answers in a student release.

Suites never import ``reference/`` themselves. They ask for an answer function --
``ref = answers("ex03_gradient_clipping")`` and then ``ref.clip_grad_norm(params, 1.0)`` -- and
this module decides where the answer comes from:

- **live** (the instructor's checkout, the default): the reference function runs, as if it had
  been imported.
- **record** (``grade release``): the public suites grade the solutions while every top-level
  answer call is recorded per test: its inputs, its result and what it did in place to the
  tensors it was given (values and ``.grad``). Hint paths that only run when a student fails
  are recorded too, through :func:`ahead`.
- **replay** (the student release, which has no ``reference/``): a call finds the recording of
  the same test and function whose inputs match (values to within rounding, so a student's
  machine that sums in another order still matches), applies its in-place effects to the
  arguments and returns a copy of its result. Inputs matching no recording mean the test's
  inputs depend on something that was not recorded: the test fails with a grader message
  instead of guessing.
- **shadow** (the grader's own parity tests): the reference runs *and* the recording is looked
  up; any difference is reported, so "the release's suites give the same verdicts" is checked
  call by call.

Answers are keyed by the test's node id, with a ``cuda`` test keyed as its ``cpu`` twin (the
instructor records on CPU; results are moved to the device of the call's tensors). Recordings
are data -- one file per exercise in :data:`EXPECTED_DIR`, in the protocol's frame format
(a JSON header and raw little-endian tensor bytes), never a pickle.

The module is also a pytest plugin (``grader/suites/pytest.ini`` loads it) that tells answer
calls which test they belong to.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import io
import json
import math
import types
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from grader.judge.failures import Failure
from grader.protocol.codec import HarnessFn, ProtocolError, encode, read_frame

FORMAT = 1
SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"
EXPECTED_DIR = SUITES_DIR / "expected"  # only in a student release
INDEX = EXPECTED_DIR / "exercises.json"
SUFFIX = ".expect"
RTOL = 1e-6  # inputs that differ by rounding (another BLAS, another CPU) still match
FLOAT_RTOL = 1e-9


def in_release() -> bool:
    """Whether this grader is a student release (recorded expectations, no references)."""
    return INDEX.is_file()


# -- which test is running ---------------------------------------------------------------------
_CURRENT: ContextVar[pytest.Item | None] = ContextVar("current_test", default=None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Answer calls made while ``item`` runs belong to it."""
    token = _CURRENT.set(item)
    try:
        yield
    finally:
        _CURRENT.reset(token)


@dataclass(frozen=True)
class TestKey:
    """Where a call's recordings are kept: the test (a ``cuda`` test as its ``cpu`` twin)."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    nodeid: str
    device: str | None  # the device swapped for "cpu" in the key, if any

    @property
    def module(self) -> str:
        """``public/test_ex03_gradient_clipping.py::...`` -> ``ex03_gradient_clipping``."""
        return self.nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removeprefix("test_")[:-3]


def current_key() -> TestKey | None:
    item = _CURRENT.get()
    if item is None:
        return None
    callspec = getattr(item, "callspec", None)
    device = callspec.params.get("device") if callspec is not None else None
    if not device or device == "cpu" or "[" not in item.nodeid:
        return TestKey(item.nodeid, None)
    base, ids = item.nodeid[:-1].split("[", 1)
    parts = ids.split("-")
    if device in parts:
        parts[parts.index(device)] = "cpu"
    return TestKey(f"{base}[{'-'.join(parts)}]", str(device))


# -- answer functions --------------------------------------------------------------------------
class Answers:
    """``reference.<module>`` as the suites see it: ``answers("ex01_linear_regression").predict``
    is an :class:`AnswerFunction`."""

    def __init__(self, module: str, cpu_results: Iterable[str] = ()) -> None:
        self._module = module
        self._cpu = set(cpu_results)
        self._functions: dict[str, AnswerFunction] = {}

    def __getattr__(self, name: str) -> AnswerFunction:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._functions:
            self._functions[name] = AnswerFunction(self._module, name, name in self._cpu)
        return self._functions[name]

    def __repr__(self) -> str:
        return f"answers({self._module!r})"


def answers(module: str, *, cpu_results: Iterable[str] = ()) -> Answers:
    """The answers of ``reference/<module>.py`` (``"support.<name>"`` for the judge's own
    answer-computing helpers in ``reference/support/``).

    A replayed result's tensors go to the device of the call's tensors, as a torch function's
    would, except for the functions named in ``cpu_results``, which always answer on the CPU.
    """
    return Answers(module, cpu_results)


class AnswerFunction:
    """One reference function, called live, recorded, replayed or shadowed (see the module)."""

    def __init__(self, module: str, name: str, cpu_results: bool = False) -> None:
        self.module, self.name = module, name
        self.qualname = f"{module}.{name}"
        self.cpu_results = cpu_results
        self.__name__ = name

    def target(self) -> Callable[..., Any]:
        if _STATE.mode == "replay":
            raise Failure(f"{self.qualname}: a student release has no reference to run")
        module = importlib.import_module(f"reference.{self.module}")
        fn: Callable[..., Any] = getattr(module, self.name)  # a reference function
        return fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        state = _STATE
        if state.mode == "live" or state.depth:
            return self.target()(*args, **kwargs)
        key = current_key()
        if key is None:  # at import time, outside any test: nothing to key it by
            if state.mode == "replay":
                raise Failure(f"{self.qualname} was called outside a test")
            return self.target()(*args, **kwargs)
        args, kwargs = _materialised(args, kwargs)
        if state.mode == "replay":
            return state.replay(self, key, args, kwargs)
        inputs = canonical((args, kwargs), key.device)  # before the call changes anything
        state.depth += 1
        try:
            result, effects = _run(self.target(), args, kwargs)
        finally:
            state.depth -= 1
        if state.mode == "record":
            state.record(self, key, inputs, result, effects)
        else:
            state.shadow(self, key, inputs, (args, kwargs), result, effects)
        return result

    def __repr__(self) -> str:
        return f"<answer {self.qualname}>"


def recording_hints() -> bool:
    """Whether :func:`ahead` records anything now (so a suite can skip preparing its inputs)."""
    return _STATE.mode in ("record", "shadow") and not _STATE.depth


def ahead(fn: AnswerFunction, *args: Any, **kwargs: Any) -> None:
    """Record ``fn(*args, **kwargs)`` now, for a hint that calls it only when a student fails.

    The recording run grades the solutions, which never fail, so an answer a hint needs would
    otherwise be missing from the release. Live and replaying, this does nothing.
    """
    if recording_hints():
        fn(*args, **kwargs)


def _materialised(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """One-shot iterators (``(p for p in params)``) as :class:`_Items`, which can be both read
    for the key and handed on as an iterator."""

    def fix(x: Any) -> Any:
        if isinstance(x, Iterator) and not isinstance(x, _Items):
            return _Items(list(x))
        return x

    return tuple(fix(a) for a in args), {k: fix(v) for k, v in kwargs.items()}


class _Items(Iterator[Any]):
    """A materialised iterator argument: iterates like the original, keeps its items."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self._it = iter(items)

    def __next__(self) -> Any:
        return next(self._it)


# -- the canonical form of inputs --------------------------------------------------------------
def canonical(value: Any, device: str | None = None) -> Any:
    """``value`` as plain data to key and compare calls by: tensors (on CPU, with their
    ``.grad``), numbers, strings and containers, with functions, modules and dataclasses as
    tagged tuples. ``device``: a cuda test's device, written as ``"cpu"`` (its twin's)."""
    import torch

    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return "cpu" if device is not None and value == device else value
    if isinstance(value, torch.Tensor):
        t = value.detach().to("cpu").clone()
        grad = value.grad if value.is_leaf else None
        if isinstance(grad, torch.Tensor):
            t.grad = grad.detach().to("cpu").clone()
        return t
    if isinstance(value, list):
        return [canonical(x, device) for x in value]
    if isinstance(value, tuple):
        return tuple(canonical(x, device) for x in value)
    if isinstance(value, dict):
        return {k: canonical(v, device) for k, v in value.items()}
    if isinstance(value, _Items):
        return ("$iter", [canonical(x, device) for x in value.items])
    if isinstance(value, torch.dtype):
        return ("$dtype", str(value))
    if isinstance(value, torch.device):
        return ("$device", "cpu" if device is not None and value.type != "cpu" else str(value))
    if isinstance(value, HarnessFn):
        return ("$harness", value.ref)
    if isinstance(value, Answers):
        return ("$module", f"reference.{value._module}")
    if isinstance(value, AnswerFunction):
        return ("$answer", value.qualname)
    if isinstance(value, types.ModuleType):
        return ("$module", value.__name__)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {
            f.name: canonical(getattr(value, f.name), device) for f in dataclasses.fields(value)
        }
        return ("$dataclass", type(value).__qualname__, fields)
    if isinstance(value, types.FunctionType):
        cells = [c.cell_contents for c in value.__closure__ or ()]
        return (
            "$fn",
            value.__qualname__,
            [canonical(c, device) for c in cells],
            canonical(value.__defaults__, device),
        )
    if isinstance(value, types.BuiltinFunctionType):
        return ("$fn", f"{value.__module__}.{value.__qualname__}", [], None)
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return value.item()  # NumPy scalars
    raise TypeError(f"an argument of type {type(value).__name__} cannot be recorded")


def difference(recorded: Any, live: Any, where: str = "") -> str | None:
    """Where ``live`` (canonical inputs) differs from ``recorded`` beyond rounding, or None."""
    import torch

    at = where or "the arguments"
    if isinstance(recorded, torch.Tensor) or isinstance(live, torch.Tensor):
        if not (isinstance(recorded, torch.Tensor) and isinstance(live, torch.Tensor)):
            return f"{at}: a tensor on one side only"
        if recorded.shape != live.shape or recorded.dtype != live.dtype:
            return (
                f"{at}: recorded shape {tuple(recorded.shape)} ({recorded.dtype}), got "
                f"{tuple(live.shape)} ({live.dtype})"
            )
        if not _tensors_close(recorded, live):
            return f"{at}: values differ"
        if (recorded.grad is None) != (live.grad is None):
            return f"{at}.grad: None on one side only"
        if recorded.grad is not None:
            return difference(recorded.grad, live.grad, f"{at}.grad")
        return None
    if isinstance(recorded, float) and isinstance(live, float):
        same = (math.isnan(recorded) and math.isnan(live)) or math.isclose(
            recorded, live, rel_tol=FLOAT_RTOL, abs_tol=1e-12
        )
        return None if same else f"{at}: recorded {recorded!r}, got {live!r}"
    if type(recorded) is not type(live):
        return f"{at}: recorded a {type(recorded).__name__}, got a {type(live).__name__}"
    if isinstance(recorded, list | tuple):
        if len(recorded) != len(live):
            return f"{at}: recorded {len(recorded)} items, got {len(live)}"
        for i, (r, g) in enumerate(zip(recorded, live)):
            found = difference(r, g, f"{at}[{i}]")
            if found:
                return found
        return None
    if isinstance(recorded, dict):
        if list(recorded) != list(live):
            return f"{at}: recorded keys {list(recorded)[:6]}, got {list(live)[:6]}"
        for k in recorded:
            found = difference(recorded[k], live[k], f"{at}[{k!r}]")
            if found:
                return found
        return None
    return None if recorded == live else f"{at}: recorded {recorded!r}, got {live!r}"


def _tensors_close(a: Any, b: Any) -> bool:
    import torch

    if not (a.is_floating_point() or a.is_complex()):
        return bool(torch.equal(a, b))
    if a.numel() == 0:
        return True
    scale = max(1.0, float(a.abs().nan_to_num(posinf=0.0, neginf=0.0).max()))
    return bool(torch.allclose(a, b, rtol=RTOL, atol=1e-9 * scale, equal_nan=True))


def _tensors(value: Any) -> list[Any]:
    """The tensors a call may change in place, in a fixed order: those in the arguments'
    lists, tuples, dicts, iterators and dataclasses (not those inside functions)."""
    import torch

    found: list[Any] = []

    def walk(x: Any) -> None:
        if isinstance(x, torch.Tensor):
            found.append(x)
        elif isinstance(x, list | tuple):
            for y in x:
                walk(y)
        elif isinstance(x, dict):
            for y in x.values():
                walk(y)
        elif isinstance(x, _Items):
            walk(x.items)
        elif dataclasses.is_dataclass(x) and not isinstance(x, type):
            for f in dataclasses.fields(x):
                walk(getattr(x, f.name))

    walk(value)
    return found


# -- in-place effects --------------------------------------------------------------------------
KEEP = "keep"  # the tensor's .grad is as it was
NONE = "none"  # the call set .grad to None


def _run(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, list[Any]]:
    """Call ``fn`` and report, per argument tensor, what it changed: None (nothing) or
    ``{"data": tensor | None, "grad": tensor | KEEP | NONE}``."""
    tensors = _tensors((args, kwargs))
    before = [(t.detach().clone(), t.grad, None if t.grad is None else t.grad.clone())
              for t in tensors]  # fmt: skip
    result = fn(*args, **kwargs)
    effects: list[Any] = []
    for t, (data, grad_obj, grad) in zip(tensors, before):
        now = t.detach()
        changed = now.shape != data.shape or now.dtype != data.dtype or not _same(now, data)
        new_grad: Any = KEEP
        if t.grad is None and grad_obj is not None:
            new_grad = NONE
        elif t.grad is not None and (
            t.grad is not grad_obj
            or grad is None
            or t.grad.shape != grad.shape
            or not _same(t.grad.detach(), grad)
        ):
            new_grad = t.grad.detach().to("cpu").clone()
        if not changed and isinstance(new_grad, str) and new_grad == KEEP:
            effects.append(None)
        else:
            effects.append({"data": now.to("cpu").clone() if changed else None, "grad": new_grad})
    return result, effects


def _same(a: Any, b: Any) -> bool:
    import torch

    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.is_floating_point() or a.is_complex():
        return bool(((a == b) | (a.isnan() & b.isnan())).all())
    return bool(torch.equal(a, b))


def _apply(effects: list[Any], tensors: list[Any]) -> None:
    """Do to ``tensors`` what the recorded call did to its arguments."""
    import torch

    with torch.no_grad():
        for t, effect in zip(tensors, effects):
            if effect is None:
                continue
            data = effect["data"]  # recorded tensors are copied, never handed out
            if data is not None:
                if data.shape == t.shape and data.dtype == t.dtype:
                    t.copy_(data)
                else:
                    t.data = data.to(t.device, copy=True)
            grad = effect["grad"]
            if isinstance(grad, str) and grad == NONE:
                t.grad = None
            elif isinstance(grad, torch.Tensor):
                if t.grad is not None and t.grad.shape == grad.shape and t.grad.dtype == grad.dtype:
                    t.grad.copy_(grad)
                else:
                    t.grad = grad.to(t.device, copy=True)


def _copy(value: Any, device: str | None) -> Any:
    """A fresh copy of a recorded result (tensors on ``device``), so a suite may change it."""
    import torch

    if isinstance(value, torch.Tensor):
        out = value.detach().clone()
        if device is not None:
            out = out.to(device)
        if isinstance(value, torch.nn.Parameter):
            return torch.nn.Parameter(out, requires_grad=value.requires_grad)
        if value.requires_grad:
            out.requires_grad_(True)
        return out
    if isinstance(value, list):
        return [_copy(x, device) for x in value]
    if isinstance(value, tuple):
        return tuple(_copy(x, device) for x in value)
    if isinstance(value, dict):
        return {k: _copy(v, device) for k, v in value.items()}
    return value


def _call_device(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """The device of the call's tensors when it is not the CPU (where recordings live)."""
    for t in _tensors((args, kwargs)):
        if t.device.type != "cpu":
            return str(t.device)
    return None


# -- recordings --------------------------------------------------------------------------------
@dataclass
class Entry:
    function: str
    inputs: Any  # canonical (args, kwargs)
    result: Any
    effects: list[Any]


@dataclass
class Store:
    """The recorded answers of one exercise's public suite, by test."""

    module: str
    tests: dict[str, list[Entry]] = field(default_factory=dict)
    grader_version: str = ""

    def add(self, test: str, entry: Entry) -> None:
        self.tests.setdefault(test, []).append(entry)

    def find(self, test: str, function: str, inputs: Any) -> tuple[Entry | None, str]:
        """The recording of ``function`` in ``test`` with matching inputs, or (None, why)."""
        candidates = [e for e in self.tests.get(test, []) if e.function == function]
        if not candidates:
            return None, f"no call of {function} was recorded in this test"
        why = ""
        for entry in candidates:
            diff = difference(entry.inputs, inputs)
            if diff is None:
                return entry, ""
            why = why or diff
        return None, why

    def to_bytes(self) -> bytes:
        """One frame: the tests' entries, with every distinct tensor stored once in
        ``"tensors"`` and referred to as ``("$t", index)`` (a case's inputs recur in every
        simulation of it)."""
        tensors: list[Any] = []
        seen: dict[bytes, int] = {}
        tests = {
            test: [_pack([e.function, e.inputs, e.result, e.effects], tensors, seen)
                   for e in entries]
            for test, entries in self.tests.items()
        }  # fmt: skip
        message = {
            "format": FORMAT,
            "module": self.module,
            "grader": self.grader_version,
            "tensors": tensors,
            "tests": tests,
        }
        return encode(message)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Store:
        stream = io.BytesIO(raw)

        def read_exact(n: int) -> bytes:
            chunk = stream.read(n)
            if len(chunk) != n:
                raise ProtocolError("truncated expectation file")
            return chunk

        message = read_frame(read_exact)
        if stream.read(1):
            raise ProtocolError("trailing bytes after the expectations")
        if not isinstance(message, dict) or message.get("format") != FORMAT:
            raise ProtocolError("not an expectation file of format 1")
        store = cls(str(message["module"]), grader_version=str(message.get("grader", "")))
        tensors = message["tensors"]
        for test, entries in message["tests"].items():
            for packed in entries:
                function, inputs, result, effects = _unpack(packed, tensors)
                store.add(test, Entry(function, inputs, result, effects))
        return store

    def entries(self) -> int:
        return sum(len(v) for v in self.tests.values())


def _pack(value: Any, table: list[Any], seen: dict[bytes, int]) -> Any:
    """``value`` with each tensor replaced by ``("$t", i)``, ``table[i]`` being the tensor
    (equal tensors -- values, dtype, shape, flags and ``.grad`` -- share one entry)."""
    import torch

    if isinstance(value, torch.Tensor):
        key = hashlib.sha256(encode(value)).digest()
        if key not in seen:
            seen[key] = len(table)
            table.append(value)
        return ("$t", seen[key])
    if isinstance(value, list):
        return [_pack(x, table, seen) for x in value]
    if isinstance(value, tuple):
        return tuple(_pack(x, table, seen) for x in value)
    if isinstance(value, dict):
        return {k: _pack(v, table, seen) for k, v in value.items()}
    return value


def _unpack(value: Any, table: list[Any]) -> Any:
    if isinstance(value, tuple):
        if len(value) == 2 and value[0] == "$t" and isinstance(value[1], int):
            if not 0 <= value[1] < len(table):
                raise ProtocolError("reference to a missing recorded tensor")
            return table[value[1]]
        return tuple(_unpack(x, table) for x in value)
    if isinstance(value, list):
        return [_unpack(x, table) for x in value]
    if isinstance(value, dict):
        return {k: _unpack(v, table) for k, v in value.items()}
    return value


def load(path: Path) -> Store:
    return Store.from_bytes(path.read_bytes())


def write_index(folder: Path, exercises: list[dict[str, Any]]) -> Path:
    """The exercise list a release reads instead of ``reference/`` (titles, forbidden names)."""
    path = folder / INDEX.name
    path.write_text(json.dumps({"format": FORMAT, "exercises": exercises}, indent=1) + "\n")
    return path


# -- modes -------------------------------------------------------------------------------------
@dataclass
class _State:
    mode: str = "live"
    depth: int = 0
    folder: Path | None = None  # replay/shadow: where the stores are read from
    stores: dict[str, Store | None] = field(default_factory=dict)
    recorded: dict[str, Store] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    def store(self, module: str) -> Store | None:
        if module not in self.stores:
            path = (self.folder or EXPECTED_DIR) / f"{module}{SUFFIX}"
            self.stores[module] = load(path) if path.is_file() else None
        return self.stores[module]

    def record(
        self, fn: AnswerFunction, key: TestKey, inputs: Any, result: Any, fx: list[Any]
    ) -> None:
        store = self.recorded.setdefault(key.module, Store(key.module))
        entry, _ = store.find(key.nodeid, fn.qualname, inputs)
        if entry is None:  # the same call twice (a hint ahead of time, then for real): once
            store.add(key.nodeid, Entry(fn.qualname, inputs, _plain(result), fx))

    def lookup(self, fn: AnswerFunction, key: TestKey, inputs: Any) -> Entry:
        store = self.store(key.module)
        if store is None:
            raise Failure(
                f"the recorded answers of {key.module} are missing from this grader "
                f"({EXPECTED_DIR.name}/{key.module}{SUFFIX}): reinstall it from the course "
                "repository",
            )
        entry, why = store.find(key.nodeid, fn.qualname, inputs)
        if entry is None:
            raise Failure(
                f"the grader has no recorded answer of {fn.name} for these inputs ({why}): "
                "the public tests compare with answers recorded when the course was released, "
                "and this call was not among them. This is a problem of the grader, not of "
                "your code: tell your instructor",
            )
        return entry

    def replay(
        self, fn: AnswerFunction, key: TestKey, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            inputs = canonical((args, kwargs), key.device)
        except TypeError as exc:
            raise Failure(f"{fn.qualname}: {exc}") from None
        entry = self.lookup(fn, key, inputs)
        _apply(entry.effects, _tensors((args, kwargs)))
        return _copy(entry.result, None if fn.cpu_results else _call_device(args, kwargs))

    def shadow(
        self,
        fn: AnswerFunction,
        key: TestKey,
        inputs: Any,
        call: tuple[tuple[Any, ...], dict[str, Any]],
        result: Any,
        fx: list[Any],
    ) -> None:
        where = f"{key.nodeid}: {fn.qualname}"
        try:
            entry = self.lookup(fn, key, inputs)
        except Failure as failure:
            self.violations.append(f"{where}: {failure.message}")
            return
        device = None if fn.cpu_results else _call_device(*call)
        found = exact_difference(_copy(entry.result, device), _plain(result), "result")
        found = found or exact_difference(entry.effects, fx, "in-place effects")
        if found:
            self.violations.append(f"{where}: replay differs from the reference: {found}")


def _plain(result: Any) -> Any:
    """A result as it will be stored: only what the frame format carries."""
    encode(result)  # raises ProtocolError for anything else
    return result


def exact_difference(recorded: Any, live: Any, where: str) -> str | None:
    """Where two results differ at all (NaN equals NaN; types, key order and flags count)."""
    import torch

    if isinstance(recorded, torch.Tensor) or isinstance(live, torch.Tensor):
        ok = (
            isinstance(recorded, torch.Tensor)
            and isinstance(live, torch.Tensor)
            and recorded.device == live.device
            and recorded.shape == live.shape
            and recorded.dtype == live.dtype
            and recorded.requires_grad == live.requires_grad
            and _same(recorded.detach().cpu(), live.detach().cpu())
        )
        return None if ok else f"{where}: tensors differ"
    if type(recorded) is not type(live):
        return f"{where}: {type(recorded).__name__} vs {type(live).__name__}"
    if isinstance(recorded, float):
        same = recorded == live or (math.isnan(recorded) and math.isnan(live))
        return None if same else f"{where}: {recorded!r} vs {live!r}"
    if isinstance(recorded, list | tuple):
        if len(recorded) != len(live):
            return f"{where}: {len(recorded)} vs {len(live)} items"
        for i, (r, g) in enumerate(zip(recorded, live)):
            found = exact_difference(r, g, f"{where}[{i}]")
            if found:
                return found
        return None
    if isinstance(recorded, dict):
        if list(recorded) != list(live):
            return f"{where}: keys {list(recorded)} vs {list(live)}"
        for k in recorded:
            found = exact_difference(recorded[k], live[k], f"{where}[{k!r}]")
            if found:
                return found
        return None
    return None if recorded == live else f"{where}: {recorded!r} vs {live!r}"


_STATE = _State(mode="replay" if in_release() else "live")


@contextlib.contextmanager
def _mode(state: _State) -> Iterator[_State]:
    global _STATE
    previous, _STATE = _STATE, state
    try:
        yield state
    finally:
        _STATE = previous


def recording() -> contextlib.AbstractContextManager[_State]:
    """Record every answer call of the suites run inside; ``state.recorded`` holds a Store per
    exercise module afterwards."""
    return _mode(_State(mode="record"))


def replaying(folder: Path) -> contextlib.AbstractContextManager[_State]:
    """Answer from the recordings in ``folder`` (a release's ``grader/suites/expected``)."""
    return _mode(_State(mode="replay", folder=folder))


def shadowing(folder: Path) -> contextlib.AbstractContextManager[_State]:
    """Run the references and compare each answer with its recording in ``folder``;
    ``state.violations`` lists every difference and every missing recording."""
    return _mode(_State(mode="shadow", folder=folder))
