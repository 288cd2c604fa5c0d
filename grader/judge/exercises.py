"""Which exercises exist, found from the files that make them up.

An exercise NN is the set ``exercises/exNN_<slug>.py`` (stub), ``solutions/exNN_<slug>.py``,
``reference/exNN_<slug>.py`` and the suites ``grader/suites/{public,hidden}/test_exNN_<slug>.py``.
The reference module declares ``TITLE``, ``FORBIDDEN`` (dotted names the student may not
call), ``AUDIT`` (what the judge's source audit allows: see ``grader/judge/audit/``) and
``IN_PLACE`` (the functions whose contract is to change their tensor arguments, such as
``clip_grad_norm``) as literals; they are read with ``ast`` so listing exercises imports
nothing heavy.

A student release has no ``reference/``: ``grade release`` writes every exercise's fields to
``grader/suites/expected/exercises.json``, next to the recorded answers that stand in for the
references there (see :mod:`grader.judge.expectations`).
"""

from __future__ import annotations

import ast
import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from grader.judge.failures import GraderError

SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"
RELEASE_INDEX = SUITES_DIR / "expected" / "exercises.json"  # only in a student release


def _reference_dir() -> Path:
    if RELEASE_INDEX.is_file():  # a release: never import a `reference` a student may add
        return RELEASE_INDEX.parent
    import reference

    return Path(reference.__file__).resolve().parent


REFERENCE_DIR = _reference_dir()
LITERALS = ("TITLE", "FORBIDDEN", "AUDIT", "IN_PLACE")

# The one file-name rule of the course: exercise NN's files are ``exNN_<slug>.py`` (stub,
# solution, reference, a student's work) or ``exNN_<slug>.ipynb`` (a student's notebook).
FILE_NAME = re.compile(r"^ex(\d\d)_([a-z0-9_]+)\.(py|ipynb)$")
FILE_SUFFIXES = (".py", ".ipynb")


def parse_file_name(name: str) -> tuple[int, str, str] | None:
    """``(number, slug, suffix)`` of an exercise file name (``ex03_gradient_clipping.py`` ->
    ``(3, "gradient_clipping", ".py")``), or None if ``name`` does not follow the rule."""
    m = FILE_NAME.match(name)
    return (int(m.group(1)), m.group(2), f".{m.group(3)}") if m else None


def file_glob(number: int | None = None, suffix: str = ".py") -> str:
    """A glob for exercise files: every exercise's (``ex[0-9][0-9]_*.py``) or one's
    (``ex03_*.py``). It over-matches; filter with :func:`parse_file_name`."""
    prefix = "ex[0-9][0-9]" if number is None else f"ex{number:02d}"
    return f"{prefix}_*{suffix}"


@dataclass(frozen=True)
class Exercise:
    number: int
    slug: str
    title: str
    forbidden: tuple[str, ...]
    # The source audit's policy, from the reference's AUDIT literal. None: the course baseline.
    audit_imports: tuple[str, ...] | None = None
    audit_extras: tuple[str, ...] = ()
    audit_why: str = ""
    audit_instead: str = ""
    # Functions whose changes to their tensor arguments are part of the contract: only these
    # changes reach the judge's own tensors (every other call leaves them pristine).
    in_place: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"exercise-{self.number}"

    @property
    def module(self) -> str:
        return f"ex{self.number:02d}_{self.slug}"

    def file_name(self, suffix: str = ".py") -> str:
        """This exercise's file name under the course's rule (see :data:`FILE_NAME`)."""
        return f"{self.module}{suffix}"

    def suite(self, visibility: str) -> Path:
        return SUITES_DIR / visibility / f"test_{self.module}.py"

    def suites(self) -> dict[str, Path]:
        found = {v: self.suite(v) for v in ("public", "hidden")}
        return {v: p for v, p in found.items() if p.is_file()}


