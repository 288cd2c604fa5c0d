"""seccomp: a system-call deny list for the worker, through a small ctypes layer over libseccomp.

The worker's student code may compute, read what Landlock/bwrap let it read and write scratch.
It must not start processes (a process outside the watched window is how a submission escapes
the guard, threat model §10), open sockets (exfiltration, §3 #7), touch other processes
(ptrace, ``/proc/<pid>/mem``-style reads, signals to the judge, §3 #11) or reach kernel
interfaces an autograder never needs (mounts, namespaces, BPF, keyrings, io_uring...). Those
are denied here; see :data:`POLICY` for every entry and why.

Design:

- **Default ALLOW, explicit denies.** torch, BLAS, OpenMP and CUDA make many system calls we
  cannot enumerate; a deny list keeps them working. The file-system allow-list is Landlock's job
  (``grader.worker.landlock``), not this module's.
- **Errors, never kills.** Every deny returns an errno, so student code sees an ordinary
  ``OSError`` ("Operation not permitted") and the judge gets a normal, explainable failure
  instead of a dead worker. ``clone3`` returns ``ENOSYS`` because glibc then falls back to
  ``clone``, whose flags a filter *can* read: threads (``CLONE_THREAD``) are allowed, processes
  are not. Foreign architectures (i386 ``int 0x80``, x32) also get ``ENOSYS`` rather than a kill.
- **All threads.** The filter is installed with ``TSYNC``, so threads that already exist get it
  too, and ``no_new_privs`` stays on (libseccomp's default; the kernel requires it).
- **Not restricted, on purpose:** ``open``/``openat``, ``ioctl``, ``mmap``/``mprotect`` and
  everything else about files and memory. CUDA drives the GPU through ioctls and mappings on
  ``/dev/nvidia*``; which files can be opened is Landlock's decision. Also left alone: the
  ``sched_set*`` calls and ``ioprio_set`` (libraries pin and tune their own threads by thread
  id, which a filter cannot tell apart from another process's id) -- a PID namespace hides the
  judge from them.

Names are resolved for the running architecture; names it lacks (``fork`` and ``vfork`` on
aarch64) are skipped and reported. Rules go in through ``seccomp_rule_add_array``, which takes
an array instead of C varargs of structs (which ctypes cannot pass portably).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import tempfile
from dataclasses import dataclass, field
from typing import Final, Literal

SIMULATE_ENV = "TLG_SIMULATE_NO_SECCOMP"

# libseccomp's ABI (seccomp.h, stable since 2.4)
_ACT_ALLOW = 0x7FFF0000
_ACT_ERRNO = 0x00050000  # | errno in the low 16 bits
_ATTR_ACT_BADARCH = 2
_ATTR_CTL_NNP = 3
_ATTR_CTL_TSYNC = 4
_CMP_NE = 1
_CMP_EQ = 4
_CMP_MASKED_EQ = 7
_OPS = {"ne": _CMP_NE, "eq": _CMP_EQ, "masked_eq": _CMP_MASKED_EQ}

CLONE_THREAD = 0x00010000
S_IFMT = 0o170000
OWN_PID: Final = "own_pid"  # placeholder, replaced by the pid passed to install()


@dataclass(frozen=True)
class Arg:
    """One argument comparison: ``arg[index] <op> value`` (for masked_eq: ``arg & mask == value``).

    A rule with several comparisons applies only when all of them hold; libseccomp allows one
    comparison per argument index in a rule.
    """

    index: int
    op: Literal["ne", "eq", "masked_eq"]
    value: int | Literal["own_pid"]
    mask: int = 0


@dataclass(frozen=True)
class Deny:
    """A denied system call: which errno it returns, when, and why it is denied."""

    syscall: str
    errno: int
    why: str
    when: tuple[Arg, ...] = ()
    condition: str = "always"

    @property
    def action(self) -> str:
        return f"{errno.errorcode[self.errno]} {self.condition}"


def _always(names: str, err: int, why: str) -> list[Deny]:
    return [Deny(name, err, why) for name in names.split()]


_NO_PROCESS = "a process outside the watched window escapes every in-worker check (§10)"
_NO_OTHERS = "reading or changing another process (the judge's memory, fds, secrets)"
_NO_KERNEL = "kernel interface an autograder never needs; a common exploit surface"
_ROOT_ONLY = "needs privilege the worker should not have; denied in case it runs as root"
_OWN_PID_ARG0 = (Arg(0, "ne", OWN_PID),)

POLICY: tuple[Deny, ...] = (
    # -- no new processes ---------------------------------------------------------------------
    *_always("fork vfork", errno.EPERM, _NO_PROCESS),
    Deny(
        "clone",
        errno.EPERM,
        _NO_PROCESS + "; threads (CLONE_THREAD) stay allowed",
        (Arg(0, "masked_eq", 0, CLONE_THREAD),),
        "unless flags include CLONE_THREAD",
    ),
    Deny(
        "clone3",
        errno.ENOSYS,
        "its flags live in memory a filter cannot read; ENOSYS makes glibc fall back to clone",
    ),
    *_always("execve execveat", errno.EPERM, "no programs: the worker only runs Python"),
    # -- no network ---------------------------------------------------------------------------
    *_always(
        "socket socketpair",
        errno.EACCES,
        "no new sockets: exfiltration, reverse shells (§3 #7); inherited pipes keep working",
    ),
    # -- no touching other processes ----------------------------------------------------------
    *_always("ptrace process_vm_readv process_vm_writev", errno.EPERM, _NO_OTHERS),
    *_always("pidfd_open pidfd_getfd pidfd_send_signal", errno.EPERM, _NO_OTHERS),
    *_always(
        "process_madvise process_mrelease kcmp", errno.EPERM, _NO_OTHERS + " (pidfds, fd probes)"
    ),
    Deny("kill", errno.EPERM, "signals only to itself", _OWN_PID_ARG0, "unless pid == own pid"),
    Deny(
        "tgkill",
        errno.EPERM,
        "raise()/pthread_kill use tgkill(own pid, tid)",
        _OWN_PID_ARG0,
        "unless tgid == own pid",
    ),
    Deny(
        "rt_tgsigqueueinfo",
        errno.EPERM,
        "signals only to itself",
        _OWN_PID_ARG0,
        "unless tgid == own pid",
    ),
    Deny(
        "rt_sigqueueinfo",
        errno.EPERM,
        "signals only to itself",
        _OWN_PID_ARG0,
        "unless tgid == own pid",
    ),
    Deny(
        "tkill",
        errno.EPERM,
        "obsolete; glibc never uses it; only the main thread may be named",
        _OWN_PID_ARG0,
        "unless tid == own pid",
    ),
    Deny(
        "prlimit64",
        errno.EPERM,
        "lowering the judge's limits; glibc's setrlimit passes pid 0",
        (Arg(0, "ne", 0),),
        "unless pid == 0 (itself)",
    ),
    Deny(
        "setpriority",
        errno.EPERM,
        "renicing the judge or every process of the user",
        (Arg(0, "ne", 0),),
        "unless which == PRIO_PROCESS",
    ),
    Deny(
        "setpriority",
        errno.EPERM,
        "renicing the judge or every process of the user",
        (Arg(1, "ne", 0),),
        "unless who == 0 (itself)",
    ),
    # -- no namespaces, mounts, or escapes from the file-system view --------------------------
    *_always(
        "mount umount2 unshare setns chroot pivot_root "
        "fsopen fsconfig fsmount fspick move_mount open_tree mount_setattr",
        errno.EPERM,
        "changing the file-system view or namespaces the sandbox set up",
    ),
    *_always(
        "open_by_handle_at name_to_handle_at",
        errno.EPERM,
        "file handles bypass path-based checks (the classic container escape)",
    ),
    Deny(
        "mknod",
        errno.EPERM,
        _ROOT_ONLY + ": a device node is raw disk/memory access",
        (Arg(1, "masked_eq", 0o020000, S_IFMT),),
        "for character devices",
    ),
    Deny(
        "mknod",
        errno.EPERM,
        _ROOT_ONLY + ": a device node is raw disk/memory access",
        (Arg(1, "masked_eq", 0o060000, S_IFMT),),
        "for block devices",
    ),
    Deny(
        "mknodat",
        errno.EPERM,
        _ROOT_ONLY + ": a device node is raw disk/memory access",
        (Arg(2, "masked_eq", 0o020000, S_IFMT),),
        "for character devices",
    ),
    Deny(
        "mknodat",
        errno.EPERM,
        _ROOT_ONLY + ": a device node is raw disk/memory access",
        (Arg(2, "masked_eq", 0o060000, S_IFMT),),
        "for block devices",
    ),
    # -- no watching the judge's files --------------------------------------------------------
    *_always(
        "inotify_add_watch fanotify_init",
        errno.EPERM,
        "watching for the judge's result files to rewrite them (Securescope's hole)",
    ),
    # -- kernel interfaces an autograder never needs ------------------------------------------
    *_always(
        "bpf perf_event_open userfaultfd io_uring_setup io_uring_enter io_uring_register "
        "keyctl add_key request_key",
        errno.EPERM,
        _NO_KERNEL,
    ),
    *_always(
        "kexec_load kexec_file_load init_module finit_module delete_module reboot swapon "
        "swapoff acct settimeofday clock_settime clock_adjtime adjtimex sethostname "
        "setdomainname syslog iopl ioperm vhangup quotactl quotactl_fd lookup_dcookie uselib",
        errno.EPERM,
        _ROOT_ONLY,
    ),
)


class SeccompError(OSError):
    """The filter could not be built or loaded; the process is not confined by seccomp."""


@dataclass
class Result:
    """What :func:`install` loaded, for the scorecard's record of active layers."""

    own_pid: int
    api_level: int
    tsync: bool
    denied: list[tuple[str, str]] = field(default_factory=list)  # (syscall, action)
    skipped: list[str] = field(default_factory=list)  # names this architecture lacks


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


