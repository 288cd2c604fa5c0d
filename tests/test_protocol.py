"""The wire format: data round-trips, and anything malformed is refused (never unpickled)."""

import ast
import json
import struct
from pathlib import Path

import pytest
import torch

from grader.protocol import AsIter, HarnessFn, ProtocolError, encode, read_frame, tensors_in
from grader.protocol.codec import SentIter


def roundtrip(obj, resolve_fn=None):
    data = encode(obj)
    pos = 0

    def read_exact(n):
        nonlocal pos
        chunk = data[pos : pos + n]
        assert len(chunk) == n
        pos += n
        return chunk

    return read_frame(read_exact, resolve_fn=resolve_fn)


def frame(header: dict, *buffers: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + b"".join(buffers)


def decode(data: bytes):
    pos = 0

    def read_exact(n):
        nonlocal pos
        chunk = data[pos : pos + n]
        if len(chunk) != n:
            raise EOFError
        pos += n
        return chunk

    return read_frame(read_exact)


def test_plain_values_round_trip():
    value = {"a": [1, 2.5, None, True, "x"], (1, 2): (3, [4]), 7: {"nested": (float("inf"),)}}
    assert roundtrip(value) == value


@pytest.mark.parametrize(
    "dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int64, torch.bool]
)
def test_tensors_round_trip_bit_exact(dtype):
    t = (torch.randn(3, 4) * 100).to(dtype)
    back = roundtrip(t)
    assert type(back) is torch.Tensor and back.dtype == dtype and torch.equal(back, t)


def test_parameter_grad_and_requires_grad_travel():
    p = torch.nn.Parameter(torch.ones(2, 2, dtype=torch.float64))
    p.grad = torch.full((2, 2), 3.0, dtype=torch.float64)
    back = roundtrip([p, torch.zeros(3, requires_grad=True), torch.empty(0, 5)])
    assert isinstance(back[0], torch.nn.Parameter) and torch.equal(back[0].grad, p.grad)
    assert back[1].requires_grad and back[2].shape == (0, 5)


def test_subclass_is_rebuilt_as_plain_tensor():
    class Liar(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            return True

    back = roundtrip(torch.tensor([1.0, 2.0]).as_subclass(Liar))
    assert type(back) is torch.Tensor
    assert not torch.equal(back, torch.tensor([5.0, 5.0]))


def test_non_contiguous_and_views_are_sent_by_value():
    base = torch.arange(12.0).reshape(3, 4)
    assert torch.equal(roundtrip(base.T), base.T)
    assert torch.equal(roundtrip(base[:, 1]), base[:, 1])


def test_iterators_keep_their_items_for_write_back():
    a, b = torch.ones(2), torch.zeros(2)
    back = roundtrip(AsIter([a, b]))
    assert isinstance(back, SentIter) and len(tensors_in(back)) == 2
    assert [t.tolist() for t in back] == [[1.0, 1.0], [0.0, 0.0]]


def test_harness_functions_only_resolve_in_the_worker():
    with pytest.raises(ProtocolError, match="only accepted by the worker"):
        roundtrip(HarnessFn("ex01:f"))
    assert roundtrip(HarnessFn("ex01:f"), resolve_fn=lambda ref: ref.upper()) == "EX01:F"


def test_unsupported_values_are_refused():
    with pytest.raises(ProtocolError, match="object"):
        encode(object())
    with pytest.raises(ProtocolError, match="dtype"):
        encode(torch.zeros(2, dtype=torch.complex32))


@pytest.mark.parametrize(
    ("header", "buffers", "error"),
    [
        ({"msg": {"$": "tensor", "buf": 0, "dtype": "float32", "shape": [3]}, "buffers": [8]},
         [b"\0" * 8], "needs 12 bytes"),
        ({"msg": {"$": "tensor", "buf": 0, "dtype": "object", "shape": [1]}, "buffers": [8]},
         [b"\0" * 8], "not allowed"),
        ({"msg": {"$": "tensor", "buf": 0, "dtype": "float32", "shape": [-1]}, "buffers": [4]},
         [b"\0" * 4], "non-negative"),
        ({"msg": {"$": "tensor", "buf": 5, "dtype": "float32", "shape": [1]}, "buffers": []},
         [], "missing buffer"),
        ({"msg": {"$": "pickle", "items": []}, "buffers": []}, [], "unknown tag"),
        ({"msg": {"$": "dict", "items": [[[1], 2]]}, "buffers": []}, [], "hashable"),
        ({"msg": 1, "buffers": [1 << 40]}, [], "exceeds"),
        ({"msg": 1}, [], "buffers"),
    ],
)  # fmt: skip
def test_malformed_frames_are_refused(header, buffers, error):
    with pytest.raises(ProtocolError, match=error):
        decode(frame(header, *buffers))


def test_invalid_json_and_nesting_are_refused():
    with pytest.raises(ProtocolError, match="JSON"):
        decode(struct.pack("<Q", 3) + b"{x}")
    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ProtocolError, match="deeply"):
        decode(frame({"msg": deep, "buffers": []}))


def test_no_pickle_anywhere_in_the_protocol_judge_or_worker_core():
    # Scenario code may build a malicious checkpoint inside the sandbox (exercise 7 checks
    # that students refuse one); what crosses between the processes never unpickles. Checked
    # on the syntax tree: the judge's source audit may *name* these modules in its messages.
    root = Path(__file__).resolve().parent.parent / "grader"
    banned = {"pickle", "cPickle", "cloudpickle", "dill", "marshal", "shelve"}
    for folder in ("protocol", "worker", "judge"):
        for path in (root / folder).rglob("*.py"):
            if path.parent.name == "scenarios":
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    names = {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom):
                    names = {(node.module or "").split(".")[0]}
                else:
                    names = set()
                assert not names & banned, f"{path}:{node.lineno} imports {names & banned}"
                if isinstance(node, ast.keyword) and node.arg == "weights_only":
                    value = node.value
                    assert not (isinstance(value, ast.Constant) and value.value is False), path