def _literals(path: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in LITERALS:
            out[target.id] = ast.literal_eval(value)
    return out


def _items(value: object) -> Iterable[object]:
    """A literal's elements (list, tuple, set); an empty or None value has none. Anything else
    is refused as iterating it would be (TypeError)."""
    if not value:
        return ()
    if not isinstance(value, Iterable):
        raise TypeError(f"{type(value).__name__!r} object is not iterable")
    return value


def _names(value: object) -> tuple[str, ...]:
    """A list of names, or one string of names separated by spaces, as a tuple."""
    if isinstance(value, str):
        return tuple(value.split())
    return tuple(str(x) for x in _items(value))


class _AuditFields(TypedDict, total=False):
    """The Exercise fields an ``AUDIT`` literal may set (an absent key keeps the default)."""

    audit_imports: tuple[str, ...]
    audit_extras: tuple[str, ...]
    audit_why: str
    audit_instead: str


def _audit_fields(audit: object) -> _AuditFields:
    """The Exercise fields of a reference's ``AUDIT`` dict (absent keys keep the defaults)."""
    if not isinstance(audit, dict):
        return {}
    fields: _AuditFields = {}
    if "imports" in audit:  # a whole list, instead of the baseline
        fields["audit_imports"] = _names(audit["imports"])
    elif "imports_add" in audit or "imports_drop" in audit:
        from grader.judge.audit.policy import BASELINE_IMPORTS

        drop = set(_names(audit.get("imports_drop", ())))
        kept = [m for m in BASELINE_IMPORTS if m not in drop]
        fields["audit_imports"] = (*kept, *_names(audit.get("imports_add", ())))
    if "extras" in audit:
        fields["audit_extras"] = _names(audit["extras"])
    if "why" in audit:
        fields["audit_why"] = str(audit["why"])
    if "instead" in audit:
        fields["audit_instead"] = str(audit["instead"])
    return fields


def _from_index(entry: dict[str, Any]) -> Exercise:
    """An Exercise from its entry in the release index (JSON lists back as tuples)."""
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()}
    return Exercise(**fields)


@functools.lru_cache(maxsize=1)
def all_exercises() -> tuple[Exercise, ...]:
    if RELEASE_INDEX.is_file():
        index = json.loads(RELEASE_INDEX.read_text(encoding="utf-8"))
        return tuple(_from_index(e) for e in index["exercises"])
    found = []
    for path in sorted(REFERENCE_DIR.glob(file_glob())):
        parsed = parse_file_name(path.name)
        if parsed is None or parsed[2] != ".py":
            continue
        number, slug, _ = parsed
        meta = _literals(path)
        found.append(
            Exercise(
                number=number,
                slug=slug,
                title=str(meta.get("TITLE", slug.replace("_", " ").capitalize())),
                forbidden=tuple(str(x) for x in _items(meta.get("FORBIDDEN", ()))),
                in_place=_names(meta.get("IN_PLACE", ())),
                **_audit_fields(meta.get("AUDIT")),
            )
        )
    return tuple(sorted(found, key=lambda e: e.number))


def find(name: str) -> Exercise:
    """Look an exercise up the ways a student writes it: ``exercise-3``, ``exercise3``,
    ``3``, ``03``, ``ex3``, ``ex03``, its slug (``gradient_clipping``), its file name, or a
    path to its file (``exercises/ex03_gradient_clipping.ipynb``)."""
    key = _key(name)
    for ex in all_exercises():
        numbers = (str(ex.number), f"{ex.number:02d}")
        prefixes = ("", "ex", "ex_", "exercise", "exercise_")
        aliases = {f"{p}{n}" for p in prefixes for n in numbers} | {ex.slug, ex.module}
        if key in aliases:
            return ex
    known = ", ".join(e.id for e in all_exercises())
    raise GraderError(f"no exercise called {name!r}. Known exercises: {known} (see `grade list`)")


def _key(name: str) -> str:
    """``name`` reduced to what :func:`find` compares: a path's file name without its
    suffix, lower case, ``-`` and spaces as ``_``."""
    key = name.strip().replace("\\", "/").rsplit("/", 1)[-1].lower()
    for suffix in FILE_SUFFIXES:
        key = key.removesuffix(suffix)
    return key.replace("-", "_").replace(" ", "_")
