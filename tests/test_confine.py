"""Kernel confinement layers of the worker (Landlock and seccomp), tried for real.

Each test starts a fresh ``python -I -S`` that imports the layer from this checkout, applies it
to itself, then tries what a student's code would try; it prints one JSON line that the test
asserts on. An attempt reads ``"ok"`` or the errno's name (``"EPERM"``), so a failure message
says which operation got through. Nothing here depends on timing; a kernel without a feature
skips the tests that need it, with the reason.
"""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from grader.worker import landlock, seccomp

pytestmark = pytest.mark.slow  # every test here starts a confined interpreter of its own

ROOT = Path(__file__).resolve().parent.parent
PROBES = Path(__file__).resolve().parent / "confine_probes"
ABI = landlock.abi_version()

needs_landlock = pytest.mark.skipif(ABI < 1, reason="this kernel has no Landlock")
needs_seccomp = pytest.mark.skipif(not seccomp.available(), reason="no libseccomp or no filters")
needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="torch is not installed"
)

# Start of every probe: the layers from this checkout, and ``attempt`` (errno name or "ok").
PRELUDE = f"""
import errno, json, os, sys
sys.path.insert(0, {str(ROOT)!r})
from grader.worker import landlock, seccomp

def attempt(fn, *args):
    try:
        fn(*args)
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return "ok"

def report(**values):
    print(json.dumps(values))
"""

# ptrace(PTRACE_PEEKDATA, ppid) and process_vm_readv(ppid) through ctypes (Python has no
# binding). Both harmless without the filter: PEEKDATA on an untraced process is ESRCH and the
# read of address 0 is EFAULT, so the parent (pytest) is never stopped or changed.
RAW_SYSCALLS = """
import ctypes, platform
NR = {"x86_64": {"ptrace": 101, "process_vm_readv": 310, "clone3": 435},
      "aarch64": {"ptrace": 117, "process_vm_readv": 270, "clone3": 435}}[platform.machine()]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def raw(name, *args):
    ctypes.set_errno(0)
    if libc.syscall(ctypes.c_long(NR[name]), *[ctypes.c_long(a) for a in args]) == -1:
        return errno.errorcode[ctypes.get_errno()]
    return "ok"

class IOVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

def vm_read(pid):
    buf = ctypes.create_string_buffer(8)
    local, remote = IOVec(ctypes.addressof(buf), 8), IOVec(0, 8)
    ctypes.set_errno(0)
    n = libc.syscall(ctypes.c_long(NR["process_vm_readv"]), ctypes.c_long(pid),
                     ctypes.byref(local), ctypes.c_ulong(1), ctypes.byref(remote),
                     ctypes.c_ulong(1), ctypes.c_ulong(0))
    return "ok" if n >= 0 else errno.errorcode[ctypes.get_errno()]

def inotify(path):
    fd = libc.inotify_init1(0)
    if fd < 0:
        return errno.errorcode[ctypes.get_errno()]
    ok = libc.inotify_add_watch(fd, path.encode(), 0x2) >= 0
    os.close(fd)
    return "ok" if ok else errno.errorcode[ctypes.get_errno()]
"""


