"""The judge's side of the protocol: one worker per exercise, restarted after any crash.

:class:`WorkerClient` owns the worker process. Each request has a timeout; a timeout, crash,
exit or malformed reply kills the worker's whole process tree and raises a
:class:`~grader.judge.failures.WorkerLost` whose message names the function and the cause. The
next request starts a fresh worker (and re-imports the submission) in fresh folders.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.judge import interrupts, sandbox
from grader.judge.channel import Channel, ChannelClosed, ChannelTimeout
from grader.judge.failures import (
    Failure,
    GraderError,
    NotImplementedYet,
    StudentError,
    SubmissionUnusable,
    WorkerLost,
)
from grader.judge.needs import defined_names, scenario_needs
from grader.judge.sandbox.view import remove_tree
from grader.judge.sandbox.zygote import ForkedWorker, Zygote, ZygoteError
from grader.protocol.codec import ProtocolError
from grader.protocol.messages import ErrorKind, Op

_LIVE: set[WorkerClient] = set()  # closed on exit or interrupt (strong: never lost to gc)

LOAD_TIMEOUT_S = 90.0
SEND_TIMEOUT_S = 30.0
MAX_LOSSES = 2


@dataclass
class WorkerSpec:
    """What a worker needs to know to load one exercise's submission."""

    module: str  # e.g. "ex03_gradient_clipping"
    submission: Path | None  # where the student's file was (for messages), None: no file
    source: bytes | None = None  # its bytes, read by the judge before anything ran
    forbidden: tuple[str, ...] = ()
    mode: str = "auto"
    cuda: bool = False
    unusable: str | None = None  # a reason every test fails with (set by the judge)
    zygote: Zygote | None = None  # the run's pre-imported worker template, if it has one