@functools.cache
def _load_library() -> ctypes.CDLL | None:
    """libseccomp, loaded once: call :func:`available` before Landlock hides its folder."""
    for name in ("libseccomp.so.2", ctypes.util.find_library("seccomp")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name, use_errno=True)
        except OSError:
            continue
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_release.restype = None
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        lib.seccomp_rule_add_array.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint32,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.POINTER(_ArgCmp),
        ]
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_api_get.restype = ctypes.c_uint
        lib.seccomp_export_pfc.argtypes = [ctypes.c_void_p, ctypes.c_int]
        return lib
    return None


def _kernel_has_filters() -> bool:
    """True when the kernel was built with seccomp filters (it lists their actions in /proc)."""
    return os.path.exists("/proc/sys/kernel/seccomp/actions_avail")


def available() -> bool:
    """Whether :func:`install` can work here: libseccomp loads and the kernel has filters.

    False under ``TLG_SIMULATE_NO_SECCOMP=1`` (tests act out machines without it). Never raises.
    """
    if os.environ.get(SIMULATE_ENV) == "1":
        return False
    return _probe()


@functools.cache
def _probe() -> bool:
    """The uncached part of :func:`available` (cached: /proc may be hidden later)."""
    try:
        lib = _load_library()
        # API level >= 2 means the kernel has the seccomp() syscall and TSYNC.
        return lib is not None and lib.seccomp_api_get() >= 2 and _kernel_has_filters()
    except Exception:  # noqa: BLE001 -- availability probes must not raise
        return False


