"""The worker template, judge side: one pre-imported process per grading run, forked per worker.

See :mod:`grader.worker.zygote` for the template itself. This side starts it in this
machine's isolation mode (the same namespaces, rlimits, cgroup and uid a worker gets), keeps
a socketpair to it (made before launch, so the template never creates a socket), and for each
worker makes fresh folders and pipes, sends the pipe ends with the worker's configuration, and
returns a :class:`ForkedWorker` with the same interface as a directly launched one.

One template serves one submission's grading (``grade exercise-N``, ``grade all``, one student
of ``grade class``): it is closed with its run, so nothing one student's workers leave behind
can reach another's. If the template cannot start or dies, :class:`WorkerClient` falls back to
launching workers directly.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from grader.judge.sandbox import view as views
from grader.judge.sandbox.launch import (
    OUTPUT_CAP,
    Limits,
    PidsCgroup,
    make_folders,
    start_sandboxed,
    worker_config,
    worker_env,
    worker_identity,
)
from grader.judge.sandbox.modes import Capabilities

BOOT = (
    "import sys, json; config = json.loads(sys.argv[1]); "
    "sys.path[:0] = [config['view'], config['site']]; "
    "from grader.worker.zygote import main; main(config)"
)
READY_TIMEOUT_S = 120.0
FORK_TIMEOUT_S = 30.0


class ZygoteError(Exception):
    """The template could not start, or stopped answering."""


class _Exit:
    """What a forked worker exposes as ``proc``: its exit code, reported by the template."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.zygote = zygote
        self.pid = pid

    def poll(self) -> int | None:
        return self.zygote.exits.get(self.pid)

    def wait(self, timeout: float | None = None) -> int | None:
        return self.zygote.wait_exit(self.pid, timeout if timeout is not None else 5.0)


@dataclass
class ForkedWorker:
    """A worker forked from the template: pipes, folders, captured output."""

    zygote: Zygote
    pid: int
    to_worker: int
    from_worker: int
    out: int
    mode: str
    layers: list[str]
    folders: list[Path]
    output: bytearray = field(default_factory=bytearray)
    output_dropped: int = 0
    drainer: threading.Thread | None = None

    @property
    def proc(self) -> _Exit:
        return _Exit(self.zygote, self.pid)

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.out, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            room = OUTPUT_CAP - len(self.output)
            self.output += chunk[:room]
            self.output_dropped += max(0, len(chunk) - room)

    def output_text(self) -> str:
        text = self.output.decode("utf-8", "replace")
        if self.output_dropped:
            text += f"\n[... {self.output_dropped} more bytes of output dropped]"
        return text

    def kill(self) -> None:
        """Kill the worker's whole session (through the template), then remove its folders."""
        self.zygote.kill(self.pid)
        self.zygote.wait_exit(self.pid, 5.0)
        for fd in (self.to_worker, self.from_worker):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.drainer is not None:
            self.drainer.join(timeout=1)
        with contextlib.suppress(OSError):
            os.close(self.out)
        for folder in self.folders:
            views.remove_tree(folder)


