"""Give up every Linux capability before student code can run.

A root judge runs the worker as an unprivileged uid where it can (see
``grader.judge.sandbox.launch``). Where it cannot -- the Python installation is not readable
by other users, or ``unshare --map-root-user`` made the worker root in its own namespace --
the worker is still uid 0 and would keep root's powers (override file permissions, kill any
process, load modules, ...). Dropping the bounding set and the effective, permitted and
inheritable sets leaves it an ordinary user that happens to own root's files; Landlock and
seccomp then decide what it may touch.
"""

from __future__ import annotations

import ctypes
import sys

PR_CAPBSET_DROP = 24
CAPABILITY_VERSION_3 = 0x20080522


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def held() -> int:
    """The effective and permitted capability sets (as one mask; 0: none)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
    except OSError:
        return 0
    return int(fields.get("CapEff", "0"), 16) | int(fields.get("CapPrm", "0"), 16)


def drop_capabilities() -> bool:
    """Drop every capability; True if there were any to drop (and they are gone)."""
    if not sys.platform.startswith("linux") or not held():
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            break  # past the kernel's last capability (EINVAL)
    header = _Header(CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")
    return held() == 0
