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

__all__ = ["AsIter", "SentIter", "HarnessFn", "ProtocolError", "encode", "read_frame", "tensors_in"]
