"""The judge's side of the protocol: one worker per exercise, restarted after any crash.

:class:`WorkerClient` owns the worker process. Each request has a timeout; a timeout, crash,
exit or malformed reply kills the worker's whole process tree and raises a
:class:`~grader.judge.failures.WorkerLost` whose message names the function and the cause. The
next request starts a fresh worker (and re-imports the submission).
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.judge import sandbox
from grader.judge.failures import (
    Failure,
    GraderError,
    NotImplementedYet,
    StudentError,
    SubmissionUnusable,
    WorkerLost,
)
from grader.protocol.codec import ProtocolError, encode, read_frame

LOAD_TIMEOUT_S = 90.0
MAX_LOSSES = 2
MAX_REPLY_BYTES = 256 << 20


class _Timeout(Exception):
    pass


class _Eof(Exception):
    pass


@dataclass
class WorkerSpec:
    """What a worker needs to know to load one exercise's submission."""

    module: str  # e.g. "ex03_gradient_clipping"
    submission: Path | None  # the student's file, or None when there is none
    forbidden: list[str]
    mode: str = "auto"
    hide: list[Path] = field(default_factory=list)
    cuda: bool = False
    unusable: str | None = None  # a reason every test fails with (set by the judge)


class WorkerClient:
    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.mode = sandbox.available_mode(spec.mode)
        self.worker: sandbox.WorkerProcess | None = None
        self.loaded: dict[str, Any] | None = None
        self.scratch = Path(tempfile.mkdtemp(prefix="tlg-worker-"))
        self.layers: list[str] = []
        self.starts = 0
        self.violations: dict[str, list[str]] = {}  # student name -> what it did
        self.losses: dict[str, list[str]] = {}  # request name -> how it lost the worker
        self._load_sent_at = 0.0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Launch a worker and send it the load request; the reply is read when needed."""
        if self.worker is not None or self.spec.unusable or self.spec.submission is None:
            return
        sub = self.scratch / "submission"
        sub.mkdir(exist_ok=True)
        target = sub / f"{self.spec.module}.py"
        target.write_bytes(self.spec.submission.read_bytes())
        self.worker = sandbox.launch(
            self.scratch, mode=self.mode, hide=self.spec.hide, cuda=self.spec.cuda
        )
        self.layers = self.worker.layers
        self.starts += 1
        self.loaded = None
        self._send(
            {
                "op": "load",
                "module": self.spec.module,
                "path": str(target),
                "scenarios": self.spec.module,
                "forbidden": self.spec.forbidden,
                "threads": 1,
            }
        )
        self._load_sent_at = time.monotonic()

    def close(self) -> None:
        self.close_worker()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def _lose(self, what: str, why: str) -> WorkerLost:
        output = ""
        if self.worker is not None:
            code = self.worker.proc.poll()
            output = self.worker.output_text()
            self.worker.kill()
            if code is not None and "exited" in why:
                why = why.replace("exited", f"exited with code {code}")
        self.worker = None
        self.loaded = None
        tail = output.strip().splitlines()[-5:]
        extra = ("\nlast output:\n  " + "\n  ".join(tail)) if tail else ""
        return WorkerLost(f"{what} {why}{extra}")

    # -- transport ---------------------------------------------------------------------------
    def _send(self, message: dict[str, Any]) -> None:
        assert self.worker is not None
        data = memoryview(encode(message))
        while data:
            try:
                n = os.write(self.worker.to_worker, data)
            except BrokenPipeError:
                raise _Eof from None
            data = data[n:]

    def _receive(self, deadline: float) -> Any:
        assert self.worker is not None
        fd = self.worker.from_worker

        def read_exact(n: int) -> bytes:
            chunks, left = [], n
            while left:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _Timeout
                ready, _, _ = select.select([fd], [], [], remaining)
                if not ready:
                    raise _Timeout
                chunk = os.read(fd, min(left, 1 << 20))
                if not chunk:
                    raise _Eof
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)

        return read_frame(read_exact, max_total=MAX_REPLY_BYTES)

    def _exchange(self, message: dict[str, Any] | None, timeout: float, what: str) -> Any:
        try:
            if message is not None:
                self._send(message)
            reply = self._receive(time.monotonic() + timeout)
        except _Timeout:
            raise self._lose(what, f"did not return within {timeout:g} s") from None
        except _Eof:
            self._wait_exit()
            raise self._lose(
                what, "exited: the worker process ended (os._exit, sys.exit or a crash?)"
            ) from None
        except ProtocolError as exc:
            raise self._lose(what, f"sent a malformed reply ({exc})") from None
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            raise self._lose(what, "sent a malformed reply")
        return reply

    def _wait_exit(self) -> None:
        if self.worker is not None:
            with contextlib.suppress(Exception):
                self.worker.proc.wait(timeout=2)

    # -- requests ----------------------------------------------------------------------------
    def ensure_loaded(self) -> dict[str, Any]:
        if self.spec.unusable:
            raise SubmissionUnusable(self.spec.unusable)
        if self.spec.submission is None:
            raise SubmissionUnusable(f"there is no submission file for {self.spec.module}")
        if self.worker is None:
            self.start()
        if self.loaded is None:
            left = LOAD_TIMEOUT_S - (time.monotonic() - self._load_sent_at)
            try:
                reply = self._exchange(None, max(left, 1.0), "importing your submission")
            except WorkerLost as lost:  # a crash or hang at import: nothing can run
                self.spec.unusable = lost.message
                raise
            if not reply["ok"]:
                err = reply.get("error") or {}
                if err.get("kind") == "import":
                    self.spec.unusable = import_message(self.spec.module, err)
                    self.close_worker()
                    raise SubmissionUnusable(self.spec.unusable)
                raise GraderError(f"the worker could not start: {err.get('message')}")
            self.loaded = reply
        return self.loaded

    def close_worker(self) -> None:
        if self.worker is not None:
            self.worker.kill()
            self.worker = None
        self.loaded = None

    def request(
        self, op: str, name: str, timeout: float, needs: tuple[str, ...] = (), **payload: Any
    ) -> dict[str, Any]:
        """Run a ``call`` or ``scenario`` request and return the worker's reply.

        A student function that has lost the worker (crash, exit, hang) twice is not run
        again: calls to it, and scenarios that declare they need it, fail at once, so one
        endless loop cannot cost every test its full timeout.
        """
        what = name if op == "call" else f"scenario {name!r}"
        for key in (what, *needs):
            lost = self.losses.get(key, [])
            if len(lost) >= MAX_LOSSES:
                raise WorkerLost(
                    f"{lost[-1]}\n(not run again: {key} failed this way {len(lost)} times)"
                )
        self.ensure_loaded()
        try:
            reply = self._exchange({"op": op, "name": name, **payload}, timeout, what)
        except WorkerLost as exc:
            self.losses.setdefault(what, []).append(exc.message)
            self.start()  # a fresh worker warms up while the judge moves on
            raise
        used = [str(u) for u in reply.get("used", []) if isinstance(u, str)]
        for why in reply.get("violations", []) or []:
            for fn in used or [name]:
                self.violations.setdefault(fn, [])
                if str(why) not in self.violations[fn]:
                    self.violations[fn].append(str(why))
        reply["used"] = used
        if not reply["ok"]:
            raise error_from_reply(what, reply.get("error") or {}, self.spec.module)
        return reply


def import_message(module: str, err: dict[str, Any]) -> str:
    frames = "\n".join(err.get("traceback") or [])
    where = f"\n{frames}" if frames else ""
    kind = err.get("type", "Exception")
    if kind in ("SystemExit", "KeyboardInterrupt"):
        return (
            f"importing {module}.py raised {kind}: code at the top level of your file must "
            f'not exit; move demos under `if __name__ == "__main__":`{where}'
        )
    return f"importing {module}.py raised {kind}: {err.get('message', '')}{where}"


def error_from_reply(what: str, err: dict[str, Any], module: str) -> Failure:
    kind = err.get("kind")
    frames = err.get("traceback") or []
    tb = ("\nin your code:\n  " + "\n  ".join(str(f) for f in frames)) if frames else ""
    if kind == "not_implemented":
        return NotImplementedYet(f"{what} is not implemented yet (it raised NotImplementedError)")
    if kind == "missing":
        return StudentError(
            f"your {module}.py has no {err.get('message')!s}: define it with the name and "
            "signature given in the exercise"
        )
    if kind == "bad_return":
        return StudentError(f"{what} {err.get('message')}")
    if kind == "protocol":
        return StudentError(f"{what}: the worker rejected the request ({err.get('message')})")
    if err.get("type") == "TypeError" and "argument" in str(err.get("message")):
        return StudentError(
            f"{what} raised TypeError: {err.get('message')} -- check that its signature "
            f"matches the exercise{tb}"
        )
    return StudentError(f"{what} raised {err.get('type')}: {err.get('message')}{tb}")