def run_probe(body: str, *args: str, helpers: str = "", env: dict[str, str] | None = None) -> dict:
    """Run ``PRELUDE + helpers + body`` in a fresh ``python -I -S``; return the JSON it printed
    last."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("TLG_")}
    child_env.update(env or {})
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PRELUDE + helpers + textwrap.dedent(body), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=child_env,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"probe failed (exit {done.returncode}):\n{done.stderr[-4000:]}"
    lines = done.stdout.strip().splitlines()
    assert lines, f"probe printed nothing (did it exec or fork?):\n{done.stderr[-4000:]}"
    return json.loads(lines[-1])


def stdlib_rules() -> list[tuple[str, str]]:
    """The standard library: its folder listable ("list"), its children readable, except the
    site-packages folder inside it (installed packages are granted one by one)."""
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    children = sorted(os.listdir(stdlib))
    skip = {"site-packages", "dist-packages"}
    return [(stdlib, "list")] + [(os.path.join(stdlib, c), "ro") for c in children if c not in skip]


def site_dirs() -> list[str]:
    """Folders torch and numpy are installed in (without importing them here)."""
    found = []
    for name in ("torch", "numpy"):
        spec = importlib.util.find_spec(name)
        if spec and spec.submodule_search_locations:
            found.append(
                os.path.dirname(os.path.realpath(list(spec.submodule_search_locations)[0]))
            )
    return sorted(set(found))


# -- seccomp ------------------------------------------------------------------------------------


@needs_seccomp
def test_seccomp_refuses_new_processes_programs_sockets_and_other_processes(tmp_path):
    out = run_probe(
        """
        import signal, socket, subprocess
        seccomp.install()
        ppid = os.getppid()
        report(
            fork=attempt(os.fork),
            forkpty=attempt(os.forkpty),
            subprocess=attempt(subprocess.run, ["true"]),
            execv=attempt(os.execv, sys.executable, [sys.executable, "-c", "pass"]),
            clone3=raw("clone3", 0, 0),
            socket=attempt(socket.socket),
            socketpair=attempt(socket.socketpair),
            kill_parent=attempt(os.kill, ppid, 0),
            kill_group=attempt(os.kill, 0, 0),
            kill_everyone=attempt(os.kill, -1, 0),
            ptrace=raw("ptrace", 2, ppid, 0, 0),
            process_vm_readv=vm_read(ppid),
            pidfd_open=attempt(os.pidfd_open, ppid),
            prlimit_parent=attempt(__import__("resource").prlimit, ppid, 4),
            mknod_char=attempt(os.mknod, sys.argv[1] + "/null", 0o600 | 0o020000, os.makedev(1, 3)),
            inotify=inotify(sys.argv[1]),
        )
        """,
        str(tmp_path),
        helpers=RAW_SYSCALLS,
    )
    assert out == {
        "fork": "EPERM",
        "forkpty": "EPERM",
        "subprocess": "EPERM",
        "execv": "EPERM",
        "clone3": "ENOSYS",
        "socket": "EACCES",
        "socketpair": "EACCES",
        "kill_parent": "EPERM",
        "kill_group": "EPERM",
        "kill_everyone": "EPERM",
        "ptrace": "EPERM",
        "process_vm_readv": "EPERM",
        "pidfd_open": "EPERM",
        "prlimit_parent": "EPERM",
        "mknod_char": "EPERM",
        "inotify": "EPERM",
    }


@needs_seccomp
def test_seccomp_keeps_threads_pipes_own_signals_and_own_limits(tmp_path):
    out = run_probe(
        """
        import resource, signal, threading
        result = seccomp.install()
        got = []
        signal.signal(signal.SIGUSR1, lambda *_: got.append("usr1"))
        ids = []
        threads = [threading.Thread(target=lambda: ids.append(threading.get_native_id()))
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        r, w = os.pipe()
        os.write(w, b"ok")
        report(
            threads=len(set(ids)),
            pipe=os.read(r, 2).decode(),
            kill_self=attempt(os.kill, os.getpid(), 0),
            raise_signal=attempt(signal.raise_signal, signal.SIGUSR1),
            pthread_kill=attempt(signal.pthread_kill, threading.get_ident(), signal.SIGUSR1),
            handled=got,
            setrlimit=attempt(resource.setrlimit, resource.RLIMIT_CORE, (0, 0)),
            mkfifo=attempt(os.mkfifo, sys.argv[1] + "/fifo"),
            write=attempt(lambda: open(sys.argv[1] + "/f", "w").write("x")),
            skipped=result.skipped,
            denied=sorted({name for name, _ in result.denied}),
        )
        """,
        str(tmp_path),
    )
    assert out["threads"] == 4, "threads must keep working (clone3 -> ENOSYS -> clone)"
    assert out["pipe"] == "ok"
    assert (out["kill_self"], out["raise_signal"], out["pthread_kill"]) == ("ok", "ok", "ok")
    assert out["handled"] == ["usr1", "usr1"]
    assert (out["setrlimit"], out["mkfifo"], out["write"]) == ("ok", "ok", "ok")
    assert {"fork", "clone", "clone3", "execve", "socket", "ptrace", "kill"} <= set(out["denied"])


@needs_seccomp
def test_seccomp_own_pid_decides_who_may_be_signalled():
    out = run_probe(
        """
        seccomp.install(own_pid=os.getppid())
        report(kill_self=attempt(os.kill, os.getpid(), 0))
        """
    )
    assert out["kill_self"] == "EPERM"


@needs_seccomp
def test_seccomp_policy_table_covers_the_brief_and_says_why():
    names = {deny.syscall for deny in seccomp.POLICY}
    required = (
        "fork vfork clone clone3 execve execveat socket socketpair ptrace process_vm_readv "
        "process_vm_writev pidfd_open pidfd_getfd pidfd_send_signal kill tgkill tkill "
        "rt_sigqueueinfo rt_tgsigqueueinfo mount umount2 unshare setns chroot pivot_root bpf "
        "perf_event_open keyctl add_key request_key userfaultfd io_uring_setup io_uring_enter "
        "io_uring_register open_by_handle_at name_to_handle_at kexec_load kexec_file_load "
        "init_module finit_module delete_module fanotify_init inotify_add_watch"
    ).split()
    assert set(required) <= names
    assert all(
        deny.why and deny.errno in (errno.EPERM, errno.EACCES, errno.ENOSYS)
        for deny in seccomp.POLICY
    )
    table = seccomp.policy_table()
    assert "| `clone3` | ENOSYS always |" in table
    assert "| `clone` | EPERM unless flags include CLONE_THREAD |" in table
    pfc = seccomp.export_pfc(own_pid=4242)  # built, not loaded: the reviewer's view of the filter
    assert "action ERRNO(38)" in pfc and "4242" in pfc


# -- Landlock ----------------------------------------------------------------------------------


@needs_landlock
def test_landlock_allow_list_reads_writes_and_other_processes(tmp_path):
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "lesson.txt").write_text("visible")
    (tmp_path / "ro" / "notes.txt").write_text("granted rw on its own")
    (tmp_path / "hidden").mkdir()
    (tmp_path / "hidden" / "answer.txt").write_text("secret")
    (tmp_path / "scratch").mkdir()
    rules = [
        *stdlib_rules(),
        (str(tmp_path / "ro"), "ro"),
        (str(tmp_path / "ro" / "notes.txt"), "rw"),  # a file: trimmed to file rights
        (str(tmp_path / "scratch"), "rw"),
        (str(tmp_path / "missing"), "ro"),
    ]
    out = run_probe(
        """
        import socket
        base, rules = sys.argv[1], json.loads(sys.argv[2])
        result = landlock.restrict([landlock.Rule(p, a) for p, a in rules])
        s = base + "/scratch"
        ppid = os.getppid()

        def write(path, text="x"):
            with open(path, "w") as f:
                f.write(text)

        attempts = dict(
            read_ro=attempt(lambda: open(base + "/ro/lesson.txt").read()),
            read_hidden=attempt(lambda: open(base + "/hidden/answer.txt").read()),
            list_hidden=attempt(os.listdir, base + "/hidden"),
            read_etc=attempt(lambda: open("/etc/hostname").read()),
            write_ro=attempt(write, base + "/ro/new.txt"),
            overwrite_ro=attempt(write, base + "/ro/lesson.txt"),
            write_granted_file=attempt(write, base + "/ro/notes.txt"),
            write_outside=attempt(write, base + "/hidden/forged.json"),
            scratch_write=attempt(write, s + "/a.txt"),
            scratch_mkdir=attempt(os.mkdir, s + "/d"),
            scratch_rename=attempt(os.rename, s + "/a.txt", s + "/b.txt"),
            scratch_move_to_subdir=attempt(os.rename, s + "/b.txt", s + "/d/b.txt"),
            scratch_truncate=attempt(os.truncate, s + "/d/b.txt", 0),
            scratch_remove=attempt(os.remove, s + "/d/b.txt"),
            scratch_rmdir=attempt(os.rmdir, s + "/d"),
            scratch_symlink=attempt(os.symlink, base + "/hidden/answer.txt", s + "/link"),
            link_hidden_into_scratch=attempt(os.link, base + "/hidden/answer.txt", s + "/h"),
            parent_environ=attempt(lambda: open(f"/proc/{ppid}/environ").read()),
            signal_parent=attempt(os.kill, ppid, 0),
            tcp_connect=attempt(socket.socket().connect, ("127.0.0.1", 9)),
            tcp_bind=attempt(socket.socket().bind, ("127.0.0.1", 0)),
            import_stdlib=attempt(lambda: __import__("importlib").invalidate_caches()
                                  or __import__("wave")),
        )
        report(abi=result.abi, scopes=result.scopes, skipped=result.skipped,
               handled_net=result.handled_net, **attempts)
        """,
        str(tmp_path),
        json.dumps(rules),
    )
    expected = {
        "read_ro": "ok",
        "read_hidden": "EACCES",
        "list_hidden": "EACCES",
        "read_etc": "EACCES",
        "write_ro": "EACCES",
        "overwrite_ro": "EACCES",
        "write_granted_file": "ok",
        "write_outside": "EACCES",
        "scratch_write": "ok",
        "scratch_mkdir": "ok",
        "scratch_rename": "ok",
        "scratch_remove": "ok",
        "scratch_rmdir": "ok",
        "scratch_symlink": "EACCES",  # no symlinks the judge could later follow
        "parent_environ": "EACCES",
        "import_stdlib": "ok",
    }
    if ABI >= 2:
        expected["scratch_move_to_subdir"] = "ok"
        expected["link_hidden_into_scratch"] = "EXDEV"  # would widen access: refused
    if ABI >= 3:
        expected["scratch_truncate"] = "ok"
    if ABI >= 4:
        expected |= {"tcp_connect": "EACCES", "tcp_bind": "EACCES"}
        assert out["handled_net"] == ["bind_tcp", "connect_tcp"]
    if ABI >= 6:
        expected["signal_parent"] = "EPERM"
        assert sorted(out["scopes"]) == ["abstract_unix", "signal"]
    assert {k: out[k] for k in expected} == expected
    assert out["abi"] == ABI
    assert out["skipped"] == [str(tmp_path / "missing")]


@needs_landlock
def test_landlock_refuses_to_restrict_while_other_threads_run():
    out = run_probe(
        """
        import threading
        stop = threading.Event()
        helper = threading.Thread(target=stop.wait)
        helper.start()
        running = landlock.other_threads_running()
        try:
            landlock.restrict([])
            outcome = "restricted"
        except landlock.LandlockError as exc:
            outcome = errno.errorcode[exc.errno]
        stop.set()
        helper.join()
        report(running=running, outcome=outcome)
        """
    )
    assert out == {"running": True, "outcome": "EBUSY"}


def test_simulated_old_kernel_has_neither_layer():
    out = run_probe(
        """
        try:
            landlock.restrict([])
            restricted = "restricted"
        except landlock.LandlockError as exc:
            restricted = errno.errorcode[exc.errno]
        try:
            seccomp.install()
            installed = "installed"
        except seccomp.SeccompError as exc:
            installed = errno.errorcode[exc.errno]
        report(abi=landlock.abi_version(), available=seccomp.available(),
               restricted=restricted, installed=installed,
               still_free=attempt(lambda: open("/etc/hostname").read()))
        """,
        env={"TLG_SIMULATE_NO_LANDLOCK": "1", "TLG_SIMULATE_NO_SECCOMP": "1"},
    )
    assert out == {
        "abi": 0,
        "available": False,
        "restricted": "ENOSYS",
        "installed": "ENOSYS",
        "still_free": "ok",
    }


def test_cuda_rules_name_only_what_exists():
    rules = landlock.cuda_rules()
    assert all(os.path.lexists(rule.path) for rule in rules)
    devices = {str(p) for p in Path("/dev").glob("nvidia*")}
    assert {r.path for r in rules if r.access == "dev"} == devices
    assert all(r.access == "ro" for r in rules if not r.path.startswith("/dev/"))


# -- both layers, with torch -------------------------------------------------------------------


def torch_rules(view: Path) -> list[tuple[str, str]]:
    """The allow-list torch needs, computed from an unconfined discovery run.

    ``view`` becomes a folder of symlinks to the site-packages entries torch loaded: the worker
    puts it on ``sys.path`` instead of site-packages, which it may not list or read.
    """
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(PROBES / "torch_needs.py"), *site_dirs()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    needs = json.loads(done.stdout)
    view.mkdir()
    for entry in needs["entries"]:
        (view / os.path.basename(entry)).symlink_to(entry)
    return [
        *stdlib_rules(),
        (str(view), "ro"),
        *[(entry, "ro") for entry in needs["entries"]],
        *[(folder, "ro") for folder in needs["lib_dirs"]],
        ("/etc/ld.so.cache", "ro"),  # the loader's index of library folders
        ("/dev/null", "dev"),
        ("/dev/urandom", "dev"),  # torch's default generator seeds from it: import fails without
        ("/proc/cpuinfo", "ro"),  # cpuinfo (CPU features): an error message without it
        ("/sys/devices/system/cpu", "ro"),  # possible/present CPUs: sizes the thread pools
    ]


@needs_torch
@needs_landlock
@needs_seccomp
def test_torch_trains_under_landlock_and_seccomp(tmp_path):
    rules = torch_rules(tmp_path / "site")
    outside = importlib.util.find_spec("pytest")
    assert outside is not None and outside.origin
    out = run_probe(
        """
        import threading
        view, rules, outside = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
        sys.path.append(view)
        seccomp.available()  # loads libseccomp before Landlock hides its folder
        result = landlock.restrict([landlock.Rule(p, a) for p, a in rules])
        seccomp.install()
        import torch
        torch.set_num_threads(2)
        total = float((torch.randn(512, 512) @ torch.randn(512, 512)).sum())
        worker = threading.Thread(target=lambda: torch.ones(3).sum())
        worker.start()
        worker.join()
        report(
            finite=total == total,
            threads=torch.get_num_threads(),
            torch_from_view=torch.__file__.startswith(view),
            skipped=result.skipped,
            other_package=attempt(lambda: open(outside).read()),
            fork=attempt(os.fork),
        )
        """,
        str(tmp_path / "site"),
        json.dumps(rules),
        outside.origin,
    )
    assert out == {
        "finite": True,
        "threads": 2,
        "torch_from_view": True,
        "skipped": [],
        "other_package": "EACCES",
        "fork": "EPERM",
    }
