"""``grade release OUT_DIR``: the student repository, its recorded answers, and the audit that
it holds no answer.

What goes in, and whether the manifest marks it ``protected`` (students must not change it):

- ``exercises/exNN_<slug>.py`` and ``.ipynb`` of every exercise (not protected: students edit
  them);
- the ``grader`` package without instructor code, hidden suites, the class regrade
  (``grader/regrade``), the platform builders' commands (``grader/platforms/commands.py``) and
  other exercises' suites, helpers and scenarios (protected);
- ``grader/suites/expected/``: what the public suites compare with. There is no
  ``reference/`` in a release: the public suites are run here on the solutions, every answer
  they ask for is recorded (:mod:`grader.judge.expectations`), and the release replays them
  (protected);
- ``pyproject.toml`` and ``.github/workflows/classroom.yml`` when the course repository has one
  (protected), ``README.md`` and ``.gitignore`` for students (not protected);
- ``.trainloop/manifest.json``: every file above with its sha256 and ``protected`` flag.

The tree is built and audited (:func:`audit`) in a staging folder next to OUT_DIR, so a failed
release leaves OUT_DIR as it was. Then OUT_DIR is updated in place: the release writes its
own files and removes only files its previous manifest lists, so a ``.git``, a ``.venv`` or a
student's notes survive a re-release. It refuses (listing them) when files it would overwrite
or remove were changed since the last release and git does not hold those changes.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from grader.instructor import audit as answer_audit
from grader.instructor import stubs, sync
from grader.judge import exercises as exercise_index
from grader.judge.exercises import Exercise
from grader.judge.failures import GraderError
from grader.judge.scorecard import write_bytes_atomic

MARKER = ".trainloop-release"  # what `grade publish-solutions` marks its folders with
MANIFEST = Path(".trainloop") / "manifest.json"
MANIFEST_FORMAT = 1
EXPECTED = Path("grader") / "suites" / "expected"
TEMPLATES = Path(__file__).resolve().parent / "templates"
SKIP_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints"}
# Never in a release: answers, hidden tests, and commands students have no use for.
INSTRUCTOR_ONLY = (
    ("reference",),
    ("solutions",),
    ("grader", "instructor"),
    ("grader", "suites", "hidden"),
    ("grader", "regrade"),
    ("grader", "platforms", "commands.py"),
)
UNPROTECTED = re.compile(r"^(exercises/[^/]+|README\.md|\.gitignore)$")
DISTINCTIVE = 30  # characters: shorter solution lines (``return total``) prove nothing
DEFAULT_DEPENDENCIES = [
    "torch>=2.10",
    "numpy>=1.24",
    "pytest>=8",
    "nbformat>=5.9",
    "pydantic>=2.5,<3",
    "click>=8.1",
]


# A suite, helper or scenario of one exercise: a file named after it, or any file in a folder
# named after it (grader/suites/support/ex06_training_loop/events.py).
PER_EXERCISE = re.compile(r"^(test_)?(ex\d\d_[a-z0-9_]+)(\.py|\.expect)?$")


def _instructor_only(rel: Path) -> bool:
    return any(rel.parts[: len(p)] == p for p in INSTRUCTOR_ONLY)


def _shipped_grader_files(
    root: Path, modules: set[str], *, every_exercise: bool = False
) -> list[Path]:
    """The grader package minus instructor-only code and unreleased exercises' files."""
    grader_dir = root / "grader"
    out = []
    for path in sorted(grader_dir.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or SKIP_PARTS & set(rel.parts) or path.suffix == ".pyc":
            continue
        if _instructor_only(rel) or rel.parts[:3] == EXPECTED.parts:
            continue
        m = next(filter(None, map(PER_EXERCISE.match, rel.parts[2:])), None)
        if (
            m
            and not every_exercise
            and m.group(2) not in modules
            and rel.parts[1] in ("suites", "worker")
        ):
            continue  # a suite, helper or scenario of an exercise not in this release
        out.append(path)
    return out


def _dependencies(root: Path) -> list[str]:
    if sys.version_info < (3, 11):  # no tomllib (a version check, which mypy understands)
        return DEFAULT_DEPENDENCIES
    else:
        import tomllib

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
    """Everything but the recorded answers and the manifest."""
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


# -- recorded answers --------------------------------------------------------------------------
def record(
    root: Path,
    folder: Path,
    released: list[Exercise],
    *,
    isolation: str = "auto",
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, int]:
    """Grade each solution with the public suites, recording every answer they ask for, and
    write one expectation file per exercise (and the exercise index) to ``folder``; returns
    each file's size. Fails unless every public test passes: a test that stops early would
    leave answers unrecorded."""
    import grader
    from grader.instructor.verify import grade_each
    from grader.judge import expectations, runner

    opts = runner.Options(device="cpu", seed=0, isolation=isolation, visibilities=("public",))
    items = [(ex, root / "solutions" / f"{ex.module}.py") for ex in released]
    problems: list[str] = []
    with expectations.recording() as state:
        steps = grade_each(items, opts, lambda i: progress(f"recording {items[i][0].id}"))
        for (ex, _), card in zip(items, steps):
            if isinstance(card, str):
                problems.append(f"{ex.id}: grading the solution failed: {card}")
                continue
            problems += [
                f"{ex.id}: the solution fails {t.id} ({t.message.splitlines()[0][:120]})"
                for t in card.tests
                if t.status not in ("passed", "skipped")
            ]
    if problems:
        listed = "\n  ".join(problems[:20])
        raise GraderError(
            f"cannot record the public tests' answers: every public test must pass on the "
            f"solutions (run `grade verify`):\n  {listed}"
        )
    folder.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for ex in released:
        store = state.recorded.get(ex.module) or expectations.Store(ex.module)
        store.grader_version = grader.__version__
        path = folder / f"{ex.module}{expectations.SUFFIX}"
        path.write_bytes(store.to_bytes())
        sizes[path.name] = path.stat().st_size
    expectations.write_index(folder, [dataclasses.asdict(ex) for ex in released])
    return sizes


# -- the audit ---------------------------------------------------------------------------------
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

    A line is left out when code that ships on purpose contains it (a hint may quote a classic
    line) and when the solution has it outside its regions (the stub keeps that). Copies with
    other names or layout are the syntax-tree audit's job (:mod:`grader.instructor.audit`).
    """
    shipped = _shipped_grader_files(root, modules=set(), every_exercise=True)
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


def _code_of(path: Path, text: str) -> list[str]:
    """The Python sources in a file: itself, or a notebook's code cells."""
    if path.suffix == ".py":
        return [text]
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(text).get("cells", [])
        except (ValueError, AttributeError):
            return []
        sources = []
        for cell in cells:
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                source = cell.get("source", "")
                sources.append("".join(source) if isinstance(source, list) else str(source))
        return sources
    return []


def _check_expectations(path: Path, rel: Path) -> list[str]:
    """An expectation file must be plain recorded data where the release keeps them."""
    from grader.judge import expectations
    from grader.protocol.codec import ProtocolError

    if rel.parent != EXPECTED:
        return [f"{rel}: an expectation file outside {EXPECTED}"]
    try:
        expectations.load(path)
    except (ProtocolError, KeyError, TypeError, ValueError) as exc:
        return [f"{rel}: not a readable expectation file ({exc})"]
    return []


def audit(release: Path, root: Path) -> list[str]:
    """Everything in ``release`` that must not be there: answers (references, solutions, any
    function that is a solution function after renaming), hidden tests, instructor code.
    An empty list means the release is clean."""
    files = {
        path.relative_to(release): path
        for path in sorted(release.rglob("*"))
        if not (SKIP_PARTS | {".git"}) & set(path.relative_to(release).parts)
    }
    return audit_files(files, root)


def audit_files(files: dict[Path, Path], root: Path) -> list[str]:
    """:func:`audit` of ``files`` (path in the release -> file on disk)."""
    problems = []
    fingerprints = {
        "BEGIN SOLUTION": "a solution marker",
        "END SOLUTION": "a solution marker",
        **_hidden_fingerprints(root),
        **_solution_fingerprints(root),
    }
    answers = answer_audit.Answers.of(stubs.solution_files(root), root)
    for rel, path in files.items():
        if _instructor_only(rel):
            problems.append(f"{rel}: instructor-only path")
            continue
        if not path.is_file():
            continue
        if path.suffix == ".expect":
            problems += _check_expectations(path, rel)
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            problems.append(f"{rel}: not a text file, cannot be audited")
            continue
        for needle, origin in fingerprints.items():
            if needle in text:
                problems.append(f"{rel}: contains {needle!r} ({origin})")
        for source in _code_of(path, text):
            problems += [str(m) for m in answers.find(source, rel.as_posix())]
        if path.suffix == ".py":
            problems += [
                f"{rel}: imports {name} when loaded, which a release does not have"
                for name in _imports_left_out(text)
            ]
    return problems


LEFT_OUT_MODULES = tuple(".".join(p).removesuffix(".py") for p in INSTRUCTOR_ONLY)


def _imports_left_out(source: str) -> list[str]:
    """The modules left out of a release that a module imports as it loads (an import inside
    a function or a ``try`` is a choice made at run time, which a release can take)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in tree.body:
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
            names += [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if any(name == m or name.startswith(m + ".") for m in LEFT_OUT_MODULES):
                found.append(name)
                break
    return found


def audit_sources(root: Path, released: Iterable[Exercise] | None = None) -> list[str]:
    """:func:`audit` of the files ``grade release`` would copy from ``root`` (without
    building it or recording anything): what ``grade verify`` checks."""
    chosen = list(released) if released is not None else list(exercise_index.all_exercises())
    modules = {ex.module for ex in chosen}
    files = {p.relative_to(root): p for p in _shipped_grader_files(root, modules)}
    for ex in chosen:
        for suffix in (".py", ".ipynb"):
            path = root / "exercises" / f"{ex.module}{suffix}"
            files[path.relative_to(root)] = path
    return audit_files(files, root)


# -- writing OUT_DIR in place ------------------------------------------------------------------
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(out: Path) -> dict[str, dict[str, object]] | None:
    """The files of the release in ``out`` (None when ``out`` holds no release)."""
    path = out / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        if data.get("format") != MANIFEST_FORMAT or not isinstance(files, dict):
            raise ValueError("unknown format")
    except (ValueError, KeyError, TypeError) as exc:
        raise GraderError(f"{path} is not a manifest `grade release` can read ({exc})") from None
    return files


def manifest(files: dict[str, Path]) -> dict[str, object]:
    """The manifest of a release whose files are ``files`` (posix path -> file on disk)."""
    import grader

    return {
        "format": MANIFEST_FORMAT,
        "grader_version": grader.__version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": {
            rel: {"sha256": _sha256(path), "protected": not UNPROTECTED.match(rel)}
            for rel, path in sorted(files.items())
        },
    }


def _uncommitted(out: Path, rels: list[str]) -> set[str] | None:
    """Which of ``rels`` git reports as changed, staged or untracked in ``out`` (None: ``out``
    is not in a git work tree, or git is missing)."""
    if not rels:
        return set()
    try:
        top = subprocess.run(
            ["git", "-C", str(out), "rev-parse", "--show-toplevel"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        status = subprocess.run(
            ["git", "-C", str(out), "status", "--porcelain=v1", "-z", "--untracked-files=all",
             "--no-renames", "--", *rels],
            capture_output=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    base = out.resolve().relative_to(Path(top).resolve())
    changed = set()
    for entry in status.split(b"\0"):
        if len(entry) > 3:
            path = Path(entry[3:].decode("utf-8", "surrogateescape"))
            if path.is_relative_to(base):
                changed.add(path.relative_to(base).as_posix())
    return changed


def _conflicts(
    out: Path, previous: dict[str, dict[str, object]], new: dict[str, str], stale: list[str]
) -> list[str]:
    """Files the update would overwrite or remove that changed since the last release, with
    changes git does not hold (or at all, outside git)."""
    changed = []
    for rel in sorted({*new, *stale}):
        path = out / rel
        if not path.is_file() and not path.is_symlink():
            continue
        if path.is_symlink() or path.is_dir():
            changed.append(rel)
            continue
        now = _sha256(path)
        if now == new.get(rel) or now == (previous.get(rel) or {}).get("sha256"):
            continue  # what this release writes, or as the last release left it
        changed.append(rel)
    uncommitted = _uncommitted(out, changed)
    return changed if uncommitted is None else [r for r in changed if r in uncommitted]


def _check_target(root: Path, out: Path, force: bool) -> dict[str, dict[str, object]]:
    """The previous release's files in ``out`` ({} for an empty or new folder)."""
    root, out = root.resolve(), out.resolve()
    if out == root or out in root.parents:
        raise GraderError(f"{out} holds the course repository; choose an empty folder")
    for folder in ("grader", "reference", "exercises", "solutions"):
        if (root / folder) in [out, *out.parents]:
            raise GraderError(f"{out} is inside {root / folder}; choose a folder outside it")
    if out.exists() and not out.is_dir():
        raise GraderError(f"{out} exists and is not a folder")
    if not out.is_dir() or not [p for p in out.iterdir() if p.name != ".git"]:
        return {}
    previous = read_manifest(out)
    if previous is None:
        raise GraderError(
            f"{out} is not empty and was not built by `grade release` (no {MANIFEST}); "
            "refusing to write into it: choose another folder"
        )
    if not force:
        raise GraderError(f"{out} holds an earlier release; pass --force to update it in place")
    return previous


def _place(src: Path, dst: Path) -> None:
    """Write ``src``'s bytes and permissions to ``dst`` atomically (never half a file)."""
    write_bytes_atomic(dst, src.read_bytes(), stat.S_IMODE(src.stat().st_mode))


def _remove(out: Path, rels: Iterable[str]) -> None:
    """Remove the files, then the folders they leave empty (never ``out`` itself)."""
    folders = set()
    for rel in rels:
        path = out / rel
        if path.is_file() or path.is_symlink():
            path.unlink()
            folders |= {p for p in path.parents if p != out and out in p.parents}
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


@dataclass
class Release:
    files: list[Path]  # every file the release wrote (its manifest too)
    removed: list[str]  # files of the previous release it removed
    expected_bytes: int  # the recorded answers' size


def build(
    root: Path,
    out: Path,
    *,
    force: bool = False,
    only: list[Exercise] | None = None,
    isolation: str = "auto",
    progress: Callable[[str], None] = lambda _: None,
) -> Release:
    """Write (or update) the student repository in ``out`` with every exercise (or ``only``
    these). Raises GraderError, changing nothing in ``out``, when an input is missing, a
    solution fails a public test, the audit finds anything, or files it would overwrite hold
    uncommitted changes."""
    previous = _check_target(root, out, force)
    released = list(only) if only is not None else list(exercise_index.all_exercises())
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        _populate(root, staging, released)
        sizes = record(root, staging / EXPECTED, released, isolation=isolation, progress=progress)
        problems = audit(staging, root)
        if problems:
            listed = "\n  ".join(problems[:20])
            raise GraderError(f"the release would leak instructor material:\n  {listed}")
        new = {
            p.relative_to(staging).as_posix(): p for p in sorted(staging.rglob("*")) if p.is_file()
        }
        shas = {rel: _sha256(path) for rel, path in new.items()}
        stale = sorted(set(previous) - set(new))
        conflicts = _conflicts(out, previous, shas, stale)
        if conflicts:
            listed = "\n  ".join(conflicts[:40])
            raise GraderError(
                f"{out} has uncommitted changes to files the release would overwrite or "
                f"remove; commit or move them first:\n  {listed}"
            )
        (staging / MANIFEST).parent.mkdir(parents=True, exist_ok=True)
        (staging / MANIFEST).write_text(json.dumps(manifest(new), indent=1) + "\n")
        out.mkdir(exist_ok=True)
        for rel, path in new.items():
            target = out / rel
            if not target.is_file() or target.is_symlink() or _sha256(target) != shas[rel]:
                _place(path, target)
        _remove(out, stale)
        _place(staging / MANIFEST, out / MANIFEST)  # last: it records a finished release
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Release(
        files=[out / rel for rel in new] + [out / MANIFEST],
        removed=stale,
        expected_bytes=sum(sizes.values()),
    )
