"""Starting and killing one worker process, with every isolation layer this machine offers.

Each start gets a fresh *view* (the worker's grader files and the submission, read-only) and
a fresh *scratch* folder (its only writable place), made by the judge inside the client's own
folder with unpredictable names. The judge never reuses, reads or writes through anything a
previous worker could have touched: a crashed worker's folders are removed (links unfollowed)
and new ones made.

Always, where the platform has them: ``python -I -S`` with an explicit sys.path (no
``PYTHON*`` variables, user site, ``.pth`` or ``sitecustomize``), an explicit minimal
environment, rlimits (CPU time, file size, open files, no core dumps, address space on
CPU-only torch), a ``pids`` cgroup that caps tasks and lets the judge kill everything the
worker started, ``no_new_privs``, and -- when the judge is root -- an unprivileged uid.
Landlock and seccomp are applied by the worker itself, first thing, before torch is imported
and long before any student code runs (see ``grader.worker.main``).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import io
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from grader.judge.sandbox import view as views
from grader.judge.sandbox.modes import Capabilities, simulated_missing, unshare_prefix

OUTPUT_CAP = 64 << 10
PIDS_MAX = 256
CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
# The worker's uid when the judge is root: one of 2**20 ids no account uses, drawn per run,
# so two judges grading at once (``grade class -j 2``) do not share one.
UID_BASE = 0x3F000000

BOOT = (
    "import sys, json; config = json.loads(sys.argv[1]); "
    "sys.path[:0] = [config['view'], config['site']]; "
    "from grader.worker.main import main; main(config)"
)


@dataclass
class Limits:
    cpu_s: int = 600
    file_bytes: int = 64 << 20
    open_files: int = 256
    address_space: int | None = 6 << 30  # None on CUDA builds of torch (they map ~3 GB)


def torch_is_cuda_build() -> bool:
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return False
    lib = Path(spec.origin).parent / "lib"
    return any(lib.glob("libtorch_cuda*")) or any(lib.glob("libc10_cuda*"))


def _no_new_privs() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        rc: int = libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS; restype c_int: an int
        return rc == 0
    except (OSError, AttributeError):
        return False


def _sweep(parent: Path) -> None:
    """Remove empty cgroups left by judges that died without closing them (named
    ``<judge pid>-<random>``): a killed test run must not leave them behind for good."""
    try:
        children = list(parent.iterdir())
    except OSError:
        return
    for child in children:
        owner = child.name.split("-", 1)[0]
        if not owner.isdigit() or Path(f"/proc/{owner}").exists():
            continue
        with contextlib.suppress(OSError):
            child.rmdir()  # refused (EBUSY) while a process is still in it


class PidsCgroup:
    """A ``pids`` cgroup for one worker, when this machine lets us make one."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, name: str) -> PidsCgroup | None:
        if simulated_missing("CGROUP"):
            return None
        for root in CGROUP_ROOTS:
            if not (root / "cgroup.procs").exists():
                continue
            path = root / "trainloop-grader" / name
            _sweep(path.parent)
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
    """A running worker: its process, protocol pipes, folders and captured output."""

    proc: subprocess.Popen[bytes]
    to_worker: int
    from_worker: int
    mode: str
    layers: list[str]
    cgroup: PidsCgroup | None
    folders: list[Path]
    output: bytearray = field(default_factory=bytearray)
    output_dropped: int = 0
    drainer: threading.Thread | None = None

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        # Popen's default buffering makes stdout a BufferedReader; typeshed says IO[bytes].
        pipe = cast(io.BufferedReader, self.proc.stdout)
        while True:
            try:
                chunk = pipe.read1(1 << 16)
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
        """Kill the whole process tree (namespace, session, cgroup), then remove its folders."""
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
        for folder in self.folders:
            views.remove_tree(folder)


def worker_identity(caps: Capabilities, allow: list[views.Grant]) -> tuple[int, int] | str | None:
    """The (uid, gid) a root judge runs the worker as, or why it cannot drop privileges."""
    if not caps.root:
        return None
    from grader.judge.sandbox.modes import unreadable_for_others

    blocker = unreadable_for_others(g.path for g in allow if g.access != "rw")
    if blocker is not None:
        return f"{blocker} is not readable by other users"
    uid = UID_BASE + secrets.randbelow(1 << 20)
    return uid, uid


def _bwrap_command(allow: list[views.Grant], scratch: Path, cuda_devices: list[str]) -> list[str]:
    cmd = [
        "bwrap", "--unshare-all", "--die-with-parent", "--new-session",
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
    ]  # fmt: skip
    # usr-merged systems reach libraries (and the dynamic loader) through /lib -> usr/lib.
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        top = Path("/") / name
        if top.is_symlink():
            cmd += ["--symlink", os.readlink(top), str(top)]
    for grant in sorted(allow):
        path = grant.path
        if path == "/proc" or path.startswith(("/proc/", "/dev/")) or grant.access == "list":
            continue  # bwrap's own /proc and /dev; CUDA device nodes are bound below
        cmd += ["--bind" if grant.access == "rw" else "--ro-bind", path, path]
    for dev in cuda_devices:
        cmd += ["--dev-bind", dev, dev]
    return [*cmd, "--chdir", str(scratch), "--"]


