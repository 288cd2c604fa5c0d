"""The typed, pickle-free protocol spoken between the judge and the worker."""

from grader.protocol.codec import (
    AsIter,
    HarnessFn,
    ProtocolError,
    SentIter,
    encode,
    read_frame,
    tensors_in,
)
from grader.protocol.messages import ErrorKind, Op

__all__ = [
    "AsIter",
    "ErrorKind",
    "HarnessFn",
    "Op",
    "ProtocolError",
    "SentIter",
    "encode",
    "read_frame",
    "tensors_in",
]
