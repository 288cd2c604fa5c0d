"""Which exercises exist, found from the files that make them up.

An exercise NN is the set ``exercises/exNN_<slug>.py`` (stub), ``solutions/exNN_<slug>.py``,
``reference/exNN_<slug>.py`` and the suites ``grader/suites/{public,hidden}/test_exNN_<slug>.py``.
The reference module declares ``TITLE`` and ``FORBIDDEN`` (dotted names the student may not
call) as literals; they are read with ``ast`` so listing exercises imports nothing heavy.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import reference
from grader.judge.failures import GraderError

SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"
REFERENCE_DIR = Path(reference.__file__).resolve().parent
NAME = re.compile(r"^ex(\d\d)_([a-z0-9_]+)\.py$")


@dataclass(frozen=True)
class Exercise:
    number: int
    slug: str
    title: str
    forbidden: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"exercise-{self.number}"

    @property
    def module(self) -> str:
        return f"ex{self.number:02d}_{self.slug}"

    def suite(self, visibility: str) -> Path:
        return SUITES_DIR / visibility / f"test_{self.module}.py"

    def suites(self) -> dict[str, Path]:
        found = {v: self.suite(v) for v in ("public", "hidden")}
        return {v: p for v, p in found.items() if p.is_file()}


def _literals(path: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in ("TITLE", "FORBIDDEN"):
                out[target.id] = ast.literal_eval(node.value)
    return out


@functools.lru_cache(maxsize=1)
def all_exercises() -> tuple[Exercise, ...]:
    found = []
    for path in sorted(REFERENCE_DIR.glob("ex*_*.py")):
        m = NAME.match(path.name)
        if not m:
            continue
        meta = _literals(path)
        found.append(
            Exercise(
                number=int(m.group(1)),
                slug=m.group(2),
                title=str(meta.get("TITLE", m.group(2).replace("_", " ").capitalize())),
                forbidden=tuple(str(x) for x in meta.get("FORBIDDEN", ()) or ()),  # type: ignore[union-attr]
            )
        )
    return tuple(sorted(found, key=lambda e: e.number))


def find(name: str) -> Exercise:
    """Look an exercise up by ``exercise-3``, ``3``, ``ex03``, its slug or its module name."""
    key = name.strip().lower().replace("-", "_")
    for ex in all_exercises():
        aliases = {
            f"exercise_{ex.number}",
            str(ex.number),
            f"{ex.number:02d}",
            f"ex{ex.number:02d}",
            ex.slug,
            ex.module,
            f"{ex.module}.py",
        }
        if key in aliases:
            return ex
    known = ", ".join(e.id for e in all_exercises())
    raise GraderError(f"no exercise called {name!r}. Known exercises: {known} (see `grade list`)")