class WorkerClient:
    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.caps = sandbox.capabilities(spec.mode)
        self.mode = self.caps.mode
        self.worker: sandbox.WorkerProcess | ForkedWorker | None = None
        self.channel: Channel | None = None
        self.loaded: dict[str, Any] | None = None
        # The judge's own folder for workers it launches directly (made when first needed):
        # every worker's view and scratch are made inside it, fresh.
        self._home: Path | None = None
        self.layers: list[str] = []
        self.landlock_abi = 0  # as applied in the worker (0: not applied)
        self.seccomp = False
        self.starts = 0
        self.violations: dict[str, list[str]] = {}  # student name -> what it did
        self.losses: dict[str, list[str]] = {}  # request name -> how it lost the worker
        self._load_sent_at = 0.0
        self._greeted = False
        self._next_id = 0
        _LIVE.add(self)

    @property
    def home(self) -> Path:
        if self._home is None:
            with interrupts.deferred():  # made and owned by this client, or not made at all
                self._home = make_home()
        return self._home

    @property
    def level(self) -> str:
        return sandbox.level_of(self.mode, self.landlock_abi > 0, self.seccomp)

    # -- words for messages ------------------------------------------------------------------
    @property
    def file_name(self) -> str:
        """The student's file as they know it. The worker imports a copy named after the
        exercise module, which a student who graded ``mywork.py`` never saw."""
        if self.spec.submission is not None:
            return self.spec.submission.name
        return f"{self.spec.module}.py"

    @functools.cached_property
    def _defined(self) -> frozenset[str] | None:
        """The names the submission's source binds (read by the judge, never the worker)."""
        if self.spec.source is None:
            return None
        return defined_names(self.spec.source.decode("utf-8", "replace"))

    def subject(self, op: Op, name: str, data: Any, needs: Iterable[str] = ()) -> str:
        """Who a request runs, in the student's words: a call's function, or the student
        functions and classes a scenario (the grader's own harness code) runs -- decided by
        the judge from the scenario's source, its name and its data, as for voiding."""
        if Op(op) is Op.CALL:
            return name
        kwargs = data if isinstance(data, dict) else {}
        found = scenario_needs(self.spec.module, name, kwargs, self._defined) | set(needs)
        return names_text(found)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Launch a worker and send it the load request; the replies are read when needed."""
        if self.worker is not None or self.spec.unusable or self.spec.source is None:
            return
        zygote = self.spec.zygote
        if zygote is not None and zygote.alive:
            try:
                self.worker = zygote.spawn(
                    scenarios=self.spec.module, module=self.spec.module, submission=self.spec.source
                )
            except ZygoteError:
                self.spec.zygote = None  # start workers directly from now on
        if self.worker is None:
            self.worker = sandbox.launch(
                self.home,
                caps=self.caps,
                scenarios=self.spec.module,
                module=self.spec.module,
                submission=self.spec.source,
                cuda=self.spec.cuda,
            )
        self.channel = Channel(self.worker.to_worker, self.worker.from_worker)
        self.starts += 1
        self.loaded = None
        self._greeted = False
        self._load_sent_at = time.monotonic()
        try:
            self.channel.send(
                {"op": Op.LOAD.value, "forbidden": list(self.spec.forbidden), "threads": 1},
                self._load_sent_at + SEND_TIMEOUT_S,
            )
        except (ChannelTimeout, ChannelClosed):
            pass  # the load reply will report the worker's death

    def close(self) -> None:
        with interrupts.deferred():  # a cleanup cut in half would leave folders behind
            self.close_worker()
            if self._home is not None:
                remove_tree(self._home)
            _LIVE.discard(self)

    def close_worker(self) -> None:
        if self.worker is not None:
            self.worker.kill()
            self.worker = None
        self.channel = None
        self.loaded = None

    def _lose(self, what: str, why: str) -> WorkerLost:
        output = ""
        if self.worker is not None:
            code = self.worker.proc.poll()
            output = self.worker.output_text()
            if code is not None and "exited" in why:
                why = why.replace("exited", f"exited with code {code}")
        self.close_worker()
        tail = output.strip().splitlines()[-5:]
        extra = ("\nlast output:\n  " + "\n  ".join(tail)) if tail else ""
        return WorkerLost(f"{what} {why}{extra}")

    # -- transport ---------------------------------------------------------------------------
    def _exchange(
        self, message: dict[str, Any] | None, timeout: float, what: str, late: str = ""
    ) -> dict[str, Any]:
        """Send ``message`` (if any) and read one reply, all within ``timeout`` seconds.

        ``what`` names the request in the student's words; ``late`` says what the timeout
        covered, when that is more than "one call" (the default wording)."""
        assert self.channel is not None
        deadline = time.monotonic() + timeout
        try:
            if message is not None:
                if self.channel.pending():
                    raise ProtocolError("it wrote to the grader's pipe when nothing was asked")
                self._next_id += 1
                message = {**message, "id": self._next_id}
                self.channel.send(message, deadline)
            reply = self.channel.receive(deadline)
        except ChannelTimeout:
            raise self._lose(what, late or f"did not return within {timeout:g} s") from None
        except ChannelClosed:
            self._wait_exit()
            raise self._lose(
                what, "exited: the worker process ended (os._exit, sys.exit or a crash?)"
            ) from None
        except ProtocolError as exc:
            raise self._lose(what, f"sent a malformed reply ({exc})") from None
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            raise self._lose(what, "sent a malformed reply")
        if message is not None and reply.get("id") != message["id"]:
            raise self._lose(what, "sent a reply to a request it was not asked (out of step)")
        return reply

    def _wait_exit(self) -> None:
        if self.worker is not None:
            with contextlib.suppress(Exception):
                self.worker.proc.wait(timeout=2)

    def _greet(self, deadline: float) -> None:
        """Read the frame the worker sends once confined, before any student code has run:
        the only report from it that is trusted, because nothing untrusted ran yet."""
        left = max(deadline - time.monotonic(), 1.0)
        reply = self._exchange(None, left, "starting the sandbox")
        hello = reply.get("hello")
        if not reply["ok"] or not isinstance(hello, dict):
            err = reply.get("error") or {}
            raise GraderError(f"the worker could not start: {err.get('message', reply)}")
        assert self.worker is not None
        self.landlock_abi = int(hello.get("landlock_abi") or 0)
        self.seccomp = hello.get("seccomp") is True
        self.layers = list(self.worker.layers)
        if self.landlock_abi:
            scoped = " + signal/abstract-socket scoping" if self.landlock_abi >= 6 else ""
            self.layers.append(f"Landlock ABI {self.landlock_abi}: file allow-list{scoped}")
        if self.seccomp:
            self.layers.append(
                "seccomp: no new processes, exec, sockets, ptrace or signals to others"
            )
        if hello.get("capabilities") == 0:
            self.layers.append("no capabilities")
        self._greeted = True

    # -- requests ----------------------------------------------------------------------------
    def ensure_loaded(self) -> dict[str, Any]:
        if self.spec.unusable:
            raise SubmissionUnusable(self.spec.unusable)
        if self.spec.source is None:
            raise SubmissionUnusable(f"there is no file for this exercise ({self.file_name})")
        if self.worker is None:
            self.start()
        if self.loaded is None:
            deadline = self._load_sent_at + LOAD_TIMEOUT_S
            try:
                if not self._greeted:
                    self._greet(deadline)
                left = max(deadline - time.monotonic(), 1.0)
                late = (
                    f"did not finish within {LOAD_TIMEOUT_S:g} s: the code at the top level "
                    "of your file runs when it is imported; move demos and training runs "
                    'under `if __name__ == "__main__":`'
                )
                reply = self._exchange(None, left, f"importing {self.file_name}", late)
            except WorkerLost as lost:  # a crash or hang at import: nothing can run
                self.spec.unusable = lost.message
                raise
            if not reply["ok"]:
                err = reply.get("error") or {}
                if err.get("kind") == ErrorKind.IMPORT:
                    self.spec.unusable = import_message(self.file_name, err)
                    self.close_worker()
                    raise SubmissionUnusable(self.spec.unusable)
                raise GraderError(f"the worker could not start: {err.get('message')}")
            self.loaded = reply
        return self.loaded

    def request(
        self, op: Op, name: str, timeout: float, needs: tuple[str, ...] = (), **payload: Any
    ) -> dict[str, Any]:
        """Run a ``call`` or ``scenario`` request and return the worker's reply.

        A student function that has lost the worker (crash, exit, hang) twice is not run
        again: calls to it, and scenarios that declare they need it, fail at once, so one
        endless loop cannot cost every test its full timeout.
        """
        op = Op(op)  # a plain "call" from a test or a tool is the same request
        key = name if op is Op.CALL else f"scenario {name!r}"  # what losses are counted by
        what = self.subject(op, name, payload.get("kwargs"), needs)
        for counted in (key, *needs):
            lost = self.losses.get(counted, [])
            if len(lost) >= MAX_LOSSES:
                who = what if counted == key else counted
                raise WorkerLost(
                    f"{lost[-1]}\n(not run again: {who} failed this way {len(lost)} times)"
                )
        self.ensure_loaded()
        # A scenario's timeout is the budget of a whole run (a schedule stepped 300 times, a
        # training loop): say so, or the student hunts for one slow call.
        late = (
            ""
            if op is Op.CALL
            else f"did not finish within {timeout:g} s (the limit for all of this test's calls "
            f"to {what} together, not for one call)"
        )
        try:
            reply = self._exchange({"op": op.value, "name": name, **payload}, timeout, what, late)
        except WorkerLost as exc:
            self.losses.setdefault(key, []).append(exc.message)
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
            raise error_from_reply(what, reply.get("error") or {}, self.file_name)
        return reply


def close_all() -> None:
    """Kill every worker and template and remove every folder this judge still has (on exit)."""
    for client in list(_LIVE):
        client.close()
    for zygote in list(ZYGOTES):
        close_zygote(zygote)
    _KEPT.clear()


def close_zygote(zygote: Zygote) -> None:
    """Close a run's worker template (and forget it), never cut short by an interrupt."""
    with interrupts.deferred():
        zygote.close()
        ZYGOTES.discard(zygote)


