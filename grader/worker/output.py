"""Student output, capped where it is produced.

The judge keeps only the first 64 KiB of the worker's output (``OUTPUT_CAP`` in
``grader.judge.sandbox.launch``) and drains the rest from a pipe. A stray
``print(big_tensor)`` in a loop or a gigabyte ``sys.stdout.write`` would still cost seconds
of pipe traffic on both sides; replacing ``sys.stdout`` and ``sys.stderr`` with writers that
drop text past the cap makes such a call as fast as if it printed nothing. Raw ``os.write``
to fd 1 still reaches the pipe and is capped by the judge -- this is a convenience, not a
security layer.
"""

from __future__ import annotations

import io
import sys
from typing import Any

CAP_CHARS = 64 << 10


class _CappedBytes(io.RawIOBase):
    def __init__(self, stream: CappedText) -> None:
        self._stream = stream

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        size = len(data)
        room = CAP_CHARS - self._stream.written
        if room > 0:
            self._stream.pass_through(bytes(data[:room]).decode("utf-8", "replace"))
        self._stream.written += size
        return size


class CappedText(io.TextIOBase):
    """A text stream that passes the first ``CAP_CHARS`` characters through, then drops."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.written = 0
        self.buffer = _CappedBytes(self)

    # typeshed declares TextIOBase.encoding a writable attribute; at runtime it is a read-only
    # descriptor of _io._TextIOBase (assigning it raises), so a property is the honest override.
    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self._inner, "encoding", "utf-8"))

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return int(self._inner.fileno())

    def write(self, text: str) -> int:
        room = CAP_CHARS - self.written
        if room > 0:
            self.pass_through(text[:room])
        self.written += len(text)
        return len(text)

    def pass_through(self, text: str) -> None:
        self._inner.write(text)

    def flush(self) -> None:
        self._inner.flush()


def install() -> None:
    sys.stdout = CappedText(sys.stdout)
    sys.stderr = CappedText(sys.stderr)