def policy_table() -> str:
    """The policy as a Markdown table (syscall | action | why), for the docs."""
    rows = ["| syscall | action | why |", "|---|---|---|"]
    rows += [f"| `{d.syscall}` | {d.action} | {d.why} |" for d in POLICY]
    return "\n".join(rows)


def _build(lib: ctypes.CDLL, own_pid: int) -> tuple[int, Result]:
    """Build (not load) the filter; the caller owns and releases the returned context."""
    ctx = lib.seccomp_init(_ACT_ALLOW)
    if not ctx:
        raise SeccompError(errno.ENOMEM, "seccomp_init failed")
    result = Result(own_pid=own_pid, api_level=int(lib.seccomp_api_get()), tsync=True)
    try:
        for attr, value in (
            (_ATTR_ACT_BADARCH, _ACT_ERRNO | errno.ENOSYS),
            (_ATTR_CTL_NNP, 1),
            (_ATTR_CTL_TSYNC, 1),
        ):
            rc = lib.seccomp_attr_set(ctx, attr, value)
            if rc < 0:
                raise SeccompError(-rc, f"seccomp_attr_set({attr}): {os.strerror(-rc)}")
        for deny in POLICY:
            number = lib.seccomp_syscall_resolve_name(deny.syscall.encode())
            if number < 0:  # -1: unknown name; below: a name only other architectures have
                if deny.syscall not in result.skipped:
                    result.skipped.append(deny.syscall)
                continue
            cmps = (_ArgCmp * max(len(deny.when), 1))()
            for slot, arg in zip(cmps, deny.when):
                value = own_pid if arg.value == OWN_PID else int(arg.value)
                datum_a, datum_b = (arg.mask, value) if arg.op == "masked_eq" else (value, 0)
                slot.arg, slot.op, slot.datum_a, slot.datum_b = (
                    arg.index,
                    _OPS[arg.op],
                    datum_a,
                    datum_b,
                )
            rc = lib.seccomp_rule_add_array(
                ctx, _ACT_ERRNO | deny.errno, number, len(deny.when), cmps
            )
            if rc < 0:
                raise SeccompError(-rc, f"seccomp rule for {deny.syscall}: {os.strerror(-rc)}")
            result.denied.append((deny.syscall, deny.action))
    except BaseException:
        lib.seccomp_release(ctx)
        raise
    return ctx, result