ZYGOTES: set[Zygote] = set()


def make_home() -> Path:
    """A judge-owned folder for workers' folders: an unprivileged worker uid may pass
    through it, not list it."""
    home = Path(tempfile.mkdtemp(prefix="tlg-worker-"))
    os.chmod(home, 0o711)
    return home


def start_zygote(modules: list[str], *, mode: str, cuda: bool) -> Zygote | None:
    """The worker template for one grading run, or None if it cannot start here (workers are
    then launched directly: slower, equally isolated)."""
    caps = sandbox.capabilities(mode)
    with interrupts.deferred():  # from here on, an interrupt's cleanup removes it
        zygote = Zygote(make_home(), caps=caps, scenarios=modules, cuda=cuda)
        ZYGOTES.add(zygote)
    try:
        zygote.start()
    except (OSError, RuntimeError, ZygoteError):
        close_zygote(zygote)
        return None
    except BaseException:
        close_zygote(zygote)
        raise
    return zygote


# Templates kept for the life of this process, one per (isolation mode, CUDA), preloading every
# exercise's scenarios. A template only ever imports torch and the scenarios; student code runs
# in children forked from it, each with a fresh view and scratch folder and every sandbox layer
# of its own, killed (folders removed) when its exercise is done -- so a class's grading
# process shares one between its students (saving a torch import each, ~4 CPU s), and the
# grader's own tests share one between test files.
_KEPT: dict[tuple[str, bool], Zygote] = {}


