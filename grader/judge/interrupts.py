"""SIGINT and SIGTERM: stop grading cleanly, keep what finished, leave nothing behind.

Both signals raise ``KeyboardInterrupt`` in the judge's main thread. pytest turns that into
an interrupted run and keeps the results it has; the runner marks the scorecard
``interrupted``; the CLI writes it, removes every worker folder and exits with the shell's
convention, 128 + the signal number (130 for Ctrl-C, 143 for ``kill``).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

_received: list[int] = []
_deferring = [0, False]  # depth of deferred() blocks; whether a signal waits for their end


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    _received.append(signum)
    if _deferring[0]:
        _deferring[1] = True  # raised when the deferred block ends
        return
    raise KeyboardInterrupt


def install() -> None:
    """Route SIGINT and SIGTERM to ``KeyboardInterrupt`` (main thread only; a no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):
            signal.signal(sig, _on_signal)


def received() -> bool:
    """Whether SIGINT or SIGTERM has arrived in this process."""
    return bool(_received)


def exit_code() -> int:
    """128 + the last signal received (SIGINT when Python raised KeyboardInterrupt itself)."""
    return 128 + (_received[-1] if _received else int(signal.SIGINT))


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back during the block: making a folder and registering it for
    cleanup, or importing torch, must not be split by an interrupt. A signal that came
    meanwhile raises KeyboardInterrupt right after the block.

    The deferral is in the Python handler, not the signal mask: CPython runs the handler in
    the main thread whichever thread the kernel picked, so masking only the main thread does
    not stop it from firing in the middle of an import."""
    _deferring[0] += 1
    try:
        yield
    finally:
        _deferring[0] -= 1
        if not _deferring[0] and _deferring[1]:
            _deferring[1] = False
            raise KeyboardInterrupt