def install(own_pid: int | None = None) -> Result:
    """Load the filter into this process, all threads included. Irreversible.

    ``own_pid`` is the pid the process may still signal (``os.kill(own_pid, ...)``,
    ``raise()``, ``pthread_kill``); it defaults to ``os.getpid()`` and must be the pid *as this
    process sees it* (inside a PID namespace, the namespaced one). Raises :class:`SeccompError`
    when libseccomp is missing or the kernel refuses the filter; nothing is half-loaded.

    Order in the worker: :func:`available` (loads libseccomp), then Landlock, then this, then
    torch and student code. After it, ``DataLoader(num_workers>0)``, ``multiprocessing`` and
    ``torch.compile``'s compiler subprocesses fail with ``PermissionError``, by design.
    """
    if os.environ.get(SIMULATE_ENV) == "1":
        raise SeccompError(errno.ENOSYS, f"seccomp disabled by {SIMULATE_ENV}=1")
    lib = _load_library()
    if lib is None:
        raise SeccompError(
            errno.ENOENT,
            "libseccomp.so.2 could not be loaded (not installed, or hidden by Landlock: "
            "call available() before restricting the file system)",
        )
    ctx, result = _build(lib, os.getpid() if own_pid is None else own_pid)
    try:
        rc = lib.seccomp_load(ctx)
        if rc < 0:
            raise SeccompError(-rc, f"seccomp_load: {os.strerror(-rc)}")
    finally:
        lib.seccomp_release(ctx)
    return result


def export_pfc(own_pid: int | None = None) -> str:
    """The filter as libseccomp's human-readable pseudo code, without loading it (for review)."""
    lib = _load_library()
    if lib is None:
        raise SeccompError(errno.ENOENT, "libseccomp.so.2 is not installed")
    ctx, _ = _build(lib, os.getpid() if own_pid is None else own_pid)
    try:
        with tempfile.TemporaryFile() as out:  # a file, not a pipe: no size limit, no deadlock
            rc = lib.seccomp_export_pfc(ctx, out.fileno())
            if rc < 0:
                raise SeccompError(-rc, f"seccomp_export_pfc: {os.strerror(-rc)}")
            out.seek(0)
            return out.read().decode()
    finally:
        lib.seccomp_release(ctx)
