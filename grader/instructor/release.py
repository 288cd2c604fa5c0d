"""``grade release OUT_DIR``: the student repository, and the audit that it leaks nothing.

What goes in:

- ``exercises/exNN_<slug>.py`` and ``.ipynb`` of every exercise;
- the ``grader`` package without ``grader/instructor`` and ``grader/suites/hidden``;
- ``reference/`` (the public tests compare with it);
- ``README.md``, ``pyproject.toml`` and ``.gitignore`` for students, and
  ``.github/workflows/classroom.yml`` when the course repository has one.

The tree is built in a temporary folder next to OUT_DIR, audited (:func:`audit`), and only then
moved into place, so a failed release leaves nothing half-written behind.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from grader.instructor import stubs, sync
from grader.judge import exercises as exercise_index
from grader.judge.exercises import Exercise
from grader.judge.failures import GraderError

MARKER = ".trainloop-release"
TEMPLATES = Path(__file__).resolve().parent / "templates"
SKIP_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints"}
DISTINCTIVE = 30  # characters: shorter solution lines (``return total``) prove nothing
DEFAULT_DEPENDENCIES = [
    "torch>=2.10",
    "numpy>=1.24",
    "pytest>=8",
    "nbformat>=5.9",
    "pydantic>=2.5,<3",
    "click>=8.1",
]


PER_EXERCISE = re.compile(r"^(test_)?(ex\d\d_[a-z0-9_]+)\.py$")


def _shipped_grader_files(
    root: Path, modules: set[str], *, every_exercise: bool = False
) -> list[Path]:
    """The grader package minus instructor code, hidden suites and unreleased exercises."""
    grader_dir = root / "grader"
    out = []
    for path in sorted(grader_dir.rglob("*")):
        rel = path.relative_to(grader_dir)
        if not path.is_file() or SKIP_PARTS & set(rel.parts) or path.suffix == ".pyc":
            continue
        if rel.parts[0] == "instructor" or rel.parts[:2] == ("suites", "hidden"):
            continue
        m = PER_EXERCISE.match(path.name)
        if (
            m
            and not every_exercise
            and m.group(2) not in modules
            and rel.parts[0]
            in (
                "suites",
                "worker",
            )
        ):
            continue  # a suite, helper or scenario of an exercise not in this release
        out.append(path)
    return out


def _dependencies(root: Path) -> list[str]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        return DEFAULT_DEPENDENCIES
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
        return list(data["project"]["dependencies"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return DEFAULT_DEPENDENCIES


def _exercise_table(released: list[Exercise]) -> str:
    rows = ["| exercise | file | topic |", "|---|---|---|"]
    for ex in released:
        rows.append(f"| `{ex.id}` | `exercises/{ex.module}.py` (or `.ipynb`) | {ex.title} |")
    return "\n".join(rows)


def _render(name: str, **values: str) -> str:
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _check_in_sync(root: Path, released: list[Exercise]) -> None:
    """Refuse to ship stubs that differ from what their solutions generate."""
    stale = []
    for ex in released:
        solution = root / "solutions" / f"{ex.module}.py"
        if not solution.is_file():
            raise GraderError(f"solutions/{solution.name} is missing")
        for path, text in sync.expected_for(root, solution).items():
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path.relative_to(root)))
    if stale:
        raise GraderError(
            f"{', '.join(stale)} out of date with solutions/: run `grade stubs` (and "
            "`grade verify`) before releasing"
        )


def _populate(root: Path, out: Path, released: list[Exercise]) -> None:
    import grader

    if not released:
        raise GraderError("there are no exercises to release (reference/ has no exNN_*.py)")
    modules = {ex.module for ex in released}
    _check_in_sync(root, released)
    for ex in released:
        for suffix in (".py", ".ipynb"):
            src = root / "exercises" / f"{ex.module}{suffix}"
            if not src.is_file():
                raise GraderError(
                    f"exercises/{src.name} is missing: run `grade stubs` (and `grade verify`) "
                    "before releasing"
                )
            _copy(src, out / "exercises" / src.name)
    for path in _shipped_grader_files(root, modules):
        _copy(path, out / path.relative_to(root))
    for path in sorted((root / "reference").glob("*.py")):
        m = PER_EXERCISE.match(path.name)
        if not m or m.group(2) in modules:
            _copy(path, out / "reference" / path.name)
    workflow = root / ".github" / "workflows" / "classroom.yml"
    if workflow.is_file():
        _copy(workflow, out / ".github" / "workflows" / "classroom.yml")
    deps = "\n".join(f'    "{d}",' for d in _dependencies(root))
    (out / "pyproject.toml").write_text(
        _render("pyproject.toml.in", version=grader.__version__, dependencies=deps),
        encoding="utf-8",
    )
    (out / "README.md").write_text(
        _render(
            "README.md",
            exercises=_exercise_table(released),
            first_id=released[0].id,
            first_module=released[0].module,
        ),
        encoding="utf-8",
    )
    (out / ".gitignore").write_text(_render("gitignore"), encoding="utf-8")
    (out / MARKER).write_text("built by `grade release`; safe to delete\n", encoding="utf-8")


def _hidden_fingerprints(root: Path) -> dict[str, str]:
    """Test function names that only hidden suites have -> the suite they come from."""
    public_names: set[str] = set()
    for suite in (root / "grader" / "suites" / "public").glob("test_*.py"):
        public_names |= set(re.findall(r"def (test_\w+)", suite.read_text(encoding="utf-8")))
    found = {}
    for suite in (root / "grader" / "suites" / "hidden").glob("test_*.py"):
        for name in re.findall(r"def (test_\w+)", suite.read_text(encoding="utf-8")):
            if name not in public_names:
                found[f"def {name}("] = f"hidden suite {suite.name}"
    return found


def _solution_fingerprints(root: Path) -> dict[str, str]:
    """Distinctive lines of every solution region -> the solution they come from.

    A line is left out when text that ships on purpose contains it: the grader package and the
    references (a judge helper may compute a finite difference the same way, a hint may quote
    a classic line) and the solution outside its regions (the stub keeps that).
    """
    shipped = [
        *_shipped_grader_files(root, modules=set(), every_exercise=True),
        *(root / "reference").glob("*.py"),
    ]
    public_text = [p.read_text(encoding="utf-8") for p in shipped if p.suffix == ".py"]
    found = {}
    for solution in stubs.solution_files(root):
        source = solution.read_text(encoding="utf-8")
        lines = source.splitlines()
        regions = stubs.regions(source, str(solution))
        inside = {n for r in regions for n in range(r.begin, r.end + 1)}
        outside = "\n".join(line for n, line in enumerate(lines, 1) if n not in inside)
        for region in regions:
            for number in range(region.begin + 1, region.end):
                text = lines[number - 1].strip()
                if len(text) < DISTINCTIVE or text.startswith("#") or text in outside:
                    continue
                if not any(text in shared for shared in public_text):
                    found[text] = f"solutions/{solution.name} line {number}"
    return found


def audit(release: Path, root: Path) -> list[str]:
    """Everything in ``release`` that must not be there: hidden tests, solutions, instructor
    code. An empty list means the release is clean."""
    problems = []
    forbidden_dirs = {("grader", "instructor"), ("grader", "suites", "hidden"), ("solutions",)}
    fingerprints = {
        "BEGIN SOLUTION": "a solution marker",
        "END SOLUTION": "a solution marker",
        **_hidden_fingerprints(root),
        **_solution_fingerprints(root),
    }
    for path in sorted(release.rglob("*")):
        rel = path.relative_to(release)
        if any(rel.parts[: len(d)] == d for d in forbidden_dirs):
            problems.append(f"{rel}: instructor-only path")
            continue
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            problems.append(f"{rel}: not a text file, cannot be audited")
            continue
        for needle, origin in fingerprints.items():
            if needle in text:
                problems.append(f"{rel}: contains {needle!r} ({origin})")
    return problems


def _check_target(root: Path, out: Path, force: bool) -> None:
    root, out = root.resolve(), out.resolve()
    if out == root or out in root.parents:
        raise GraderError(f"{out} holds the course repository; choose an empty folder")
    for folder in ("grader", "reference", "exercises", "solutions"):
        if (root / folder) in [out, *out.parents]:
            raise GraderError(f"{out} is inside {root / folder}; choose a folder outside it")
    if out.exists() and not out.is_dir():
        raise GraderError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise GraderError(
                f"{out} is not empty; pass --force to replace an earlier release there"
            )
        if not (out / MARKER).is_file():
            raise GraderError(
                f"{out} is not empty and was not built by `grade release` (no {MARKER}); "
                "refusing to delete it: choose another folder"
            )


def build(
    root: Path, out: Path, *, force: bool = False, only: list[Exercise] | None = None
) -> list[Path]:
    """Write the student repository to ``out`` with every exercise (or ``only`` these);
    returns its files. Raises GraderError, writing nothing, when an input is missing or the
    audit finds anything."""
    _check_target(root, out, force)
    released = list(only) if only is not None else list(exercise_index.all_exercises())
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        _populate(root, staging, released)
        problems = audit(staging, root)
        if problems:
            listed = "\n  ".join(problems[:20])
            raise GraderError(f"the release would leak instructor material:\n  {listed}")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(p for p in out.rglob("*") if p.is_file())
