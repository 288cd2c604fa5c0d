"""Finding and vetting the student's file for one exercise, without running any of it.

A submission is a ``.py`` file, or a folder holding ``exNN_<slug>.py``. The judge reads it as
text only: it hashes it and parses it (``ast``, no execution) so a syntax error becomes one
clear message naming the line, instead of a traceback from the worker.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from grader.judge.exercises import Exercise

MAX_SOURCE_BYTES = 2 << 20


@dataclass
class Resolved:
    path: Path  # what the user pointed at, resolved to this exercise's file where possible
    file: Path | None = None  # the Python source to load in the worker
    sha256: str | None = None
    error: str | None = None  # why this submission cannot be graded at all
    notes: list[str] = field(default_factory=list)


def resolve(ex: Exercise, root: Path) -> Resolved:
    """The file for ``ex`` under ``root`` (a folder or a file), checked but never executed."""
    root = Path(root)
    if root.is_dir():
        candidate = root / f"{ex.module}.py"
        if not candidate.is_file():
            return Resolved(
                candidate,
                error=f"no file {candidate}: save your work for {ex.id} as {ex.module}.py "
                f"in {root}",
            )
        return vet(Resolved(candidate, file=candidate))
    if not root.exists():
        return Resolved(root, error=f"{root} does not exist")
    if root.suffix != ".py":
        return Resolved(root, error=f"{root} is not a Python file (.py) or a folder")
    return vet(Resolved(root, file=root))


def vet(sub: Resolved) -> Resolved:
    """Hash and parse ``sub.file``; sets ``sub.error`` for unreadable or unparsable files."""
    assert sub.file is not None
    try:
        data = sub.file.read_bytes()
    except OSError as exc:
        sub.error = f"cannot read {sub.file}: {exc.strerror}"
        return sub
    sub.sha256 = hashlib.sha256(data).hexdigest()
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
    return sub
