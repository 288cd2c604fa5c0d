"""Frames to and from one worker, every read and every write bounded by a deadline.

The worker is hostile: it may stop reading (so a write would block forever), write frames
nobody asked for, or write garbage. Both pipe ends are non-blocking and every wait goes
through ``select`` with the time left, so no worker can hang the judge; anything that is not
one well-formed reply is a :class:`~grader.protocol.ProtocolError`.
"""

from __future__ import annotations

import os
import select
import time
from typing import Any

from grader.protocol.codec import encode, read_frame

MAX_REPLY_BYTES = 256 << 20


class ChannelTimeout(Exception):
    """The deadline passed before the frame was written or read."""


class ChannelClosed(Exception):
    """The worker's end of a pipe is closed (it exited or crashed)."""


class Channel:
    def __init__(self, to_worker: int, from_worker: int) -> None:
        self.to_worker = to_worker
        self.from_worker = from_worker
        os.set_blocking(to_worker, False)
        os.set_blocking(from_worker, False)

    def pending(self) -> bool:
        """Whether the worker has written something nobody asked for (ChannelClosed if it
        closed its end). Consumes a byte: the caller is about to kill such a worker anyway."""
        try:
            data = os.read(self.from_worker, 1)
        except BlockingIOError:
            return False
        except OSError:
            raise ChannelClosed from None
        if not data:
            raise ChannelClosed
        return True

    def send(self, message: Any, deadline: float) -> None:
        data = memoryview(encode(message))
        while data:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChannelTimeout
            _, ready, _ = select.select([], [self.to_worker], [], left)
            if not ready:
                raise ChannelTimeout
            try:
                written = os.write(self.to_worker, data)
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError):
                raise ChannelClosed from None
            data = data[written:]

    def receive(self, deadline: float) -> Any:
        fd = self.from_worker

        def read_exact(n: int) -> bytes:
            chunks, left = [], n
            while left:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ChannelTimeout
                ready, _, _ = select.select([fd], [], [], remaining)
                if not ready:
                    raise ChannelTimeout
                try:
                    chunk = os.read(fd, min(left, 1 << 20))
                except BlockingIOError:
                    continue
                except OSError:
                    raise ChannelClosed from None
                if not chunk:
                    raise ChannelClosed
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)

        return read_frame(read_exact, max_total=MAX_REPLY_BYTES)
