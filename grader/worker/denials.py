"""Friendly refusals for what graded code may not do: start processes, open sockets, signal
other processes.

These are the *second* layer. The kernel enforces the rules (seccomp, Landlock, namespaces;
see ``grader.worker.seccomp``): a student who restores the originals, or calls ``_posixsubprocess``
directly, still gets ``EPERM`` from the kernel. What this module adds is a message a student
can act on instead of a bare "Operation not permitted", installed before the submission is
imported.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable
from typing import Any, NoReturn

PROCESS = "started a new process: not allowed in graded code (work in this process)"
NETWORK = "opened a network socket: not allowed in graded code"
SIGNAL = "sent a signal to another process: not allowed in graded code"

_PROCESS_STARTERS = (
    "fork", "forkpty", "vfork", "system", "popen", "posix_spawn", "posix_spawnp",
    "execv", "execve", "execl", "execle", "execlp", "execlpe", "execvp", "execvpe",
    "spawnv", "spawnve", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnvp", "spawnvpe",
)  # fmt: skip


def _refuse(why: str) -> Callable[..., NoReturn]:
    def refused(*_args: Any, **_kwargs: Any) -> NoReturn:
        raise PermissionError(why)

    return refused


def install() -> None:
    """Replace the process, socket and signal entry points with refusals that say why."""
    for name in _PROCESS_STARTERS:
        if hasattr(os, name):
            setattr(os, name, _refuse(PROCESS))
    # _execute_child is CPython's private spawn hook: typeshed does not declare it.
    subprocess.Popen._execute_child = _refuse(PROCESS)  # type: ignore[attr-defined]

    def no_socket(self: socket.socket, *args: Any, **kwargs: Any) -> NoReturn:
        raise PermissionError(NETWORK)

    socket.socket.__init__ = no_socket  # type: ignore[method-assign]  # replacing it is the point
    socket.socketpair = _refuse(NETWORK)
    own = os.getpid()
    real_kill, real_killpg = os.kill, os.killpg

    def kill(pid: int, sig: int) -> None:
        if pid != own:
            raise PermissionError(SIGNAL)
        real_kill(pid, sig)

    def killpg(pgid: int, sig: int) -> None:
        if pgid != os.getpgid(0) or pgid != own:
            raise PermissionError(SIGNAL)
        real_killpg(pgid, sig)

    os.kill = kill
    os.killpg = killpg
