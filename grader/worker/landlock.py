"""Landlock: an allow-list view of the file system for the worker, through ctypes.

Landlock (Linux >= 5.13) lets an unprivileged process give up access rights for itself and for
every process it later starts. The worker uses it to see only what it needs -- the interpreter,
torch, the submission, a scratch directory -- so that the grader's hidden tests, references,
solutions and the checkout's ``.git`` cannot be read, and nothing but scratch can be written
(threat model §5 and §10: "read what should be hidden", "attack the judge"). In bwrap mode it is
a second wall behind the mount namespace; in unshare and process modes it is the only one.

Everything is denied unless a rule grants it: the ruleset *handles* every file-system right the
running kernel knows, so a right nobody granted is a right nobody has. On ABI >= 4 outgoing and
listening TCP is denied too, and on ABI >= 6 the worker can no longer signal processes outside
its own domain (the judge) nor connect to abstract unix sockets they created.

**Threads.** ``landlock_restrict_self`` restricts the *calling thread* and what it starts later
(threads and children); threads that already exist keep their old rights. Call :func:`restrict`
before any other thread starts (before torch spins up its thread pools, before student code),
and check :func:`other_threads_running` first -- :func:`restrict` refuses to run when it is
true unless told otherwise.

Kernel interface (``include/uapi/linux/landlock.h``): three system calls, numbered 444-446 on
both x86_64 and aarch64, and three plain C structs. No third-party package is needed.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import stat
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# -- system call numbers (asm-generic numbering: identical on x86_64 and aarch64) ----------------
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
_SUPPORTED_MACHINES = frozenset({"x86_64", "amd64", "aarch64", "arm64"})

CREATE_RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38

# -- file-system access rights, with the ABI that introduced them ------------------------------
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2: link/rename across directories
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5: ioctl on character/block devices

FS_NAMES: dict[int, str] = {
    FS_EXECUTE: "execute",
    FS_WRITE_FILE: "write_file",
    FS_READ_FILE: "read_file",
    FS_READ_DIR: "read_dir",
    FS_REMOVE_DIR: "remove_dir",
    FS_REMOVE_FILE: "remove_file",
    FS_MAKE_CHAR: "make_char",
    FS_MAKE_DIR: "make_dir",
    FS_MAKE_REG: "make_reg",
    FS_MAKE_SOCK: "make_sock",
    FS_MAKE_FIFO: "make_fifo",
    FS_MAKE_BLOCK: "make_block",
    FS_MAKE_SYM: "make_sym",
    FS_REFER: "refer",
    FS_TRUNCATE: "truncate",
    FS_IOCTL_DEV: "ioctl_dev",
}

_FS_ABI1 = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
FS_RIGHTS_BY_ABI: dict[int, int] = {
    1: _FS_ABI1,
    2: _FS_ABI1 | FS_REFER,
    3: _FS_ABI1 | FS_REFER | FS_TRUNCATE,
    4: _FS_ABI1 | FS_REFER | FS_TRUNCATE,
    5: _FS_ABI1 | FS_REFER | FS_TRUNCATE | FS_IOCTL_DEV,
}
# Rights that make sense on a non-directory; the kernel rejects (EINVAL) a rule that gives a
# regular file or device any other right.
FS_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV

# -- network rights (ABI 4) and scopes (ABI 6) -------------------------------------------------
NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

# -- what each access level grants -------------------------------------------------------------
Access = Literal["ro", "rw", "dev", "list"]

_RO = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
# "rw" is everything a scratch directory needs, and deliberately not:
# - MAKE_CHAR / MAKE_BLOCK: a device node (the worker may be root in process mode) would give raw
#   access to a disk or to memory, whatever else the rules say;
# - MAKE_SYM: a symlink planted in scratch is how a worker redirects a later write by the judge
#   (threat model §10, "exploit the judge's file handling");
# - EXECUTE: nothing the worker writes is ever meant to be run as a program.
_RW = (
    FS_READ_FILE
    | FS_READ_DIR
    | FS_WRITE_FILE
    | FS_REMOVE_DIR
    | FS_REMOVE_FILE
    | FS_MAKE_DIR
    | FS_MAKE_REG
    | FS_MAKE_SOCK
    | FS_MAKE_FIFO
    | FS_REFER
    | FS_TRUNCATE
)
# Device files: read, write and ioctl (CUDA drives the GPU through ioctls on /dev/nvidia*).
# READ_DIR only matters for a directory of devices such as /dev/nvidia-caps/.
_DEV = FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE | FS_IOCTL_DEV | FS_READ_DIR
# "list": names only, no contents. Python's importer lists every folder on sys.path before it
# opens anything there; a folder that holds both wanted and hidden entries (the stdlib folder
# holds site-packages) is granted "list", and its wanted children "ro". Without it, imports work
# only while the importer's cached listing survives (importlib.invalidate_caches() ends that).
_LIST = FS_READ_DIR
ACCESS_RIGHTS: dict[str, int] = {"ro": _RO, "rw": _RW, "dev": _DEV, "list": _LIST}

SIMULATE_ENV = "TLG_SIMULATE_NO_LANDLOCK"


class LandlockError(OSError):
    """Landlock could not be applied as asked; the process may be left unrestricted.

    Raised instead of returning a partial result: a caller that wanted the file system locked
    must not go on to run student code after this.
    """


@dataclass(frozen=True)
class Rule:
    """Grant ``access`` ("ro", "rw", "dev" or "list") on ``path`` and everything beneath it."""

    path: str
    access: Access

    def __post_init__(self) -> None:
        if self.access not in ACCESS_RIGHTS:
            raise ValueError(f"unknown Landlock access level {self.access!r} for {self.path}")


@dataclass
class Result:
    """What :func:`restrict` put in place, for the scorecard's record of active layers."""

    abi: int
    handled_fs: list[str]
    handled_net: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    rules: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),  # ABI 4
        ("scoped", ctypes.c_uint64),  # ABI 6
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # __attribute__((packed)) in the uapi header: 12 bytes, not 16
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _syscall(libc: ctypes.CDLL, number: int, *args: object) -> int:
    """Call ``syscall(2)``; return its result, or ``-errno`` on failure."""
    fn = libc.syscall
    fn.restype = ctypes.c_long
    result: int = fn(ctypes.c_long(number), *args)  # restype c_long: a Python int
    if result < 0:
        return -ctypes.get_errno()
    return result


