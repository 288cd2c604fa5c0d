"""Starting and killing the worker process: isolation layers, limits and environment.

Layers, strongest first; the best one this machine allows is used and the scorecard says which:

1. ``bwrap``: bubblewrap with new user, PID, network, IPC, UTS and mount namespaces; the file
   system read-only except a scratch directory; hidden tests, references and solutions masked
   by empty tmpfs mounts; the sandbox dies with the judge.
2. ``unshare``: util-linux ``unshare`` with user, PID, network, IPC and UTS namespaces (no file
   system masking).
3. ``process``: a plain child in its own session (no namespaces).

Always, on top: ``python -I -S`` (no environment variables, user site, ``.pth`` or
``sitecustomize`` hooks), an explicit minimal environment, ``no_new_privs``, rlimits (CPU time,
file size, open files, no core dumps, address space on CPU-only torch) and, where the machine
lets us create one, a ``pids`` cgroup that caps the number of tasks and lets the judge kill
every process the worker ever started, including ``setsid`` daemons.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib.util
import os
import resource
import shutil
import signal
import site
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import grader

MODES = ("bwrap", "unshare", "process")
OUTPUT_CAP = 64 << 10
PIDS_MAX = 256
CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))

BOOT = (
    "import sys; sys.path[:0] = sys.argv.pop(1).split(':'); "
    "from grader.worker.main import main; main()"
)


@dataclass
class Limits:
    cpu_s: int = 600
    file_bytes: int = 64 << 20
    open_files: int = 256
    address_space: int | None = 6 << 30  # None on CUDA builds of torch (they map ~3 GB)


def _runs(cmd: list[str]) -> bool:
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@functools.cache
def available_mode(requested: str = "auto") -> str:
    """The strongest isolation mode that works here (or ``requested`` if it works)."""
    candidates = MODES if requested == "auto" else (requested,)
    for mode in candidates:
        if mode == "bwrap" and shutil.which("bwrap"):
            probe = ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/"]
            if _runs([*probe, "--proc", "/proc", "--dev", "/dev", "true"]):
                return mode
        elif mode == "unshare" and shutil.which("unshare"):
            if _runs([*_unshare_prefix(), "true"]):
                return mode
        elif mode == "process":
            return mode
    if requested != "auto":
        raise RuntimeError(f"isolation mode {requested!r} is not available on this machine")
    return "process"


def _unshare_prefix() -> list[str]:
    return [
        "unshare", "--user", "--map-root-user", "--pid", "--fork", "--kill-child",
        "--mount", "--mount-proc", "--net", "--ipc", "--uts",
    ]  # fmt: skip


def _torch_is_cuda_build() -> bool:
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return False
    lib = Path(spec.origin).parent / "lib"
    return any(lib.glob("libtorch_cuda*")) or any(lib.glob("libc10_cuda*"))


def _python_path(scratch: Path) -> list[str]:
    """sys.path for the worker: a private copy-free view of ``grader`` plus site-packages."""
    lib = scratch / "lib"
    lib.mkdir(exist_ok=True)
    link = lib / "grader"
    if not link.exists():
        link.symlink_to(Path(grader.__file__).resolve().parent, target_is_directory=True)
    paths = [str(lib)]
    for name in ("torch", "numpy"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin is not None:
            paths.append(str(Path(spec.origin).resolve().parent.parent))
    paths += [p for p in site.getsitepackages() if Path(p).is_dir()]
    return list(dict.fromkeys(paths))


def _under_tmp(paths: list[str]) -> list[str]:
    """The real locations (symlinks followed) under /tmp that ``paths`` need, outermost only."""
    found: list[str] = []
    for p in paths:
        real = Path(p).resolve()
        if real.is_file():
            real = real.parent
        if real.is_relative_to("/tmp") and real != Path("/tmp"):
            found.append(str(real))
    found.sort()
    outer = [p for i, p in enumerate(found) if not any(p.startswith(q + "/") for q in found[:i])]
    return list(dict.fromkeys(outer))


def _no_new_privs() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
    except (OSError, AttributeError):
        return False


class PidsCgroup:
    """A ``pids`` cgroup for one worker, when this machine lets us make one."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, name: str) -> PidsCgroup | None:
        for root in CGROUP_ROOTS:
            if not (root / "cgroup.procs").exists():
                continue
            path = root / "trainloop-grader" / name
            try:
                path.mkdir(parents=True, exist_ok=True)
                (path / "pids.max").write_text(str(PIDS_MAX))
                return cls(path)
            except OSError:
                with contextlib.suppress(OSError):
                    path.rmdir()
        return None

    def join_self(self) -> None:
        (self.path / "cgroup.procs").write_text("0")

    def kill_all(self) -> None:
        for _ in range(20):
            try:
                pids = [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
            except (OSError, ValueError):
                return
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            threading.Event().wait(0.02)
        with contextlib.suppress(OSError):
            self.path.rmdir()


@dataclass
class WorkerProcess:
    """A running worker: its process, protocol pipes and captured output."""

    proc: subprocess.Popen[bytes]
    to_worker: int
    from_worker: int
    mode: str
    layers: list[str]
    cgroup: PidsCgroup | None
    output: bytearray = field(default_factory=bytearray)
    output_dropped: int = 0
    drainer: threading.Thread | None = None

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        while True:
            try:
                chunk = self.proc.stdout.read1(1 << 16)
            except (OSError, ValueError):  # closed by kill()
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
        """Kill the whole process tree: the namespace, the session, the cgroup."""
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        if self.cgroup is not None:
            self.cgroup.kill_all()
        for fd in (self.to_worker, self.from_worker):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.drainer is not None:
            self.drainer.join(timeout=1)
        if self.proc.stdout is not None:
            with contextlib.suppress(OSError):
                self.proc.stdout.close()


def launch(
    scratch: Path,
    *,
    mode: str,
    hide: list[Path],
    cuda: bool = False,
    limits: Limits | None = None,
) -> WorkerProcess:
    """Start a worker in ``scratch`` (which must exist) under the given isolation mode."""
    limits = limits or Limits()
    if _torch_is_cuda_build():
        limits.address_space = None
    scratch = scratch.resolve()
    (scratch / "tmp").mkdir(exist_ok=True)
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch),
        "TMPDIR": str(scratch / "tmp"),
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    if cuda and "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    python = [
        sys.executable, "-I", "-S", "-c", BOOT,
        ":".join(_python_path(scratch)), str(req_r), str(rep_w), str(scratch),
    ]  # fmt: skip
    layers = ["separate process", "python -I -S", "clean environment", "rlimits"]
    if mode == "bwrap":
        cmd = [
            "bwrap", "--unshare-all", "--die-with-parent", "--new-session",
            "--ro-bind", "/", "/", "--proc", "/proc",
            *(["--dev-bind", "/dev", "/dev"] if cuda else ["--dev", "/dev"]),
            "--tmpfs", "/tmp",
        ]  # fmt: skip
        # /tmp is the sandbox's own; what the worker runs from under /tmp (a venv, a
        # grader unpacked there) is mounted back read-only, the scratch dir read-write.
        grader_dir = str(Path(grader.__file__).resolve().parent)  # the symlink's target
        needed = [sys.prefix, sys.base_prefix, sys.executable, grader_dir, *_python_path(scratch)]
        for path in _under_tmp(needed):
            cmd += ["--ro-bind", path, path]
        cmd += ["--bind", str(scratch), str(scratch)]
        for path in hide:
            if path.is_dir() and not scratch.is_relative_to(path.resolve()):
                cmd += ["--tmpfs", str(path.resolve())]
        cmd += ["--chdir", str(scratch), "--", *python]
        layers += ["bwrap: user/pid/net/ipc/uts/mount namespaces", "read-only filesystem"]
        if hide:
            layers.append("hidden tests and answers masked")
    elif mode == "unshare":
        cmd = [*_unshare_prefix(), *python]
        layers += ["unshare: user/pid/net/ipc/uts namespaces"]
    else:
        cmd = python
    cgroup = PidsCgroup.create(f"{os.getpid()}-{req_r}-{id(scratch)}")
    if cgroup is not None:
        layers.append(f"pids cgroup (max {PIDS_MAX} tasks)")

    def preexec() -> None:
        for which, value in (
            (resource.RLIMIT_CPU, limits.cpu_s),
            (resource.RLIMIT_FSIZE, limits.file_bytes),
            (resource.RLIMIT_NOFILE, limits.open_files),
            (resource.RLIMIT_CORE, 0),
            (resource.RLIMIT_AS, limits.address_space),
        ):
            if value is not None:
                with contextlib.suppress(ValueError, OSError):
                    resource.setrlimit(which, (value, value))
        if cgroup is not None:
            with contextlib.suppress(OSError):
                cgroup.join_self()
        _no_new_privs()

    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        pass_fds=(req_r, rep_w),
        cwd=scratch,
        env=env,
        start_new_session=True,
        preexec_fn=preexec,
    )
    os.close(req_r)
    os.close(rep_w)
    layers.append("no_new_privs")
    worker = WorkerProcess(proc, req_w, rep_r, mode, layers, cgroup)
    worker.drainer = threading.Thread(target=worker._drain, daemon=True)
    worker.drainer.start()
    return worker
