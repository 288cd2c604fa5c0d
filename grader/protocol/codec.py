"""The wire format between the judge and the worker: data only, never pickles.

A frame is an 8-byte little-endian length, a UTF-8 JSON header of that length, then the raw
bytes of every tensor/bytes buffer the header refers to, back to back. The header is
``{"msg": <node>, "buffers": [n0, n1, ...]}`` where a node is JSON (None, bool, int, float,
str, list) or a tagged object:

- ``{"$": "tuple" | "iter", "items": [...]}``
- ``{"$": "dict", "items": [[key, value], ...]}``
- ``{"$": "tensor", "buf": i, "dtype": "float32", "shape": [...], "device": "cpu",
  "requires_grad": bool, "param": bool, "grad": <tensor node> | None}``
- ``{"$": "bytes", "buf": i}``
- ``{"$": "fn", "ref": "module:name"}`` -- a trusted harness function, resolved by the worker.

Decoding rebuilds every tensor from its bytes with ``torch.frombuffer(...).clone()``, so the
result is always an exact ``torch.Tensor``; dtype, shape, byte count, nesting depth and total
size are checked against limits, and anything else is a :class:`ProtocolError`. The header's
bracket nesting is measured *before* ``json.loads`` sees it (a deeply nested frame would
otherwise exhaust the parser's recursion), and any failure while decoding -- whatever exception
it raises -- is reported as a :class:`ProtocolError`, never as the judge's own crash.
"""

from __future__ import annotations

import functools
import json
import math
import re
import struct
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

LENGTH = struct.Struct("<Q")
MAX_HEADER_BYTES = 16 << 20
MAX_TOTAL_BYTES = 512 << 20
MAX_DEPTH = 64

DTYPE_ALLOW_LIST = (
    "float16", "bfloat16", "float32", "float64", "complex64", "complex128",
    "uint8", "int8", "int16", "int32", "int64", "bool",
)  # fmt: skip


@functools.lru_cache(maxsize=1)
def dtypes() -> dict[str, torch.dtype]:
    """Allowed dtypes by name. torch is imported lazily: the judge encodes its first message
    (which holds no tensors) before it has imported torch, so both imports overlap."""
    import torch

    return {name: getattr(torch, name) for name in DTYPE_ALLOW_LIST}


@functools.lru_cache(maxsize=1)
def dtype_names() -> dict[torch.dtype, str]:
    return {v: k for k, v in dtypes().items()}


class ProtocolError(Exception):
    """A frame that is malformed, too large, or holds something the protocol does not carry."""


@dataclass(frozen=True)
class HarnessFn:
    """A reference to a trusted function in ``grader.worker.scenarios``: ``"module:name"``."""

    ref: str


@dataclass
class AsIter:
    """Send these items as a one-shot iterator (the callee sees an iterator over them)."""

    items: list[Any]