def abi_version() -> int:
    """The Landlock ABI of the running kernel, or 0 when Landlock cannot be used.

    0 covers: not Linux, an architecture whose numbers we have not checked, a kernel without
    Landlock (ENOSYS), Landlock built but disabled at boot (EOPNOTSUPP), a seccomp filter that
    hides it, and ``TLG_SIMULATE_NO_LANDLOCK=1`` (tests use it to act out old kernels). Never
    raises: callers use it to decide which layers to stack.
    """
    if os.environ.get(SIMULATE_ENV) == "1":
        return 0
    try:
        if platform.system() != "Linux" or platform.machine().lower() not in _SUPPORTED_MACHINES:
            return 0
        libc = _libc()
        version = _syscall(
            libc,
            SYS_LANDLOCK_CREATE_RULESET,
            None,
            ctypes.c_size_t(0),
            ctypes.c_uint32(CREATE_RULESET_VERSION),
        )
    except Exception:  # noqa: BLE001 -- "must never raise": any failure means "not available"
        return 0
    return max(int(version), 0)


def other_threads_running() -> bool:
    """True when this process has more than one thread (Landlock would miss the others).

    Reads ``/proc/self/task`` (sees native threads, e.g. OpenMP pools, too); falls back to
    Python's own count where ``/proc`` is not readable. A thread just ``join()``-ed may still be
    listed for a moment (join returns before the kernel has reaped it): restrict before starting
    threads, not after joining them.
    """
    try:
        return len(os.listdir("/proc/self/task")) > 1
    except OSError:
        return threading.active_count() > 1


def cuda_rules() -> list[Rule]:
    """The explicit allowances CUDA needs, restricted to what exists on this machine.

    Kept as a literal list, each entry with its reason, so a reviewer sees exactly what a GPU
    worker can touch; on a machine without a GPU it returns only the generic ``/sys`` entries.
    """
    candidates: list[Rule] = []
    # Device nodes the driver is talked to through (open + ioctl + mmap):
    dev = Path("/dev")
    names = sorted(p.name for p in dev.glob("nvidia*")) if dev.is_dir() else []
    # nvidia0..N: one per GPU; nvidiactl: the control node every CUDA context opens first;
    # nvidia-uvm(-tools): unified memory, needed by cudaMalloc/cudaMallocManaged;
    # nvidia-modeset: opened by the driver on some setups; nvidia-caps/: MIG capability nodes.
    for name in names:
        candidates.append(Rule(str(dev / name), "dev"))
    candidates += [
        # Driver version and GPU list; libcuda reads it to match the kernel module.
        Rule("/proc/driver/nvidia", "ro"),
        # PCI topology, BAR sizes and NUMA affinity: read by libcuda and NVML at init.
        Rule("/sys/bus/pci", "ro"),
        Rule("/sys/devices", "ro"),
    ]
    return [rule for rule in candidates if os.path.lexists(rule.path)]


