"""What the worker may see of the file system: an allow-list, the same in every isolation mode.

The worker may read only what it needs to run:

- the interpreter, the standard library and the shared libraries Python and torch load;
- the site-packages entries of torch, numpy and their dependencies (nothing else installed);
- a *worker view* of the grader: ``grader/protocol``, ``grader/worker``, the course building
  blocks both sides share (``grader/worker/scenarios/common``) and this exercise's scenario
  module, copied into a folder the judge owns -- never ``judge/``, ``suites/``,
  ``reference/``, ``instructor/``, ``solutions/``, ``tests/`` or any ``.git``;
- the submission, copied into that view (read-only);
- its own scratch folder, the only place it may write.

The list is made of :class:`Grant` entries (a path and an access kind). bwrap turns them into
bind mounts; Landlock into rules. Landlock can only *add* access beneath a directory, never
take some back, so a directory that contains a *hole* (a site-packages folder, the grader's
checkout, ...) is never granted as a whole: it is split into its children, recursively, and
the holes are left out (:func:`_decompose`).

The worker imports torch through ``<view>/site``, a folder of symlinks to the allowed
site-packages entries: Python lists that folder (the real site-packages folder it cannot
list), so an optional package that is installed but not allowed is simply "not installed".
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import re
import shutil
import site
import sys
import sysconfig
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import grader

Access = Literal["ro", "rw", "dev", "list"]
ROOTS = ("torch", "numpy")  # distributions the worker needs, with their dependencies
GRADER_DIR = Path(grader.__file__).resolve().parent
# Files of the standard library's folder that are never needed by the worker.
STDLIB_SKIP = {"site-packages", "dist-packages", "test", "idlelib", "turtledemo", "ensurepip"}
# Device nodes every Python process may use.
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
# Read-only kernel files torch's CPU detection reads (core counts, caches).
SYSTEM_INFO = (
    "/proc/cpuinfo",
    "/proc/meminfo",
    "/proc/self",
    "/sys/devices/system/cpu",
    "/sys/fs/cgroup/cpu.max",
)
# CUDA: the driver's device nodes (read, write and ioctl), its procfs entries and the PCI
# topology it reads, and the folders where the driver's user-space libraries live.
CUDA_DEVICE_GLOBS = ("nvidia*", "nvidia-caps/*", "dri/*")
CUDA_READ = ("/proc/driver/nvidia", "/sys/bus/pci", "/sys/devices", "/sys/module/nvidia")
CUDA_LIB_DIRS = (
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/local/cuda/lib64",
    "/usr/local/nvidia/lib64",
    "/usr/lib/wsl/lib",
)
LOADERS = ("/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1", "/lib/ld-linux.so.2")


@dataclass(frozen=True, order=True)
class Grant:
    path: str
    access: Access = "ro"


def _real(path: str | Path) -> Path | None:
    try:
        real = Path(path).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return real


def _requirements(dist: importlib.metadata.Distribution) -> list[str]:
    """Names of ``dist``'s unconditional requirements (markers evaluated, extras ignored)."""
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:  # pragma: no cover - pytest depends on packaging
        return [re.split(r"[ ;<>=!~\[]", r, maxsplit=1)[0] for r in dist.requires or []]
    names = []
    for text in dist.requires or []:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            names.append(req.name)
    return names


def _top_level_entries(dist: importlib.metadata.Distribution) -> set[Path]:
    """The site-packages entries (packages, modules, ``.libs``, dist-info) of ``dist``."""
    base = Path(str(dist.locate_file("")))
    record = dist.read_text("RECORD")
    if record:
        names = {line.split(",", 1)[0].split("/", 1)[0] for line in record.splitlines()}
        names = {n for n in names if n not in ("", "..", "__pycache__") and not n.endswith(".pth")}
    else:  # no RECORD (some system packages): fall back to the import names
        top = (dist.read_text("top_level.txt") or "").split()
        names = {*top, *(f"{n}.py" for n in top)}
    return {base / n for n in names if (base / n).exists()}


@functools.cache
def site_entries() -> tuple[Path, ...]:
    """Site-packages entries of torch, numpy and everything they require, transitively."""
    seen: set[str] = set()
    todo = list(ROOTS)
    entries: set[Path] = set()
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        entries |= _top_level_entries(dist)
        todo += _requirements(dist)
    return tuple(sorted(entries))