class SentIter(Iterator[Any]):
    """What an ``iter`` node decodes to: an iterator that remembers its items, so in-place
    changes to tensors passed through it can be sent back."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self._it = iter(items)

    def __next__(self) -> Any:
        return next(self._it)


class _Encoder:
    def __init__(self) -> None:
        self.buffers: list[bytes] = []

    def tensor(self, t: torch.Tensor) -> dict[str, Any]:
        import torch

        # A subclass's __torch_function__ could lie about dtype, shape or values: read them
        # with subclass dispatch switched off, as a plain tensor would report them.
        with torch._C.DisableTorchFunctionSubclass():
            return self._tensor(t)

    def _tensor(self, t: torch.Tensor) -> dict[str, Any]:
        import torch

        names = dtype_names()
        if t.dtype not in names:
            raise ProtocolError(f"tensors of dtype {t.dtype} cannot be sent")
        plain = t.detach()
        if plain.is_sparse or plain.layout != torch.strided:
            plain = plain.to_dense()
        data = plain.to("cpu").contiguous()
        if data.is_conj():
            data = data.resolve_conj()
        raw = data.reshape(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b""
        self.buffers.append(raw)
        grad = getattr(t, "grad", None) if t.is_leaf else None
        return {
            "$": "tensor",
            "buf": len(self.buffers) - 1,
            "dtype": names[t.dtype],
            "shape": list(t.shape),
            "device": str(t.device),
            "requires_grad": bool(t.requires_grad),
            "param": isinstance(t, torch.nn.Parameter),
            "grad": self._tensor(grad) if isinstance(grad, torch.Tensor) else None,
        }

    def node(self, obj: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError("value nested too deeply")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return float(obj)
        torch = sys.modules.get("torch")  # no torch imported yet => no tensors to send
        if torch is not None and isinstance(obj, torch.Tensor):
            return self.tensor(obj)
        if isinstance(obj, HarnessFn):
            return {"$": "fn", "ref": obj.ref}
        if isinstance(obj, (bytes, bytearray, memoryview)):
            self.buffers.append(bytes(obj))
            return {"$": "bytes", "buf": len(self.buffers) - 1}
        if isinstance(obj, list):
            return [self.node(x, depth + 1) for x in obj]
        if isinstance(obj, tuple):
            return {"$": "tuple", "items": [self.node(x, depth + 1) for x in obj]}
        if isinstance(obj, dict):
            items = [[self.node(k, depth + 1), self.node(v, depth + 1)] for k, v in obj.items()]
            return {"$": "dict", "items": items}
        if isinstance(obj, AsIter | SentIter):
            return {"$": "iter", "items": [self.node(x, depth + 1) for x in obj.items]}
        if isinstance(obj, Iterator):
            return {"$": "iter", "items": [self.node(x, depth + 1) for x in obj]}
        if hasattr(obj, "item") and hasattr(obj, "dtype") and getattr(obj, "shape", None) == ():
            return self.node(obj.item(), depth)  # NumPy scalars
        raise ProtocolError(f"a value of type {type(obj).__name__} cannot be sent")


def encode(message: Any) -> bytes:
    """Serialize ``message`` into one frame."""
    enc = _Encoder()
    msg = enc.node(message)
    header = json.dumps({"msg": msg, "buffers": [len(b) for b in enc.buffers]}).encode()
    return b"".join([LENGTH.pack(len(header)), header, *enc.buffers])


class _Decoder:
    def __init__(self, buffers: list[bytes], resolve_fn: Callable[[str], Any] | None) -> None:
        self.buffers = buffers
        self.resolve_fn = resolve_fn

    def tensor(self, node: dict[str, Any]) -> torch.Tensor:
        import torch

        # Any JSON value may stand here: a non-name just misses (None; an unhashable one raises
        # TypeError, which read_frame reports as a ProtocolError).
        dtype = dtypes().get(node.get("dtype"))  # type: ignore[arg-type]
        if dtype is None:
            raise ProtocolError(f"dtype {node.get('dtype')!r} is not allowed")
        shape = node.get("shape")
        if not isinstance(shape, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape
        ):
            raise ProtocolError("tensor shape must be a list of non-negative ints")
        raw = self.buffer(node.get("buf"))
        numel = math.prod(shape)
        itemsize = torch.empty((), dtype=dtype).element_size()
        if len(raw) != numel * itemsize:
            raise ProtocolError(
                f"tensor of shape {tuple(shape)} and dtype {node['dtype']} needs "
                f"{numel * itemsize} bytes, got {len(raw)}"
            )
        if numel:
            t = torch.frombuffer(bytearray(raw), dtype=dtype).reshape(shape).clone()
        else:
            t = torch.empty(shape, dtype=dtype)
        device = str(node.get("device", "cpu"))
        if device != "cpu":
            if not device.startswith("cuda") or not torch.cuda.is_available():
                raise ProtocolError(f"tensor on device {device!r}, which this process lacks")
            t = t.to(device)
        grad_node = node.get("grad")
        if node.get("param"):
            t = torch.nn.Parameter(t, requires_grad=bool(node.get("requires_grad")))
        elif node.get("requires_grad") and (t.is_floating_point() or t.is_complex()):
            t.requires_grad_(True)
        if grad_node is not None:
            grad = self.tensor(grad_node)
            if grad.shape != t.shape or grad.dtype != t.dtype:
                raise ProtocolError("a gradient must match its tensor's shape and dtype")
            t.grad = grad
        return t

    def buffer(self, index: Any) -> bytes:
        if not isinstance(index, int) or not 0 <= index < len(self.buffers):
            raise ProtocolError("reference to a missing buffer")
        return self.buffers[index]

    def node(self, node: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError("value nested too deeply")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.node(x, depth + 1) for x in node]
        if not isinstance(node, dict):
            raise ProtocolError(f"unexpected JSON value of type {type(node).__name__}")
        tag = node.get("$")
        if tag == "tensor":
            return self.tensor(node)
        if tag == "bytes":
            return self.buffer(node.get("buf"))
        if tag == "fn":
            if self.resolve_fn is None:
                raise ProtocolError("function references are only accepted by the worker")
            return self.resolve_fn(str(node.get("ref")))
        items = node.get("items")
        if not isinstance(items, list):
            raise ProtocolError(f"tagged value {tag!r} without items")
        if tag == "tuple":
            return tuple(self.node(x, depth + 1) for x in items)
        if tag == "iter":
            return SentIter([self.node(x, depth + 1) for x in items])
        if tag == "dict":
            out: dict[Any, Any] = {}
            for pair in items:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise ProtocolError("dict items must be [key, value] pairs")
                key = self.node(pair[0], depth + 1)
                if isinstance(key, list | dict) or hasattr(key, "dtype"):
                    raise ProtocolError("dict keys must be hashable scalars or tuples")
                out[key] = self.node(pair[1], depth + 1)
            return out
        raise ProtocolError(f"unknown tag {tag!r}")


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


def json_depth(raw: bytes) -> int:
    """The deepest bracket nesting in JSON text ``raw`` (brackets inside strings don't count).

    Runs in C-speed passes (a regex, ``bytes.translate``, a NumPy cumulative sum), so a 16 MiB
    header of brackets costs milliseconds, and it never recurses.
    """
    skeleton = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if not skeleton:
        return 0
    import numpy as np

    codes = np.frombuffer(skeleton, dtype=np.uint8)
    opens = (codes == ord("[")) | (codes == ord("{"))
    steps = opens.view(np.int8) * np.int8(2) - np.int8(1)
    return int(np.cumsum(steps, dtype=np.int32).max())


def read_frame(
    read_exact: Callable[[int], bytes],
    *,
    resolve_fn: Callable[[str], Any] | None = None,
    max_total: int = MAX_TOTAL_BYTES,
) -> Any:
    """Read and decode one frame using ``read_exact(n)`` (which must return n bytes or raise).

    Exceptions raised by ``read_exact`` (end of file, a deadline) pass through unchanged;
    everything wrong with the frame itself is a :class:`ProtocolError`.
    """
    (length,) = LENGTH.unpack(read_exact(LENGTH.size))
    if length > MAX_HEADER_BYTES:
        raise ProtocolError(f"header of {length} bytes exceeds the {MAX_HEADER_BYTES} byte cap")
    raw = read_exact(length)
    # A node is at most two JSON levels per protocol level ({"$": ..., "items": [...]}).
    if json_depth(raw) > 2 * MAX_DEPTH + 4:
        raise ProtocolError("header nested too deeply")
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError, MemoryError) as exc:  # UnicodeDecodeError, JSON errors
        raise ProtocolError(f"header is not valid JSON: {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("buffers"), list):
        raise ProtocolError("header must be an object with a 'buffers' list")
    sizes = header["buffers"]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in sizes):
        raise ProtocolError("buffer sizes must be non-negative ints")
    if sum(sizes) > max_total:
        raise ProtocolError(f"reply of {sum(sizes)} bytes exceeds the {max_total} byte cap")
    buffers = [read_exact(n) if n else b"" for n in sizes]
    try:
        return _Decoder(buffers, resolve_fn).node(header.get("msg"))
    except ProtocolError:
        raise
    except Exception as exc:  # a torch error on odd shapes, a hostile resolve_fn target, ...
        raise ProtocolError(f"undecodable value ({type(exc).__name__}: {exc})") from None


def tensors_in(obj: Any) -> list[torch.Tensor]:
    """Every tensor inside a (nested) argument structure, in encoding order."""
    import torch

    found: list[torch.Tensor] = []

    def walk(x: Any) -> None:
        if isinstance(x, torch.Tensor):
            found.append(x)
        elif isinstance(x, AsIter | SentIter):
            walk(x.items)
        elif isinstance(x, (list, tuple)):
            for y in x:
                walk(y)
        elif isinstance(x, dict):
            for k, v in x.items():
                walk(k)
                walk(v)

    walk(obj)
    return found
