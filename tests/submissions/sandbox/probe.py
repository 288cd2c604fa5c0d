"""A curious submission: tries everything a cheat would, from inside the worker, and reports
what worked. The tests assert that nothing did."""

import os
import resource
import signal
import socket
import subprocess
import sys


def _try(action):
    try:
        result = action()
    except BaseException as exc:  # noqa: BLE001 - a probe records every failure
        return f"denied: {type(exc).__name__}: {exc}"
    return f"allowed: {result!r}"[:300]


def _read(path):
    with open(path, "rb") as f:
        return len(f.read())


def _write(path):
    with open(path, "w") as f:
        f.write("planted")
    return path


def _listing(path):
    return sorted(os.listdir(path))[:20]


def _fork():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def _forkpty():
    pid, _fd = os.forkpty()
    if pid == 0:
        os._exit(0)
    return pid


def _raw_fork():
    import _posixsubprocess  # noqa: F401 - the private route past subprocess

    return os.posix_spawn("/bin/true", ["true"], {})


def _raw_posix_fork():
    import posix  # the C functions behind os.*, untouched by the worker's friendly refusals

    pid = posix.fork()
    if pid == 0:
        posix._exit(0)
    posix.waitpid(pid, 0)
    return pid


def _raw_socket():
    import _socket

    return _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM).fileno()


def _raw_kill(pid):
    import posix

    posix.kill(pid, 0)
    return "signalled"


def _raw_exec():
    import posix

    posix.execv("/bin/true", ["true"])


def _socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1)
    s.connect(("127.0.0.1", 9))
    return "connected"


def _unix_socket():
    return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)


def _leave_cgroup():
    with open("/proc/self/cgroup") as f:
        lines = f.read().splitlines()
    for line in lines:
        path = line.split(":", 2)[2]
        for root in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup"):
            target = root + "/cgroup.procs"
            if os.path.exists(target):
                with open(target, "w") as f:
                    f.write(str(os.getpid()))
                return f"moved from {path}"
    return "no cgroup"


def probe(reads, writes, parent_pid, secret_name):
    found = {"read": {}, "write": {}, "act": {}}
    for path in reads:
        found["read"][path] = _try(lambda p=path: _listing(p) if os.path.isdir(p) else _read(p))
    for path in writes:
        found["write"][path] = _try(lambda p=path: _write(p))
    acts = {
        "fork": _fork,
        "forkpty": _forkpty,
        "posix_spawn": _raw_fork,
        "subprocess": lambda: subprocess.run(["true"], check=False).returncode,
        "system": lambda: os.system("true"),
        "exec": lambda: os.execv("/bin/true", ["true"]),
        "socket": _socket,
        "unix_socket": _unix_socket,
        "raw_fork": _raw_posix_fork,
        "raw_exec": _raw_exec,
        "raw_socket": _raw_socket,
        "raw_kill_parent": lambda: _raw_kill(parent_pid),
        "raw_kill_ppid": lambda: _raw_kill(os.getppid()),
        "kill_parent": lambda: os.kill(parent_pid, signal.SIGTERM),
        "kill_parent_0": lambda: os.kill(parent_pid, 0),
        "kill_ppid": lambda: os.kill(os.getppid(), 0),
        "leave_cgroup": _leave_cgroup,
        "parent_environ": lambda: _read(f"/proc/{parent_pid}/environ"),
        "parent_cmdline": lambda: _read(f"/proc/{parent_pid}/cmdline"),
    }
    for name, action in acts.items():
        found["act"][name] = _try(action)
    found["facts"] = {
        "pid": os.getpid(),
        "uid": os.getuid(),
        "secret_in_env": secret_name in os.environ,
        "isolated": sys.flags.isolated,
        "no_site": sys.flags.no_site,
        "cpu_limit": resource.getrlimit(resource.RLIMIT_CPU)[0],
        "core_limit": resource.getrlimit(resource.RLIMIT_CORE)[0],
        "fsize_limit": resource.getrlimit(resource.RLIMIT_FSIZE)[0],
        "env_keys": sorted(os.environ),
        "cwd_writable": _try(lambda: _write("scratch-ok.txt")),
        "sys_path": sys.path,
    }
    return found
