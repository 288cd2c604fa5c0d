"""Which isolation this machine offers, decided once per judge process.

Three *modes* say how the worker process is started -- ``bwrap`` (bubblewrap: user, PID,
network, IPC, UTS and mount namespaces, a file system built only from the allow-list),
``unshare`` (the same namespaces, no file system of its own) and ``process`` (a plain child).
On top of every mode, where the kernel has them, the worker applies Landlock (the same
allow-list, enforced by the kernel) and seccomp (no new processes, sockets, ptrace, signals
to others, ...), and a root judge runs it as an unprivileged uid.

The *level* is what a grade can be trusted for: ``bwrap`` or ``landlock`` (Landlock and
seccomp) make a grade of record; ``process`` is feedback only. ``--require-isolation``
compares levels in the order of :data:`LEVELS`.

Tests simulate weaker machines with ``TLG_SIMULATE_NO_{BWRAP,NAMESPACES,LANDLOCK,SECCOMP,
RESOURCE,CGROUP}=1``: the scorecard then reports the weaker layers truthfully.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MODES = ("bwrap", "unshare", "process")
LEVELS = ("process", "landlock", "bwrap")  # weakest first
Level = Literal["process", "landlock", "bwrap"]


def simulated_missing(feature: str) -> bool:
    """Whether a test asked us to behave as if ``feature`` did not exist on this machine."""
    return os.environ.get(f"TLG_SIMULATE_NO_{feature}") == "1"


def _runs(cmd: list[str]) -> bool:
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def unshare_prefix() -> list[str]:
    return [
        "unshare", "--user", "--map-root-user", "--pid", "--fork", "--kill-child",
        "--mount", "--mount-proc", "--net", "--ipc", "--uts",
    ]  # fmt: skip


def _mode_works(mode: str) -> bool:
    if mode == "process":
        return True
    if simulated_missing("NAMESPACES") or not sys.platform.startswith("linux"):
        return False
    if mode == "bwrap":
        if simulated_missing("BWRAP") or not shutil.which("bwrap"):
            return False
        probe = ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/"]
        return _runs([*probe, "--proc", "/proc", "--dev", "/dev", "true"])
    if mode == "unshare":
        return bool(shutil.which("unshare")) and _runs([*unshare_prefix(), "true"])
    return False


@functools.cache
def available_mode(requested: str = "auto") -> str:
    """The strongest mode that works here, or ``requested`` if it works (else RuntimeError)."""
    if requested != "auto":
        if requested not in MODES:
            raise RuntimeError(f"unknown isolation mode {requested!r}")
        if not _mode_works(requested):
            raise RuntimeError(f"isolation mode {requested!r} is not available on this machine")
        return requested
    return next(m for m in MODES if _mode_works(m))


def landlock_abi() -> int:
    """The kernel's Landlock ABI version (0: none)."""
    try:
        from grader.worker import landlock
    except ImportError:  # pragma: no cover
        return 0
    return landlock.abi_version()


def seccomp_available() -> bool:
    try:
        from grader.worker import seccomp
    except ImportError:  # pragma: no cover
        return False
    return seccomp.available()


def resource_available() -> bool:
    if simulated_missing("RESOURCE"):
        return False
    try:
        import resource  # noqa: F401
    except ImportError:  # Windows
        return False
    return True


def _world_readable(path: Path) -> bool:
    """Whether a user that is neither owner nor in the group can read ``path``."""
    for parent in reversed(path.parents):
        try:
            mode = parent.stat().st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH:
            return False
    try:
        mode = path.stat().st_mode
    except OSError:
        return True  # gone: nothing to read either way
    need = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(mode) else 0)
    return mode & need == need


def unreadable_for_others(paths: Iterable[str]) -> str | None:
    """The first path (or parent) that an unprivileged uid could not read, if any."""
    for p in paths:
        path = Path(p)
        if not _world_readable(path):
            blocker = next(
                (q for q in reversed(path.parents) if not q.stat().st_mode & stat.S_IXOTH),
                path,
            )
            return str(blocker)
    return None


@dataclass(frozen=True)
class Capabilities:
    """What this machine offers, probed once (every worker of a run shares it)."""

    mode: str
    landlock_abi: int
    seccomp: bool
    rlimits: bool
    root: bool

    @property
    def level(self) -> Level:
        return level_of(self.mode, self.landlock_abi > 0, self.seccomp)


def level_of(mode: str, landlock: bool, seccomp: bool) -> Level:
    if mode == "bwrap":
        return "bwrap"
    if landlock and seccomp:
        return "landlock"
    return "process"


@functools.cache
def capabilities(requested: str = "auto") -> Capabilities:
    return Capabilities(
        mode=available_mode(requested),
        landlock_abi=landlock_abi(),
        seccomp=seccomp_available(),
        rlimits=resource_available(),
        root=hasattr(os, "geteuid") and os.geteuid() == 0,
    )


def meets(level: str, required: str | None) -> bool:
    return required is None or LEVELS.index(level) >= LEVELS.index(required)