def site_dirs() -> list[Path]:
    """Every folder on this machine that Python installs packages into."""
    found = [*site.getsitepackages(), site.getusersitepackages()]
    found += [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    out = []
    for p in found:
        real = _real(p)
        if real is not None and real.is_dir():
            out.append(real)
    return out


def holes(extra: Iterable[Path] = ()) -> list[Path]:
    """Folders never granted as a whole: package folders, the grader and its checkout."""
    found = [*site_dirs(), GRADER_DIR, *extra]
    checkout = GRADER_DIR.parent
    if (checkout / "pyproject.toml").is_file() or (checkout / ".git").exists():
        found.append(checkout)  # a source checkout: solutions, tests, .git, references
    try:
        import reference

        found.append(Path(reference.__file__).resolve().parent)
    except ImportError:  # a student release has no references
        pass
    return sorted({p for p in (_real(f) for f in found) if p is not None})


def _decompose(path: Path, holes: list[Path], access: Access) -> list[Grant]:
    """Grant ``path`` -- or, when a hole lies beneath it, its children minus the holes."""
    if path in holes:
        return []
    if not path.is_dir() or not any(h.is_relative_to(path) for h in holes):
        return [Grant(str(path), access)]
    out: list[Grant] = []
    try:
        children = sorted(path.iterdir())
    except OSError:
        return []
    for child in children:
        real = _real(child)
        if real is None or real != child:
            continue  # a symlink: what it points to is granted (or not) on its own
        out += _decompose(child, holes, access)
    return out


def _library_dirs() -> list[Path]:
    """Folders of the shared libraries Python and torch load."""
    wanted = [
        "/lib",
        "/lib64",
        "/usr/lib",
        "/usr/lib64",
        sysconfig.get_config_var("LIBDIR") or "",
        "/etc/ld.so.cache",
        "/usr/share/zoneinfo",
    ]
    arch = sysconfig.get_config_var("MULTIARCH")
    if arch:
        wanted += [f"/lib/{arch}", f"/usr/lib/{arch}"]
    return [p for p in (_real(w) for w in wanted if w) if p is not None]


@functools.cache
def _static_grants(cuda: bool) -> tuple[Grant, ...]:
    """Everything but the per-worker view and scratch (costly to compute, so computed once)."""
    hole_list = holes()
    grants: set[Grant] = set()
    interpreter = _real(sys.executable)
    if interpreter is not None:
        grants.add(Grant(str(interpreter)))
    stdlib = {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
    for folder in (p for p in (_real(s) for s in stdlib) if p is not None):
        # Python's importer lists this folder once (before Landlock: the worker's boot
        # imports json) and again only after importlib.invalidate_caches(), which graded
        # code may not call. Listing is granted only where it shows no hole's contents.
        if not any(h.is_relative_to(folder) for h in hole_list):
            grants.add(Grant(str(folder), "list"))
        for child in sorted(folder.iterdir()):
            if child.name not in STDLIB_SKIP:
                grants.update(_decompose(child, hole_list, "ro"))
    for folder in _library_dirs():
        grants.update(_decompose(folder, hole_list, "ro"))
    for entry in site_entries():
        grants.add(Grant(str(entry)))
    for dev in DEVICES:
        if os.path.exists(dev):
            grants.add(Grant(dev, "dev"))
    for path in SYSTEM_INFO:
        if os.path.exists(path):
            grants.add(Grant(path))
    if cuda:
        grants.update(cuda_grants())
    return tuple(sorted(grants))


def cuda_grants() -> list[Grant]:
    """What the CUDA driver needs beyond CPU torch. Kept explicit: every entry is a reason."""
    out: list[Grant] = []
    dev = Path("/dev")
    for pattern in CUDA_DEVICE_GLOBS:
        out += [Grant(str(p), "dev") for p in sorted(dev.glob(pattern)) if not p.is_dir()]
    out += [Grant(p) for p in CUDA_READ if os.path.exists(p)]
    out += [Grant(p) for p in CUDA_LIB_DIRS if os.path.isdir(p)]
    return out


def static_grants(*, cuda: bool) -> list[Grant]:
    """What every worker may read, whatever its view and scratch (what a root judge checks
    an unprivileged uid can read before dropping to it)."""
    return list(_static_grants(cuda))


def grants(view: Path, scratch: Path, *, cuda: bool) -> list[Grant]:
    """The full allow-list of one worker: the static part, its view (ro), its scratch (rw)."""
    return [*_static_grants(cuda), Grant(str(view)), Grant(str(scratch), "rw")]


def loader_paths() -> list[str]:
    """Where the dynamic loader is (a symlink chain bwrap must recreate)."""
    return [p for p in LOADERS if os.path.lexists(p)]


# -- the worker view ---------------------------------------------------------------------------


def _worker_sources(scenarios: list[str]) -> list[Path]:
    """The grader files the worker runs: protocol, worker core, the course code several
    exercises' scenarios build with (``scenarios/common``), the named exercises' scenarios."""
    files = [GRADER_DIR / "__init__.py"]
    files += sorted((GRADER_DIR / "protocol").glob("*.py"))
    files += sorted((GRADER_DIR / "worker").glob("*.py"))
    files.append(GRADER_DIR / "worker" / "scenarios" / "__init__.py")
    files += sorted((GRADER_DIR / "worker" / "scenarios" / "common").glob("*.py"))
    for name in scenarios:
        own = GRADER_DIR / "worker" / "scenarios" / f"{name}.py"
        if own.is_file():
            files.append(own)
    return files


def _write_new(dir_fd: int, name: str, data: bytes) -> None:
    """Create ``name`` in the folder open as ``dir_fd``: never an existing file or a link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(name, flags, 0o644, dir_fd=dir_fd)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _mkdir_at(dir_fd: int, name: str) -> int:
    os.mkdir(name, 0o755, dir_fd=dir_fd)
    flags = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0)
    return os.open(name, flags, dir_fd=dir_fd)


def build_view(view: Path, *, scenarios: str, module: str, submission: bytes) -> None:
    """A worker started on its own: its grader files and its submission, in ``view``."""
    build_grader_view(view, [scenarios])
    build_submission_view(view, module=module, submission=submission)


def build_grader_view(view: Path, scenarios: list[str]) -> None:
    """Fill the new, empty folder ``view`` with the grader files a worker runs (protocol,
    worker core, the named exercises' scenarios) and ``site/``, links to the allowed
    site-packages entries.

    Every file is created through directory handles with ``O_EXCL | O_NOFOLLOW``: nothing is
    written through a link, even if a previous worker managed to plant one somewhere.
    """
    with _opened(view) as top:
        dirs: dict[Path, int] = {Path("."): top}
        opened: list[int] = []
        try:
            for src in _worker_sources(scenarios):
                rel = src.relative_to(GRADER_DIR.parent)
                parent = Path(".")
                for part in rel.parent.parts:
                    child = parent / part
                    if child not in dirs:
                        dirs[child] = _mkdir_at(dirs[parent], part)
                        opened.append(dirs[child])
                    parent = child
                _write_new(dirs[rel.parent], rel.name, src.read_bytes())
            site_fd = _mkdir_at(top, "site")
            opened.append(site_fd)
            for entry in site_entries():
                os.symlink(entry, entry.name, dir_fd=site_fd)
        finally:
            for fd in opened:
                os.close(fd)


def build_submission_view(view: Path, *, module: str, submission: bytes) -> None:
    """Add ``submission/<module>.py`` (the bytes the judge read) to the folder ``view``."""
    with _opened(view) as top:
        sub = _mkdir_at(top, "submission")
        try:
            _write_new(sub, f"{module}.py", submission)
        finally:
            os.close(sub)


@contextmanager
def _opened(folder: Path) -> Iterator[int]:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0))
    try:
        yield fd
    finally:
        os.close(fd)


def remove_tree(path: Path) -> None:
    """Remove a folder a worker could have written to: symlinks are removed, never followed."""
    if shutil.rmtree.avoids_symlink_attacks or not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:  # pragma: no cover - platforms without fd-based rmtree
        path.unlink(missing_ok=True)