def kept_template(mode: str, cuda: bool) -> Zygote | None:
    """This process's kept template for ``mode`` and ``cuda``, started on first use (or again
    if it died); None if none can start here (gradings then start their own)."""
    template = _KEPT.get((mode, cuda))
    if template is None or not template.alive:
        from grader.judge import exercises

        every = [ex.module for ex in exercises.all_exercises()]
        template = start_zygote(every, mode=mode, cuda=cuda)
        if template is None:
            return None
        _KEPT[(mode, cuda)] = template
    return template


def close_kept_templates() -> None:
    """Kill this process's kept templates and everything they started; remove their folders."""
    for template in list(_KEPT.values()):
        close_zygote(template)
    _KEPT.clear()


def names_text(names: Iterable[str]) -> str:
    """Student names as a phrase: ``fit``, ``save_checkpoint and load_checkpoint``; "your
    code" when the judge cannot tell (a scenario that needs none of the file's names)."""
    ordered = sorted(set(names))
    if not ordered:
        return "your code"
    if len(ordered) == 1:
        return ordered[0]
    return ", ".join(ordered[:-1]) + " and " + ordered[-1]


_FRAME_FUNCTION = re.compile(r"^line \d+, in (\w+)")


def _raised_in(frames: list[Any]) -> str | None:
    """The student function the innermost frame of a worker traceback is in."""
    m = _FRAME_FUNCTION.match(str(frames[-1])) if frames else None
    return m.group(1) if m else None


def import_message(file_name: str, err: dict[str, Any]) -> str:
    """Why the student's file ``file_name`` could not be imported, naming that file."""
    frames = "\n".join(err.get("traceback") or [])
    where = f"\n{frames}" if frames else ""
    kind = err.get("type", "Exception")
    if kind in ("SystemExit", "KeyboardInterrupt"):
        return (
            f"importing {file_name} raised {kind}: code at the top level of your file must "
            f'not exit; move demos under `if __name__ == "__main__":`{where}'
        )
    return f"importing {file_name} raised {kind}: {err.get('message', '')}{where}"


def error_from_reply(what: str, err: dict[str, Any], file_name: str) -> Failure:
    """The failure for a worker's error reply. ``what`` names the student function(s) the
    request ran, ``file_name`` the student's file: never the grader's internal names."""
    kind = err.get("kind")
    frames = err.get("traceback") or []
    tb = ("\nin your code:\n  " + "\n  ".join(str(f) for f in frames)) if frames else ""
    if kind == ErrorKind.NOT_IMPLEMENTED:
        inner = _raised_in(frames)
        at = f" in {inner}" if inner and inner != what else ""
        return NotImplementedYet(
            f"{what} is not implemented yet (it raised NotImplementedError{at})"
        )
    if kind == ErrorKind.MISSING:
        return StudentError(
            f"your file {file_name} has no {err.get('message')!s}: define it with the name and "
            "signature given in the exercise"
        )
    if kind == ErrorKind.BAD_RETURN:
        return StudentError(f"{what} {err.get('message')}")
    if kind == ErrorKind.PROTOCOL:
        return StudentError(f"{what}: the worker rejected the request ({err.get('message')})")
    if err.get("type") == "TypeError" and "argument" in str(err.get("message")):
        return StudentError(
            f"{what} raised TypeError: {err.get('message')} -- check that its signature "
            f"matches the exercise{tb}"
        )
    return StudentError(f"{what} raised {err.get('type')}: {err.get('message')}{tb}")