def _names(mask: int, names: dict[int, str]) -> list[str]:
    return [name for bit, name in names.items() if mask & bit]


def restrict(
    rules: Iterable[Rule],
    *,
    scope_signals: bool = True,
    scope_abstract_unix: bool = True,
    deny_tcp: bool = True,
    allow_other_threads: bool = False,
) -> Result:
    """Restrict the calling thread (and everything it starts later) to ``rules``.

    Every file-system right the running ABI knows is handled, so whatever the rules do not grant
    is denied. Rules on non-directories are trimmed to file rights (the kernel rejects others);
    rules on missing paths, or that grant nothing there ("list" on a file), are skipped and
    listed in ``Result.skipped``. Sets ``no_new_privs`` (the kernel requires it of unprivileged
    callers, and we want it anyway). Raises :class:`LandlockError` when Landlock is unavailable
    or any step fails -- and when other threads are running (they would stay unrestricted),
    unless ``allow_other_threads`` is set.
    """
    abi = abi_version()
    if abi <= 0:
        raise LandlockError(errno.ENOSYS, "Landlock is not available on this kernel")
    if not allow_other_threads and other_threads_running():
        raise LandlockError(
            errno.EBUSY, "other threads are running: Landlock would restrict only this one"
        )
    handled_fs = FS_RIGHTS_BY_ABI[min(abi, max(FS_RIGHTS_BY_ABI))]
    handled_net = NET_BIND_TCP | NET_CONNECT_TCP if deny_tcp and abi >= 4 else 0
    scoped = 0
    if abi >= 6:
        scoped |= SCOPE_SIGNAL if scope_signals else 0
        scoped |= SCOPE_ABSTRACT_UNIX_SOCKET if scope_abstract_unix else 0

    # Older kernels reject a struct larger than they know unless the extra bytes are zero; pass
    # only the fields this ABI understands.
    attr = _RulesetAttr(handled_fs, handled_net, scoped)
    size = 8 if abi < 4 else (16 if abi < 6 else ctypes.sizeof(_RulesetAttr))
    libc = _libc()
    ruleset_fd = _syscall(
        libc,
        SYS_LANDLOCK_CREATE_RULESET,
        ctypes.byref(attr),
        ctypes.c_size_t(size),
        ctypes.c_uint32(0),
    )
    if ruleset_fd < 0:
        raise LandlockError(-ruleset_fd, f"landlock_create_ruleset: {os.strerror(-ruleset_fd)}")
    result = Result(
        abi=abi,
        handled_fs=_names(handled_fs, FS_NAMES),
        handled_net=_names(handled_net, {NET_BIND_TCP: "bind_tcp", NET_CONNECT_TCP: "connect_tcp"}),
        scopes=_names(
            scoped, {SCOPE_SIGNAL: "signal", SCOPE_ABSTRACT_UNIX_SOCKET: "abstract_unix"}
        ),
    )
    try:
        for rule in rules:
            if _add_rule(libc, ruleset_fd, rule, handled_fs):
                result.rules.append((rule.path, rule.access))
            else:
                result.skipped.append(rule.path)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            code = ctypes.get_errno()
            raise LandlockError(code, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(code)}")
        done = _syscall(
            libc, SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset_fd), ctypes.c_uint32(0)
        )
        if done < 0:
            raise LandlockError(-done, f"landlock_restrict_self: {os.strerror(-done)}")
    finally:
        os.close(ruleset_fd)
    return result


def _add_rule(libc: ctypes.CDLL, ruleset_fd: int, rule: Rule, handled_fs: int) -> bool:
    """Add one path-beneath rule; False (skipped) when the path does not exist or the access
    level grants nothing on it (e.g. "list" on a file)."""
    try:
        fd = os.open(rule.path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise LandlockError(
            exc.errno, f"cannot open {rule.path} for a rule: {exc.strerror}"
        ) from exc
    try:
        allowed = ACCESS_RIGHTS[rule.access] & handled_fs
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            allowed &= FS_FILE_RIGHTS
        if not allowed:
            return False
        beneath = _PathBeneathAttr(allowed, fd)
        added = _syscall(
            libc,
            SYS_LANDLOCK_ADD_RULE,
            ctypes.c_int(ruleset_fd),
            ctypes.c_int(RULE_PATH_BENEATH),
            ctypes.byref(beneath),
            ctypes.c_uint32(0),
        )
        if added < 0:
            raise LandlockError(-added, f"landlock_add_rule({rule.path}): {os.strerror(-added)}")
    finally:
        os.close(fd)
    return True