def make_folders(home: Path, identity: tuple[int, int] | str | None) -> tuple[Path, Path]:
    """A fresh view (read-only to the worker) and scratch folder (its own) inside ``home``,
    with unpredictable names; the scratch folder belongs to the worker's uid."""
    view = Path(tempfile.mkdtemp(prefix="view-", dir=home))
    scratch = Path(tempfile.mkdtemp(prefix="scratch-", dir=home))
    os.chmod(view, 0o755)
    (scratch / "tmp").mkdir()
    if isinstance(identity, tuple):
        for path in (scratch, scratch / "tmp"):
            os.chown(path, *identity)
    return view, scratch


def worker_env(scratch: Path, cuda: bool) -> dict[str, str]:
    """The worker's whole environment: nothing of the judge's (tokens, PYTHON*, LD_*)."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch),
        "TMPDIR": str(scratch / "tmp"),
        "USER": "student",
        "LOGNAME": "student",
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    if cuda and "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return env


def worker_config(
    caps: Capabilities,
    allow: list[views.Grant],
    *,
    view: Path,
    site: Path,
    scratch: Path,
    scenarios: str,
    module: str,
    cuda: bool,
) -> dict[str, Any]:
    """What a worker confines itself with and loads (see ``grader.worker.main``)."""
    return {
        "view": str(view),
        "site": str(site),
        "scratch": str(scratch),
        "scenarios": scenarios,
        "module": module,
        "cuda": cuda,
        "landlock": [[g.path, g.access] for g in allow] if caps.landlock_abi else None,
        "seccomp": caps.seccomp,
    }


def launch(
    home: Path,
    *,
    caps: Capabilities,
    scenarios: str,
    module: str,
    submission: bytes,
    cuda: bool = False,
    limits: Limits | None = None,
) -> WorkerProcess:
    """Start a worker for ``module`` in fresh folders under ``home`` (the judge's own)."""
    identity = worker_identity(caps, views.static_grants(cuda=cuda))
    view, scratch = make_folders(home, identity)
    try:
        views.build_view(view, scenarios=scenarios, module=module, submission=submission)
        allow = views.grants(view, scratch, cuda=cuda)
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        config = worker_config(
            caps, allow, view=view, site=view / "site", scratch=scratch, scenarios=scenarios,
            module=module, cuda=cuda,
        )  # fmt: skip
        config["fds"] = [req_r, rep_w]
        try:
            proc, layers, cgroup = start_sandboxed(
                BOOT, config, caps=caps, allow=allow, identity=identity, workdir=scratch,
                env=worker_env(scratch, cuda), pass_fds=(req_r, rep_w), limits=limits,
            )  # fmt: skip
        except BaseException:
            for fd in (req_w, rep_r):
                os.close(fd)
            raise
        finally:
            os.close(req_r)
            os.close(rep_w)
    except BaseException:
        for folder in (view, scratch):
            views.remove_tree(folder)
        raise
    worker = WorkerProcess(proc, req_w, rep_r, caps.mode, layers, cgroup, [view, scratch])
    worker.drainer = threading.Thread(target=worker._drain, daemon=True)
    worker.drainer.start()
    return worker


def start_sandboxed(
    boot: str,
    config: dict[str, Any],
    *,
    caps: Capabilities,
    allow: list[views.Grant],
    identity: tuple[int, int] | str | None,
    workdir: Path,
    env: dict[str, str],
    pass_fds: tuple[int, ...],
    limits: Limits | None = None,
) -> tuple[subprocess.Popen[bytes], list[str], PidsCgroup | None]:
    """Start ``python -I -S -c boot config`` in this machine's isolation mode, with rlimits,
    a pids cgroup and (for a root judge) an unprivileged uid. Returns the process, the layers
    the judge applied and its cgroup; the process itself applies Landlock and seccomp."""
    limits = limits or Limits()
    if torch_is_cuda_build():
        limits.address_space = None
    python = [os.path.realpath(sys.executable), "-I", "-S", "-c", boot, json.dumps(config)]
    layers = ["separate process", "python -I -S", "clean environment"]
    if caps.rlimits:
        layers.append("rlimits")
    cuda_devices = [g.path for g in allow if g.access == "dev" and "nvidia" in g.path]
    if caps.mode == "bwrap":
        cmd = [*_bwrap_command(allow, workdir, cuda_devices), *python]
        layers += ["bwrap: user/pid/net/ipc/uts/mount namespaces", "file system: allow-list"]
    elif caps.mode == "unshare":
        cmd = [*unshare_prefix(), *python]
        layers.append("unshare: user/pid/net/ipc/uts namespaces")
    else:
        cmd = python
    cgroup = PidsCgroup.create(f"{os.getpid()}-{secrets.token_hex(6)}")
    if cgroup is not None:
        layers.append(f"pids cgroup (max {PIDS_MAX} tasks)")
    if isinstance(identity, tuple):
        layers.append(f"unprivileged uid {identity[0]}")
    elif isinstance(identity, str):
        layers.append(f"running as root: could not drop privileges ({identity})")
    drop = identity if isinstance(identity, tuple) else None

    def preexec() -> None:  # in the child, before exec: order matters
        if caps.rlimits:
            import resource

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
        if cgroup is not None:  # as root, before the uid changes
            with contextlib.suppress(OSError):
                cgroup.join_self()
        if drop is not None:
            os.setgroups([])
            os.setgid(drop[1])
            os.setuid(drop[0])
        _no_new_privs()

    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=pass_fds,
            cwd=workdir,
            env=env,
            start_new_session=True,
            preexec_fn=preexec,
        )
    except BaseException:
        if cgroup is not None:
            cgroup.kill_all()
        raise
    layers.append("no_new_privs")
    return proc, layers, cgroup
