"""The sandboxed worker: the only process that imports and runs student code.

Started by the judge (see ``grader.judge.sandbox``) as ``python -I -S`` with a JSON config
on its command line and two pipe file descriptors for the protocol; its stdout/stderr go to a
capped pipe the judge drains. Before anything else it confines itself, in this order:

1. drop every capability (a root judge that could not switch uid still gets no root powers);
2. Landlock: the judge's file allow-list, signal and abstract-socket scoping -- first, while
   this is the only thread (Landlock binds the calling thread and its future children);
3. import torch (initialise CUDA when asked) and the exercise's scenario module;
4. friendly refusals for processes, sockets and signals (:mod:`grader.worker.denials`);
5. seccomp: no new processes, exec, sockets, ptrace or signals to others, for every thread.

Then it sends a *hello* frame saying which layers it applied -- the one report the judge
trusts, since no student code has run yet -- and serves one request at a time:

- ``{"op": "load", "forbidden", "threads"}`` -- import the submission;
- ``{"op": "call", "name", "args", "kwargs"}`` -- call a student function;
- ``{"op": "scenario", "name", "kwargs"}`` -- run trusted harness code around student code.

Every reply is data and echoes the request's ``id``: ``{"ok": True, "result": ...,
"args_after": [...], "violations": [...], "used": [...]}`` or ``{"ok": False, "error":
{"kind", "type", "message", "traceback"}, ...}``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from pathlib import Path
from typing import Any, cast

from grader.protocol.codec import ProtocolError, encode, read_frame, tensors_in
from grader.protocol.messages import ErrorKind, Op
from grader.worker import denials, landlock, output, privileges, seccomp
from grader.worker.guards import Guard, install_traps
from grader.worker.harness import SCENARIOS, MissingName, Student


class Worker:
    def __init__(self, fd_in: int, fd_out: int, config: dict[str, Any]) -> None:
        self.fd_in = fd_in
        self.fd_out = fd_out
        self.module: Any = None
        self.module_name = str(config["module"])
        self.student_file = str(Path(config["view"]) / "submission" / f"{self.module_name}.py")
        self.guard: Guard | None = None
        self.scenario_module = str(config["scenarios"])

    # -- transport ---------------------------------------------------------------------------
    def read_exact(self, n: int) -> bytes:
        chunks, left = [], n
        while left:
            chunk = os.read(self.fd_in, min(left, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def send(self, message: dict[str, Any]) -> None:
        try:
            frame = encode(message)
        except ProtocolError as exc:
            frame = encode(self.error_reply(ErrorKind.BAD_RETURN, "TypeError", str(exc)))
        view = memoryview(frame)
        while view:
            written = os.write(self.fd_out, view)
            view = view[written:]

    def resolve_fn(self, ref: str) -> Any:
        module, _, name = ref.partition(":")
        if not module.replace("_", "").isalnum():
            raise ProtocolError(f"bad function reference {ref!r}")
        mod = importlib.import_module(f"grader.worker.scenarios.{module}")
        fn = getattr(mod, name, None)
        if not callable(fn) or name.startswith("_"):
            raise ProtocolError(f"no harness function {ref!r}")
        return fn

    # -- replies -----------------------------------------------------------------------------
    @staticmethod
    def error_reply(
        kind: ErrorKind, type_: str, message: str, tb: list[str] | None = None
    ) -> dict[str, Any]:
        return {
            "ok": False,
            "error": {"kind": kind, "type": type_, "message": message, "traceback": tb or []},
        }

    def exception_reply(self, exc: BaseException) -> dict[str, Any]:
        if isinstance(exc, MissingName):
            return self.error_reply(ErrorKind.MISSING, "AttributeError", exc.name)
        frames = [
            f"line {f.lineno}, in {f.name}\n    {(f.line or '').strip()}"
            for f in traceback.extract_tb(exc.__traceback__)
            if f.filename == self.student_file
        ]
        kind = (
            ErrorKind.NOT_IMPLEMENTED
            if isinstance(exc, NotImplementedError)
            else ErrorKind.EXCEPTION
        )
        try:
            message = str(exc)
        except Exception:  # a hostile __str__
            message = "<unprintable>"
        return self.error_reply(kind, type(exc).__name__, message[:2000], frames[-8:])

    # -- requests ----------------------------------------------------------------------------
    def load(self, req: dict[str, Any]) -> dict[str, Any]:
        import torch

        torch.set_num_threads(int(req.get("threads", 1)))
        forbidden = [str(x) for x in req.get("forbidden", [])]
        self.guard = Guard(forbidden)  # registers the originals' code first
        install_traps(self.guard, forbidden, self.student_file)
        sys.path.insert(0, str(Path(self.student_file).parent))
        spec = importlib.util.spec_from_file_location(self.module_name, self.student_file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt at import, too
            reply = self.exception_reply(exc)
            reply["error"]["kind"] = ErrorKind.IMPORT
            return reply
        self.module = module
        return {"ok": True, "names": sorted(n for n in vars(module) if not n.startswith("_"))}

    def run(self, req: dict[str, Any]) -> dict[str, Any]:
        assert self.guard is not None
        student = Student(self.module, self.guard)
        args: Any = ()
        reply: dict[str, Any]
        with self.guard.watching() as violations:
            try:
                if req["op"] == Op.CALL:
                    args = (req.get("args", []), req.get("kwargs", {}))
                    fn = getattr(student, str(req["name"]))
                    result = fn(*args[0], **args[1])
                else:
                    fn = SCENARIOS.get(f"{self.scenario_module}:{req['name']}")
                    if fn is None:
                        raise ProtocolError(f"no scenario {req['name']!r}")
                    result = fn(student, **req.get("kwargs", {}))
                reply = {"ok": True, "result": result}
            except ProtocolError:
                raise
            except BaseException as exc:
                reply = self.exception_reply(exc)
        if reply["ok"]:
            bad = [t for t in tensors_in(reply["result"]) if type(t) not in ALLOWED_TENSOR_TYPES]
            if bad:
                reply = self.error_reply(
                    ErrorKind.BAD_RETURN,
                    "TypeError",
                    f"returned an instance of {type(bad[0]).__name__}, a torch.Tensor subclass; "
                    "return a plain torch.Tensor",
                )
        reply["args_after"] = tensors_in(args)
        reply["violations"] = list(violations)
        reply["used"] = student.used
        return reply

    def serve(self) -> None:
        while True:
            try:
                req = read_frame(self.read_exact, resolve_fn=self.resolve_fn)
            except EOFError:
                return
            op = req.get("op") if isinstance(req, dict) else None
            try:
                if op == Op.LOAD:
                    reply = self.load(req)
                elif op in (Op.CALL, Op.SCENARIO):
                    reply = self.run(req)
                elif op == Op.PING:
                    reply = {"ok": True, "result": "pong"}
                else:
                    reply = self.error_reply(
                        ErrorKind.PROTOCOL, "ProtocolError", f"unknown op {op!r}"
                    )
            except ProtocolError as exc:
                reply = self.error_reply(ErrorKind.PROTOCOL, "ProtocolError", str(exc))
            if isinstance(req, dict) and "id" in req:
                reply["id"] = req["id"]
            self.send(reply)


def _allowed_types() -> tuple[type, ...]:
    import torch

    return (torch.Tensor, torch.nn.Parameter)


ALLOWED_TENSOR_TYPES: tuple[type, ...] = ()


def confine(config: dict[str, Any]) -> dict[str, Any]:
    """Apply the layers the judge asked for, in the order the module docstring gives.

    Returns what was applied, for the hello frame. A layer that fails is reported as absent,
    never silently: the judge decides whether that is good enough.
    """
    import importlib

    applied: dict[str, Any] = {"landlock_abi": 0, "seccomp": False}
    privileges.drop_capabilities()
    applied["capabilities"] = privileges.held()
    if config.get("seccomp"):
        seccomp.available()  # loads libseccomp while Landlock still lets us read it
    rules = config.get("landlock")
    if rules:
        try:
            # Rule() refuses an access level that is not a landlock.Access.
            grants = [
                landlock.Rule(str(path), cast(landlock.Access, str(access)))
                for path, access in rules
            ]
            applied["landlock_abi"] = landlock.restrict(grants).abi
        except Exception as exc:  # noqa: BLE001 - reported to the judge, which decides
            applied["landlock_error"] = f"{type(exc).__name__}: {exc}"
    import torch

    if config.get("cuda") and torch.cuda.is_available():
        # The driver opens its devices and threads before seccomp.
        torch.cuda.init()  # type: ignore[no-untyped-call]  # torch leaves init() unannotated
    try:
        importlib.import_module(f"grader.worker.scenarios.{config['scenarios']}")
    except ModuleNotFoundError:
        pass  # an exercise without scenarios
    denials.install()
    output.install()
    if config.get("seccomp"):
        try:
            seccomp.install(own_pid=os.getpid())
            applied["seccomp"] = True
        except Exception as exc:  # noqa: BLE001 - reported to the judge, which decides
            applied["seccomp_error"] = f"{type(exc).__name__}: {exc}"
    return applied


def main(config: dict[str, Any]) -> None:
    global ALLOWED_TENSOR_TYPES
    fd_in, fd_out = (int(fd) for fd in config["fds"])
    os.chdir(config["scratch"])
    worker = Worker(fd_in, fd_out, config)
    try:
        applied = confine(config)
        ALLOWED_TENSOR_TYPES = _allowed_types()
    except BaseException as exc:
        worker.send(worker.error_reply(ErrorKind.START, type(exc).__name__, str(exc)))
        return
    worker.send({"ok": True, "hello": applied})
    worker.serve()
