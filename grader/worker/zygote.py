"""The worker template: imports torch and the harness once, then forks a worker per request.

Starting a worker used to mean a fresh Python importing torch (1.5-3 s); exercise 7 alone
starts a dozen, to load every checkpoint in a process that never saw the saving code. The
judge now starts one *template* per submission's grading run, inside the same sandbox mode and
limits a worker would get. It imports torch, numpy, ``torch._dynamo`` and every scenario
module -- trusted code only, never a submission -- and then waits. For each worker the judge
sends a configuration and three pipe ends over a socketpair; the template forks, and the child:

1. keeps only its own pipes (every other inherited descriptor is closed, the control socket
   first), makes them its stdout/stderr and protocol, and starts a new session;
2. moves into its own scratch folder and confines itself exactly as a freshly started worker
   does (:func:`grader.worker.main.confine`: capabilities, Landlock with *its own* view and
   scratch, refusals, seccomp) -- all before the submission is imported;
3. says hello and serves, like any worker.

The template itself never runs student code and keeps no state a child could reach: a child
cannot signal it (seccomp, Landlock scoping), trace it (seccomp), or reach its socket (closed
before anything else). It reports each child's exit status, and kills a child's whole session
on request. It never initialises CUDA (a CUDA context does not survive a fork): children do.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import select
import signal
import socket
import sys
from typing import Any

MAX_MESSAGE = 1 << 20


def _preload() -> None:
    import numpy  # noqa: F401
    import torch

    torch.set_num_threads(1)
    import grader.worker.main  # noqa: F401
    from grader.worker import scenarios

    for info in pkgutil.iter_modules(scenarios.__path__):  # those the judge put in the view
        importlib.import_module(f"grader.worker.scenarios.{info.name}")


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    data = json.dumps(message).encode()
    sock.sendall(len(data).to_bytes(4, "little") + data)


def _reap(sock: socket.socket) -> None:
    """Report every child that has exited since the last look."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        code = os.waitstatus_to_exitcode(status)
        _send(sock, {"event": "exited", "pid": pid, "code": code})


def _child(sock: socket.socket, config: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: keep only this worker's pipes, then become a worker."""
    req_r, rep_w, out_w = fds
    sock.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    keep = sorted({req_r, rep_w})
    os.closerange(3, keep[0])  # everything else inherited from the template goes
    os.closerange(keep[0] + 1, keep[1])
    os.closerange(keep[1] + 1, 65536)
    os.setsid()
    env = config.pop("env", {})
    os.environ.clear()
    os.environ.update(env)
    import tempfile

    tempfile.tempdir = None  # the template's was cached from its own environment
    config["fds"] = [req_r, rep_w]
    from grader.worker.main import main

    main(config)


def _receive(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """One request and the descriptors sent with it; (None, []) when the judge is gone."""
    head, fds, _, _ = socket.recv_fds(sock, 4, 3)
    if len(head) < 4:
        return None, fds
    size = int.from_bytes(head, "little")
    body = b""
    while len(body) < size:
        chunk = sock.recv(min(size - len(body), MAX_MESSAGE))
        if not chunk:
            return None, fds
        body += chunk
    return json.loads(body), fds


def serve(sock: socket.socket) -> None:
    wake_r, wake_w = os.pipe()  # SIGCHLD writes here, so exits are reported at once
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    _send(sock, {"event": "ready", "pid": os.getpid()})
    while True:
        watched: list[socket.socket | int] = [sock, wake_r]
        ready, _, _ = select.select(watched, [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
            _reap(sock)
        if sock not in ready:
            continue
        request, fds = _receive(sock)
        if request is None:
            return  # the judge is gone
        if request.get("op") == "fork" and len(fds) == 3:
            pid = os.fork()
            if pid == 0:
                try:
                    signal.set_wakeup_fd(-1)
                    _child(sock, request["config"], fds)
                finally:
                    os._exit(0)
            _send(sock, {"event": "forked", "id": request.get("id"), "pid": pid})
        elif request.get("op") == "kill":
            try:
                os.killpg(int(request["pid"]), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        for fd in fds:
            os.close(fd)


def main(config: dict[str, Any]) -> None:
    from grader.worker import privileges

    privileges.drop_capabilities()
    os.chdir(config["home"])
    _preload()
    serve(socket.socket(fileno=int(config["control"])))


if __name__ == "__main__":  # pragma: no cover - started through BOOT in the launcher
    main(json.loads(sys.argv[1]))
