"""Finding and vetting the student's file for one exercise, without running any of it.

A submission is a ``.py`` file, a Jupyter notebook (``.ipynb``), or a folder holding
``exNN_<slug>.py`` (or, when there is no ``.py``, ``exNN_<slug>.ipynb``). The judge reads it as
text only: it hashes it and parses it (``ast``, no execution) so a syntax error becomes one
clear message naming the line, instead of a traceback from the worker.

A notebook is turned into a ``.py`` text here, and the worker imports that text like any other
submission (see :mod:`grader.judge.notebook_source`). Nothing in the notebook is executed by
the judge.
"""

from __future__ import annotations

import ast
import atexit
import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.judge.exercises import FILE_SUFFIXES, Exercise, file_glob
from grader.judge.notebook_source import MAX_NOTEBOOK_BYTES, NotebookError, notebook_to_python

MAX_SOURCE_BYTES = 2 << 20


@dataclass
class Resolved:
    path: Path  # what the user pointed at, resolved to this exercise's file where possible
    file: Path | None = None  # the Python source to load in the worker
    data: bytes | None = None  # its bytes, read once: the worker gets a copy of exactly these
    sha256: str | None = None
    error: str | None = None  # why this submission cannot be graded at all
    notes: list[str] = field(default_factory=list)


def resolve(ex: Exercise, root: Path) -> Resolved:
    """The file for ``ex`` under ``root`` (a folder or a file), checked but never executed."""
    root = Path(root)
    if root.is_dir():
        candidate = root / ex.file_name(".py")
        notebooks = _notebooks_for(ex, root)
        if candidate.is_file():
            sub = vet(Resolved(candidate, file=candidate))
            if notebooks and _more_work_in(notebooks[0], than=candidate, ex=ex):
                sub.notes.append(
                    f"graded {candidate.name}, but {notebooks[0].name} in the same folder has "
                    "more functions written. To grade the notebook: "
                    f"grade {ex.id} --submission {notebooks[0]}"
                )
            return sub
        if len(notebooks) == 1:
            return resolve_notebook(ex, notebooks[0])
        if len(notebooks) > 1:
            names = ", ".join(p.name for p in notebooks)
            return Resolved(
                root,
                error=f"{root} holds several notebooks for {ex.id} ({names}) and no "
                f"{ex.file_name()}: pass the one to grade with --submission",
            )
        return Resolved(
            candidate,
            error=f"no file {candidate}: save your work for {ex.id} as {ex.file_name()} "
            f"(or {ex.file_name('.ipynb')}) in {root}",
        )
    if not root.exists():
        return Resolved(root, error=f"{root} does not exist")
    if root.suffix == ".ipynb":
        return resolve_notebook(ex, root)
    if root.suffix != ".py":
        return Resolved(
            root, error=f"{root} is not a Python file (.py), a notebook (.ipynb) or a folder"
        )
    return vet(Resolved(root, file=root))


def exercise_files(folder: Path) -> list[Path]:
    """The files in ``folder`` that could be some exercise's submission (``exNN_*.py`` or
    ``.ipynb``): none means the student pointed at the wrong folder."""
    return sorted(
        p for suffix in FILE_SUFFIXES for p in folder.glob(file_glob(None, suffix)) if p.is_file()
    )


def _more_work_in(notebook: Path, *, than: Path, ex: Exercise) -> bool:
    """Whether ``notebook`` has fewer unwritten stubs (``exercise-N: write ...``) than the
    ``.py`` -- the sign of a student who works in the notebook and forgot ``--submission``."""
    marker = f"{ex.id}: write "
    try:
        return notebook.read_text(encoding="utf-8", errors="replace").count(marker) < (
            than.read_text(encoding="utf-8", errors="replace").count(marker)
        )
    except OSError:
        return False


def _notebooks_for(ex: Exercise, folder: Path) -> list[Path]:
    """``exNN_*.ipynb`` in ``folder``, the exactly-named one first (a browser's
    ``exNN_<slug> (1).ipynb`` counts too)."""
    found = sorted(p for p in folder.glob(file_glob(ex.number, ".ipynb")) if p.is_file())
    exact = [p for p in found if p.stem == ex.module]
    return exact + [p for p in found if p.stem != ex.module]


def resolve_notebook(ex: Exercise, path: Path) -> Resolved:
    """Turn the notebook at ``path`` into a ``.py`` text in a scratch folder and vet that."""
    sub = Resolved(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        sub.error = f"cannot read {path}: {exc.strerror}"
        return sub
    sub.sha256 = hashlib.sha256(data).hexdigest()
    if len(data) > MAX_NOTEBOOK_BYTES:
        sub.error = (
            f"{path.name} is {len(data) >> 20} MiB; notebooks are limited to "
            f"{MAX_NOTEBOOK_BYTES >> 20} MiB: clear the outputs (Edit > Clear All Outputs), "
            "save and grade again"
        )
        return sub
    try:
        converted = notebook_to_python(data, path.name)
    except NotebookError as exc:
        sub.error = str(exc)
        return sub
    target = _scratch() / ex.file_name()
    target.write_text(converted.source, encoding="utf-8")
    sub.file = target
    vet(sub)
    sub.sha256 = hashlib.sha256(data).hexdigest()  # the notebook's hash, not the converted text
    sub.notes.extend(converted.notes)
    return sub


_SCRATCH: list[Path] = []


def _scratch() -> Path:
    """A private folder for converted notebooks, removed when the judge exits."""
    if not _SCRATCH:
        folder = Path(tempfile.mkdtemp(prefix="tlg-notebooks-"))
        atexit.register(cleanup)
        _SCRATCH.append(folder)
    return Path(tempfile.mkdtemp(dir=_SCRATCH[0]))


def cleanup() -> None:
    """Remove the converted notebooks (the CLI calls it too: a fast exit skips atexit)."""
    while _SCRATCH:
        shutil.rmtree(_SCRATCH.pop(), ignore_errors=True)


def vet(sub: Resolved) -> Resolved:
    """Hash and parse ``sub.file``; sets ``sub.error`` for unreadable or unparsable files."""
    assert sub.file is not None
    try:
        data = sub.file.read_bytes()
    except OSError as exc:
        sub.error = f"cannot read {sub.file}: {exc.strerror}"
        return sub
    sub.sha256 = hashlib.sha256(data).hexdigest()
    sub.data = data
    if len(data) > MAX_SOURCE_BYTES:
        sub.error = f"{sub.file} is {len(data)} bytes; submissions are limited to 2 MiB"
        return sub
    try:
        ast.parse(data, filename=str(sub.file))
    except SyntaxError as exc:
        line = (exc.text or "").rstrip()
        caret = f"\n    {line}" if line else ""
        sub.error = (
            f"{sub.file.name} has a syntax error on line {exc.lineno}: {exc.msg}{caret}\n"
            "fix it (your editor or `python -m py_compile FILE` shows where) and grade again"
        )
    except ValueError as exc:  # e.g. null bytes
        sub.error = f"{sub.file.name} cannot be parsed as Python: {exc}"
    except (RecursionError, MemoryError):
        sub.error = (
            f"{sub.file.name} is nested too deeply for Python to read (an expression or block "
            "thousands of levels deep); split it into smaller steps and grade again"
        )
    return sub