class Zygote:
    def __init__(
        self,
        home: Path,
        *,
        caps: Capabilities,
        scenarios: list[str],
        cuda: bool = False,
        limits: Limits | None = None,
    ) -> None:
        """Start the template in ``home`` (a judge-owned folder, used for every worker's
        folders too); it preloads the scenario modules named in ``scenarios``."""
        self.home = home
        self.caps = caps
        self.cuda = cuda
        self.exits: dict[int, int] = {}
        self.replies: dict[int, int] = {}
        self.ready = threading.Event()
        self.changed = threading.Condition()
        self.dead = False
        self._next_id = 0
        self._send_lock = threading.Lock()
        self.scenarios = scenarios
        self.limits = limits
        self.identity = worker_identity(caps, views.static_grants(cuda=cuda))
        self.view = home / "template"
        self.proc: subprocess.Popen[bytes] | None = None
        self.cgroup: PidsCgroup | None = None
        self.layers: list[str] = []
        self.sock: socket.socket | None = None

    def start(self) -> None:
        """Build the template's view and start it; every worker is forked from it."""
        home, caps, cuda, limits = self.home, self.caps, self.cuda, self.limits
        self.view.mkdir(mode=0o755)
        views.build_grader_view(self.view, self.scenarios)
        allow = [
            *views.static_grants(cuda=cuda),
            views.Grant(str(self.view)),
            views.Grant(str(home), "rw"),  # bwrap binds it: the workers' folders appear here
        ]
        judge_end, template_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock = judge_end
        config = {
            "view": str(self.view),
            "site": str(self.view / "site"),
            "home": str(home),
            "control": template_end.fileno(),
        }
        try:
            self.proc, self.layers, self.cgroup = start_sandboxed(
                BOOT, config, caps=caps, allow=allow, identity=self.identity, workdir=home,
                env=worker_env(home, cuda), pass_fds=(template_end.fileno(),), limits=limits,
            )  # fmt: skip
        finally:
            template_end.close()
        self.reader = threading.Thread(target=self._read_events, daemon=True)
        self.reader.start()
        self.output_drainer = threading.Thread(target=self._discard_output, daemon=True)
        self.output_drainer.start()

    # -- events from the template ------------------------------------------------------------
    def _discard_output(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        # Popen's default buffering makes stdout a BufferedReader; typeshed says IO[bytes].
        pipe = cast(io.BufferedReader, self.proc.stdout)
        while pipe.read1(1 << 16):
            pass

    def _read_events(self) -> None:
        assert self.sock is not None
        buffer = b""
        while True:
            try:
                chunk = self.sock.recv(1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            while len(buffer) >= 4:
                size = int.from_bytes(buffer[:4], "little")
                if len(buffer) < 4 + size:
                    break
                event = json.loads(buffer[4 : 4 + size])
                buffer = buffer[4 + size :]
                self._record(event)
        with self.changed:
            self.dead = True
            self.changed.notify_all()

    def _record(self, event: dict[str, Any]) -> None:
        with self.changed:
            if event.get("event") == "ready":
                self.ready.set()
            elif event.get("event") == "forked":
                self.replies[int(event["id"])] = int(event["pid"])
            elif event.get("event") == "exited":
                self.exits[int(event["pid"])] = int(event["code"])
            self.changed.notify_all()

    def _send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        if self.sock is None:
            raise ZygoteError("the worker template is not running")
        data = json.dumps(message).encode()
        with self._send_lock:
            if fds:
                socket.send_fds(self.sock, [len(data).to_bytes(4, "little")], fds)
            else:
                self.sock.sendall(len(data).to_bytes(4, "little"))
            self.sock.sendall(data)

    def wait_exit(self, pid: int, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while pid not in self.exits and not self.dead:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.changed.wait(left)
            return self.exits.get(pid)

    # -- workers -----------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return not self.dead and self.proc is not None and self.proc.poll() is None

    def spawn(self, *, scenarios: str, module: str, submission: bytes) -> ForkedWorker:
        """Fork a worker for ``module`` with ``submission`` in fresh folders."""
        if not self.ready.wait(READY_TIMEOUT_S) or not self.alive:
            raise ZygoteError("the worker template did not start")
        try:
            return self._spawn(scenarios, module, submission)
        except OSError as exc:  # the socket to a dead template
            raise ZygoteError(f"the worker template stopped answering ({exc})") from None

    def _spawn(self, scenarios: str, module: str, submission: bytes) -> ForkedWorker:
        view, scratch = make_folders(self.home, self.identity)
        fds: list[int] = []
        try:
            views.build_submission_view(view, module=module, submission=submission)
            allow = [
                *views.static_grants(cuda=self.cuda),
                views.Grant(str(self.view)),
                views.Grant(str(view)),
                views.Grant(str(scratch), "rw"),
            ]
            config = worker_config(
                self.caps, allow, view=view, site=self.view / "site", scratch=scratch,
                scenarios=scenarios, module=module, cuda=self.cuda,
            )  # fmt: skip
            config["env"] = worker_env(scratch, self.cuda)
            req_r, req_w = os.pipe()
            rep_r, rep_w = os.pipe()
            out_r, out_w = os.pipe()
            fds = [req_r, req_w, rep_r, rep_w, out_r, out_w]
            self._next_id += 1
            ident = self._next_id
            self._send({"op": "fork", "id": ident, "config": config}, [req_r, rep_w, out_w])
            for fd in (req_r, rep_w, out_w):
                os.close(fd)
            fds = [req_w, rep_r, out_r]
            pid = self._await_fork(ident)
        except BaseException:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            for folder in (view, scratch):
                views.remove_tree(folder)
            raise
        worker = ForkedWorker(
            self, pid, req_w, rep_r, out_r, self.caps.mode, [*self.layers, "forked from a "
            "pre-imported template"], [view, scratch],
        )  # fmt: skip
        worker.drainer = threading.Thread(target=worker._drain, daemon=True)
        worker.drainer.start()
        return worker

    def _await_fork(self, ident: int) -> int:
        deadline = time.monotonic() + FORK_TIMEOUT_S
        with self.changed:
            while ident not in self.replies:
                left = deadline - time.monotonic()
                if self.dead or left <= 0:
                    raise ZygoteError("the worker template stopped answering")
                self.changed.wait(left)
            return self.replies.pop(ident)

    def kill(self, pid: int) -> None:
        with contextlib.suppress(OSError):
            self._send({"op": "kill", "pid": pid})

    def close(self) -> None:
        """Kill the template and everything it ever started; remove its folders."""
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
        if self.proc is not None:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                self.proc.kill()
            with contextlib.suppress(Exception):
                self.proc.wait(timeout=5)
        if self.cgroup is not None:
            self.cgroup.kill_all()
        views.remove_tree(self.home)
